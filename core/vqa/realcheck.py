"""Photo-world VQA on real photos it never trained on: the captioner's check sets (core.caption.realcheck).

Every photo whose object has a photo-world noun is asked four things:
  open     "what animal is this?" (its noun's category; "what is this?" for things), open-ended
  four     the same question with four candidates: the noun and three of its category (seeded)
  yes      "is there a <noun>?"                        the answer should be yes
  no       "is there a <other>?" for a noun of another category, drawn at random: should be no
One line per photo, then the accuracy of each, beside the question-only baseline's open answer (the same for every
photo of a category: what the image adds).

    python -m core.vqa.realcheck --model checkpoints/vqa-photos [--set dev|gcompris] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
import sys
from typing import Callable

import torch

from core.vision.checksets import check_set
from core.vision.faces import load_detector
from core.vision.photos import names
from core.vision.encoder import Encoder
from core.vqa.checkpoint import VQACheckpoint, VQACheckpointError, load_vqa
from core.vqa.photo_data import ENCODER_STAGE
from core.vqa.photo_questions import categories, four_candidates
from core.vqa.pipeline import Answer, answer_question, choose, encode_image, open_answer

CHECKS = ("open", "four", "yes", "no", "question only")


def object_question(noun: str) -> str:
    """The photo world's question for what a one-object photo shows."""
    category = categories()[noun]
    return "what is this?" if category == "object" else f"what {category} is this?"


def ask_about(ckpt: VQACheckpoint, feats: torch.Tensor, noun: str, rng: random.Random,
              reread: Callable[[Answer], str] | None = None) -> dict[str, str]:
    """The model's answers for a photo (1, L, D) of `noun`: {"open", "four", "yes", "no"}, the question-only
    baseline's open answer ("question only") and the absent noun asked about ("absent"); reread turns the open
    answer into an open-vocabulary noun (core.vqa.pipeline.open_answer)."""
    question = object_question(noun)
    candidates = list(four_candidates(noun, rng, question))
    category = categories()[noun]
    absent = rng.choice(sorted(n for n, c in categories().items() if c != category))
    opened = answer_question(ckpt, feats, question)
    return {"open": reread(opened) if reread else opened.best[0], "question only": ckpt.answers[int(opened.question_only_probs.argmax())],
            "four": candidates[int(choose(ckpt, feats, question, candidates).argmax())],
            "yes": answer_question(ckpt, feats, f"is there a {noun}?").best[0],
            "no": answer_question(ckpt, feats, f"is there a {absent}?").best[0],
            "absent": absent}


def is_right(check: str, noun: str, answers: dict[str, str]) -> bool:
    """Whether the answer to one check is the right one."""
    if check == "open":
        return names(answers[check], noun)
    return answers[check] == {"yes": "yes", "no": "no"}.get(check, noun)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/vqa-photos")
    p.add_argument("--set", choices=["dev", "gcompris"], default="dev",
                   help="the captioner's check set (dev, or gcompris after `python -m core.caption.realcheck fetch`)")
    p.add_argument("--seed", type=int, default=0, help="draws the distractors and the absent nouns")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--naming", action=argparse.BooleanOptionalAction, default=True,
                   help="the open answer re-read from the open vocabulary under the last hop's attention")
    a = p.parse_args(argv)
    try:
        ckpt = load_vqa(a.model)
        if ckpt.model.cfg.encoder != ENCODER_STAGE:
            raise VQACheckpointError(f"{a.model} was not trained on the photo world; real photos need a photo-world "
                                     f"model such as checkpoints/vqa-photos")
        photos = check_set(a.set)
    except (VQACheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, a.threads))
    encoder, rng = Encoder(ENCODER_STAGE), random.Random(a.seed)
    detector = load_detector() if a.naming else None
    right: dict[str, list[bool]] = {check: [] for check in CHECKS}
    for name, load, noun in photos:
        if noun not in categories():
            continue                                     # outside the photo world's nouns
        try:
            image = load()
        except (OSError, ImportError) as e:
            print(f"{name}\tskipped: {e}")
            continue
        feats = encode_image(image, encoder, bool(ckpt.model.cfg.colours))
        reread = None if detector is None else (
            lambda ans, faces=detector.detect(image): open_answer(ans, feats, encoder.classifier, image, faces))
        answers = ask_about(ckpt, feats, noun, rng, reread)
        for check in CHECKS:
            right[check].append(is_right(check, noun, answers))
        print(f"{name}\t{noun}\topen: {answers['open']}\tfour: {answers['four']}\tis there a {noun}? "
              f"{answers['yes']}\tis there a {answers['absent']}? {answers['no']}")
    n = len(right["open"])
    print(f"{n} photos: " + ", ".join(f"{check} {sum(right[check])}/{n}" for check in CHECKS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
