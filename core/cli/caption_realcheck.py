"""rnnlens caption-realcheck: does the caption name the object of real photos never seen in training?

One line per photo and a count.

Two check sets, both from sources the photo world does not train on:
  dev       ten single-object photos used while developing the captioner: scikit-image (chelsea the cat, the
            astronaut, the cameraman, the coffee cup, four 25 x 25 faces of its Labeled-Faces-in-the-Wild
            subset), Tux Paint's sheep template photo (never used as a background) and scikit-learn's
            flower.jpg (from an installed scikit-learn, or the wheel unzipped into data/photos/sk/). Photos of
            things outside the vocabulary (rocket, motorcycle, a temple, a jellyfish) are captioned and listed
            apart; they show what the caveat on the page is for.
  gcompris  held out for reporting only (no setting was chosen on it): the real photos of GCompris
            (Debian `gcompris-qt-data` 3.1-2, CC-BY-SA 4.0 / GPL-3): the animal photos of its "erase" and
            "explore world animals" activities and the object photos of "categorization", each labelled with
            the photo world's noun for what it shows, or left out when no noun fits (a crab, a hedgehog).
            `rnnlens caption-realcheck fetch` downloads the package and unpacks those photos.

    rnnlens caption-realcheck --model checkpoints/captioner-photos [--set dev|gcompris] [--beam 3]
"""
import argparse
import sys

import numpy as np
import torch

from core.caption.pipeline import describe_and_classify, load_checked, unfamiliar
from core.caption.search import MAX_BEAM
from core.cli.args import fail
from core.common.config_args import bounded
from core.vision.checksets import check_set, fetch_gcompris
from core.vision.encoder import Encoder
from core.vision.imagenet import ImageNetClassifier
from core.vision.photos import PhotoWorldError, noun_forms
from core.vision.qt_resources import ResourceError


def parser() -> argparse.ArgumentParser:
    """The caption-realcheck command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens caption-realcheck", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", choices=["fetch"], help="download the GCompris check photos")
    p.add_argument("--model", default="checkpoints/captioner-photos")
    p.add_argument("--set", choices=["dev", "gcompris"], default="dev", help="which check set (see above)")
    p.add_argument("--beam", type=bounded(int, 1, MAX_BEAM), default=3)
    return p


def main(argv: list[str] | None = None) -> int:
    """Caption each photo of a check set and count those whose object is named (or fetch the GCompris set)."""
    a = parser().parse_args(argv)
    if a.command == "fetch":
        try:
            print(f"GCompris check photos ready under {fetch_gcompris()}")
        except (PhotoWorldError, ResourceError, OSError) as e:
            return fail(e)
        return 0
    try:
        photos = check_set(a.set)
        ck = load_checked(a.model, a.beam)
    except (FileNotFoundError, ValueError) as e:
        return fail(e)
    torch.set_num_threads(2)
    encoder, forms, classifier = Encoder(ck.model.cfg.encoder), noun_forms(), ImageNetClassifier()
    hits, per_noun = 0, {}
    for name, load, noun in photos:
        try:
            image = load()
        except (OSError, ImportError) as e:
            print(f"{name}\tskipped: {e}")
            continue
        c, view = describe_and_classify(image, encoder, ck, classifier, a.beam)
        said = {forms[w] for w in c.words if w in forms}
        flag = "" if unfamiliar(ck, c.words, c.logprob, [(g.index, g.name) for g in view]) is None else "  [caveat shown]"
        if noun is None:
            print(f"{name}\t{c.text}\t(outside the vocabulary){flag}")
            continue
        hits += noun in said
        per_noun.setdefault(noun, []).append(noun in said)
        print(f"{name}\t{c.text}\t{'HIT' if noun in said else 'miss'} ({noun}){flag}")
    total = sum(map(len, per_noun.values()))
    macro = float(np.mean([np.mean(v) for v in per_noun.values()])) if per_noun else 0.0
    print(f"object noun in the caption: {hits} / {total} in-vocabulary real photos; "
          f"mean over {len(per_noun)} nouns {macro:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
