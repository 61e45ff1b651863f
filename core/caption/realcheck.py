"""Real photos never seen in training: does the caption name the object? One line per photo and a count.

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
            `python -m core.caption.realcheck fetch` downloads the package and unpacks those photos.

    python -m core.caption.realcheck --model checkpoints/captioner-photos [--set dev|gcompris] [--beam 3]
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
from .photos import PhotoWorldError, noun_forms, tuxpaint_root, unpack_debs
from .qt_resources import ResourceError, rcc_files
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


GCOMPRIS_PACKAGE = "gcompris-qt-data"
GCOMPRIS_ARCHIVES = ("erase", "explore_world_animals", "categorization")
# photo file stem -> the photo world's noun for what it shows (files whose object has no noun are not listed)
GCOMPRIS_NOUNS = {
    "bee": "insect", "butterfly": "insect", "calf": "cow", "camels": "camel", "chamaeleon": "lizard",
    "cheetah": "cat", "dolphin": "dolphin", "gibbon": "monkey", "giraffe": "giraffe", "goat": "goat",
    "gorilla": "monkey", "gosling": "bird", "heron": "bird", "horse": "horse", "kingfisher": "bird",
    "kitten": "cat", "long_nosed_monkey": "monkey", "macaque": "monkey", "northern_harrier": "bird",
    "nubian_ibex": "goat", "penguin": "bird", "rhinoceros": "rhino", "spoonbills": "bird", "squirrel": "squirrel",
    "swans": "bird", "toucan": "bird",                                            # erase
    "bison": "cow", "chameleon": "lizard", "dragon": "lizard", "jaguar": "cat", "kangaroo": "kangaroo",
    "koala": "koala", "moose": "deer", "narwhal": "whale", "panda": "bear", "polar_bear": "bear",
    "scarlet_macaw": "bird",                                                      # explore world animals
    "baseball": "ball", "volleyball": "ball", "cup": "cup", "bulb": "lightbulb",  # categorization: others
    **{f"hammer{i}": "hammer" for i in range(1, 10)}, "wrench": "wrench", "wrench1": "wrench",
    **{f"fish{i}": "fish" for i in range(1, 29)},
}


def gcompris_dir() -> Path:
    """Where the GCompris check photos are unpacked: data/realcheck/gcompris."""
    return data_root() / "realcheck" / "gcompris"


def fetch_gcompris() -> Path:
    """Download gcompris-qt-data and copy the labelled photos out of its resource archives (cached)."""
    out = gcompris_dir()
    if out.is_dir() and len(list(out.glob("*.webp"))) >= len(GCOMPRIS_NOUNS):
        return out
    root = data_root() / "realcheck" / "root"
    unpack_debs((GCOMPRIS_PACKAGE,), root)
    out.mkdir(parents=True, exist_ok=True)
    for archive in GCOMPRIS_ARCHIVES:
        for name, raw in rcc_files(root / "usr" / "share" / "gcompris-qt" / "rcc" / f"{archive}.rcc"):
            stem = Path(name).stem
            if name.endswith(".webp") and stem in GCOMPRIS_NOUNS:
                (out / f"{stem}.webp").write_bytes(raw)
    return out


def gcompris_set() -> list[tuple[str, Callable[[], Image.Image], str | None]]:
    """The held-out GCompris photos as (name, loader, noun) entries (fetch them first)."""
    folder = gcompris_dir()
    return [(f"gcompris {stem}", _file(lambda stem=stem: folder / f"{stem}.webp"), noun)
            for stem, noun in sorted(GCOMPRIS_NOUNS.items())]


def check_set(name: str) -> list[tuple[str, Callable[[], Image.Image], str | None]]:
    """The "dev" or "gcompris" check set; raises FileNotFoundError saying how to fetch missing GCompris photos."""
    if name == "dev":
        return CHECK_SET
    if not gcompris_dir().is_dir():
        raise FileNotFoundError("the GCompris photos are missing: run `python -m core.caption.realcheck fetch`")
    return gcompris_set()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", choices=["fetch"], help="download the GCompris check photos")
    p.add_argument("--model", default="checkpoints/captioner-photos")
    p.add_argument("--set", choices=["dev", "gcompris"], default="dev", help="which check set (see above)")
    p.add_argument("--beam", type=int, default=3)
    a = p.parse_args(argv)
    if a.command == "fetch":
        try:
            print(f"GCompris check photos ready under {fetch_gcompris()}")
        except (PhotoWorldError, ResourceError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        photos = check_set(a.set)
        ck = load_checked(a.model, a.beam)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
