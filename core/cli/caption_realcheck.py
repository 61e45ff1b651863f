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

  people-dev, people, outside-dev, outside   see core.vision.checksets (photos of people; things the photo
            world never names: a dev part for choosing, a reported part).
Nouns come from the concept memory under each noun's attention (core.vision.naming); --no-naming gives the
decoder's own words.

    rnnlens caption-realcheck --model checkpoints/captioner-photos [--set dev|gcompris|...] [--beam 3]
"""
import argparse
import sys

import numpy as np
import torch

from core.caption.pipeline import (
    decoder_words,
    describe_and_classify,
    load_checked,
    unfamiliar,
)
from core.caption.search import MAX_BEAM
from core.cli.args import fail
from core.common.config_args import bounded
from core.vision.checksets import CHECK_SETS, check_set, fetch_gcompris
from core.vision.encoder import Encoder
from core.vision.faces import load_detector
from core.vision.imagenet import ImageNetClassifier
from core.vision.photos import PhotoWorldError, names
from core.vision.qt_resources import ResourceError
from core.vision.vocabulary import singular_forms


def is_named(words: list[str], label: str | tuple[str, ...]) -> bool:
    """Whether a caption names its photo's label: a photo-world noun (any word that names it, open nouns
    included), or a tuple of open nouns (one of them, in either number)."""
    if isinstance(label, tuple):
        forms = singular_forms()
        return any(forms.get(w) in label for w in words)
    return any(names(w, label) for w in words)


def parser() -> argparse.ArgumentParser:
    """The caption-realcheck command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens caption-realcheck", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", choices=["fetch"], help="download the GCompris check photos")
    p.add_argument("--model", default="checkpoints/captioner-photos")
    p.add_argument("--set", choices=CHECK_SETS, default="dev", help="which check set (see above)")
    p.add_argument("--beam", type=bounded(int, 1, MAX_BEAM), default=3)
    p.add_argument("--naming", action=argparse.BooleanOptionalAction, default=True,
                   help="nouns from the concept memory under their attention (ImageNet head through WordNet, "
                        "faces); --no-naming: the decoder's own words, as before")
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
    encoder, classifier = Encoder(ck.model.cfg.encoder), ImageNetClassifier()
    detector = load_detector() if a.naming else None
    hits, per_label = 0, {}
    for name, load, label in photos:
        try:
            image = load()
        except (OSError, ImportError) as e:
            print(f"{name}\tskipped: {e}")
            continue
        c, view = describe_and_classify(image, encoder, ck, classifier, a.beam, a.naming, detector)
        caveat = unfamiliar(ck, decoder_words(c.words, c.sources), c.logprob, [(g.index, g.name) for g in view])
        flag = "" if caveat is None else "  [caveat shown]"
        if label is None:
            print(f"{name}\t{c.text}\t(outside the vocabulary){flag}")
            continue
        hit = is_named(c.words, label)
        hits += hit
        key = label if isinstance(label, str) else " or ".join(label)
        per_label.setdefault(key, []).append(hit)
        print(f"{name}\t{c.text}\t{'HIT' if hit else 'miss'} ({key}){flag}", flush=True)
    total = sum(map(len, per_label.values()))
    macro = float(np.mean([np.mean(v) for v in per_label.values()])) if per_label else 0.0
    print(f"object noun in the caption: {hits} / {total} labelled real photos; "
          f"mean over {len(per_label)} labels {macro:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
