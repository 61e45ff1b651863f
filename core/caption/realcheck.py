"""Real photos never seen in training: does the caption name the object? One line per photo and a count.

The check set is ten single-object real photos whose object is in the photo world's vocabulary, from sources
the photo world does not train on: scikit-image (chelsea the cat, the astronaut, the cameraman, the coffee cup,
four faces of its Labeled-Faces-in-the-Wild subset), Tux Paint's sheep template photo (never used as a
background) and scikit-learn's flower.jpg (read from the scikit-learn wheel: `pip download --no-deps
scikit-learn==1.8.0 -d data/photos` then unzip its sklearn/datasets/images/ into data/photos/sk/, or from an
installed scikit-learn). Photos of things outside the vocabulary (rocket, motorcycle, a temple, a jellyfish)
are captioned too and listed apart; they show what the caveat on the page is for.

    python -m core.caption.realcheck --model checkpoints/captioner-photos [--beam 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from core.corpus import data_root

from .encoder import Encoder
from .imagenet import ImageNetClassifier
from .photos import noun_forms, tuxpaint_root
from .pipeline import describe_and_classify, load_checked, unfamiliar


def _skimage(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        import skimage.data
        if name == "motorcycle":
            return Image.fromarray(skimage.data.stereo_motorcycle()[0]).convert("RGB")
        return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    return load


def _face(i: int) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        import skimage.data
        face = (skimage.data.lfw_subset()[i] * 255).astype(np.uint8)    # (25, 25) grey, faces come first
        return Image.fromarray(face).convert("RGB").resize((200, 200), Image.BICUBIC)
    return load


def _file(*candidates: Callable[[], Path]) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        for c in candidates:
            path = c()
            if path.is_file():
                return Image.open(path).convert("RGB")
        raise FileNotFoundError(f"none of {[str(c()) for c in candidates]} exists (see the module doc)")
    return load


def _sklearn_image(name: str) -> Callable[[], Path]:
    def where() -> Path:
        try:
            import sklearn
            return Path(sklearn.__file__).parent / "datasets" / "images" / name
        except ImportError:
            return data_root() / "photos" / "sk" / "sklearn" / "datasets" / "images" / name
    return where


# (name, loader, the noun a correct caption contains; None: the object is outside the vocabulary)
CHECK_SET: list[tuple[str, Callable[[], Image.Image], str | None]] = [
    ("skimage chelsea (a tabby cat)", _skimage("chelsea"), "cat"),
    ("skimage astronaut (Eileen Collins)", _skimage("astronaut"), "person"),
    ("skimage camera (the cameraman)", _skimage("camera"), "person"),
    ("skimage coffee (a cup of coffee)", _skimage("coffee"), "cup"),
    ("tuxpaint-data templates/sheep.jpg", _file(lambda: tuxpaint_root() / "templates" / "sheep.jpg"), "sheep"),
    ("sklearn flower.jpg", _file(_sklearn_image("flower.jpg")), "flower"),
    *[(f"skimage lfw_subset face {i}", _face(i), "person") for i in range(4)],
    ("skimage rocket", _skimage("rocket"), None),
    ("skimage stereo_motorcycle (left)", _skimage("motorcycle"), None),
    ("sklearn china.jpg (a temple)", _file(_sklearn_image("china.jpg")), None),
    ("tuxpaint-data templates/jellyfish.jpg", _file(lambda: tuxpaint_root() / "templates" / "jellyfish.jpg"), None),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/captioner-photos")
    p.add_argument("--beam", type=int, default=3)
    a = p.parse_args(argv)
    try:
        ck = load_checked(a.model, a.beam)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    encoder, forms, classifier = Encoder(ck.model.cfg.encoder), noun_forms(), ImageNetClassifier()
    hits, total = 0, 0
    for name, load, noun in CHECK_SET:
        try:
            image = load()
        except (OSError, ImportError) as e:
            print(f"{name}\tskipped: {e}")
            continue
        c, view = describe_and_classify(image, encoder, ck, classifier, a.beam)
        said = {forms[w] for w in c.words if w in forms}
        flag = "" if unfamiliar(ck, c.words, c.logprob, (view[0].index, view[0].name)) is None else "  [caveat shown]"
        if noun is None:
            print(f"{name}\t{c.text}\t(outside the vocabulary){flag}")
            continue
        total += 1
        hits += noun in said
        print(f"{name}\t{c.text}\t{'HIT' if noun in said else 'miss'} ({noun}){flag}")
    print(f"object noun in the caption: {hits} / {total} in-vocabulary real photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
