"""rnnlens vqa-realcheck: the photo-world VQA model on real photos it never trained on (core.vqa.realcheck)."""
import argparse
import random
import sys

import torch

from core.charlm.sample import MAX_SEED
from core.cli.args import add_threads_arg, fail
from core.common.config_args import bounded
from core.vision.checksets import check_set
from core.vision.encoder import Encoder
from core.vision.faces import load_detector
from core.vqa.checkpoint import VQACheckpointError, load_checked
from core.vqa.photo_data import ENCODER_STAGE
from core.vqa.photo_questions import categories
from core.vqa.pipeline import choose_open, encode_image, open_answer
from core.vqa.realcheck import CHECKS, ask_about, is_right


def parser() -> argparse.ArgumentParser:
    """The vqa-realcheck command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens vqa-realcheck", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="checkpoints/vqa-photos")
    p.add_argument("--set", choices=["dev", "gcompris"], default="dev",
                   help="the captioner's check set (dev, or gcompris after `rnnlens caption-realcheck fetch`)")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0,
                   help="draws the distractors and the absent nouns")
    p.add_argument("--naming", action=argparse.BooleanOptionalAction, default=True,
                   help="the open answer re-read from the open vocabulary under the last hop's attention")
    add_threads_arg(p, default=2)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print each photo's four answers, then each check's count of right answers."""
    a = parser().parse_args(argv)
    try:
        ckpt = load_checked(a.model)
        if ckpt.model.cfg.encoder != ENCODER_STAGE:
            raise VQACheckpointError(f"{a.model} was not trained on the photo world; real photos need a photo-world "
                                     f"model such as checkpoints/vqa-photos")
        photos = check_set(a.set)
    except (VQACheckpointError, FileNotFoundError) as e:
        return fail(e)
    torch.set_num_threads(a.threads)
    encoder, rng, open_rng = Encoder(ENCODER_STAGE), random.Random(a.seed), random.Random(a.seed)
    detector = load_detector() if a.naming else None
    right: dict[str, list[bool]] = {check: [] for check in CHECKS if a.naming or check != "four open"}
    for name, load, noun in photos:
        if noun not in categories():
            continue                                     # outside the photo world's nouns
        try:
            image = load()
        except (OSError, ImportError) as e:
            print(f"{name}\tskipped: {e}")
            continue
        feats = encode_image(image, encoder, bool(ckpt.model.cfg.colours))
        reread = pick = None
        if detector is not None:
            parts = {"feats": feats, "head": encoder.classifier, "image": image, "faces": detector.detect(image)}
            reread = lambda ans, parts=parts: open_answer(ans, **parts)
            pick = lambda ans, cands, parts=parts: choose_open(ans, candidates=cands, **parts)
        answers = ask_about(ckpt, feats, noun, rng, reread, pick, open_rng)
        for check, got in right.items():
            got.append(is_right(check, noun, answers))
        print(f"{name}\t{noun}\topen: {answers['open']}\tfour: {answers['four']}\t"
              f"four open: {answers.get('four open', '-')}\tis there a {noun}? "
              f"{answers['yes']}\tis there a {answers['absent']}? {answers['no']}")
    n = len(right["open"])
    print(f"{n} photos: " + ", ".join(f"{check} {sum(right[check])}/{n}" for check in right))
    return 0


if __name__ == "__main__":
    sys.exit(main())
