"""Real photos never seen in training, for checking what a photo model names (captioner and VQA).

  dev       single-object photos used while developing: scikit-image (chelsea the cat, the astronaut, the
            cameraman, the coffee cup, four 25 x 25 faces of its Labeled-Faces-in-the-Wild subset), Tux
            Paint's sheep template photo (never used as a background) and scikit-learn's flower.jpg (from an
            installed scikit-learn, or the wheel unzipped into data/photos/sk/); photos of things outside the
            vocabulary (rocket, motorcycle, a temple, a jellyfish) carry no noun.
  gcompris  held out for reporting only: the real photos of GCompris (Debian `gcompris-qt-data` 3.1-2,
            CC-BY-SA 4.0 / GPL-3), the animal photos of its "erase" and "explore world animals" activities and
            the object photos of "categorization", each labelled with the photo world's noun for what it shows.
  people-dev / people   photos of people from registry packages: the dev part (skimage's astronaut and
            cameraman, Labeled-Faces-in-the-Wild faces 0-9) for choosing settings, the reported part (matplotlib's
            grace_hopper.jpg sample, from the wheel unzipped into data/photos/mpl/, and faces 10-49).
  outside   reported only: real photos of things no photo-world caption names (skimage, Tux Paint templates,
            scikit-learn, GCompris), each labelled with the open-vocabulary nouns that name it right
            (core.vision.vocabulary: "motorcycle" or "scooter" for the stereo motorcycle).
  outside-dev  for choosing: 13 other GCompris photos of things no photo-world caption names (a chicken, a duck,
            an owl, three screwdrivers, four dams, India Gate, a cathedral, the US Capitol), none of them in `outside`.
A label is a photo-world noun (str), or for `outside` and `outside-dev` a tuple of open nouns; None: not scored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from core.common.paths import data_root
from core.vision.photos import tuxpaint_root, unpack_debs
from core.vision.qt_resources import rcc_files


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


def _mpl_image(name: str) -> Callable[[], Path]:
    def where() -> Path:
        try:
            import matplotlib
            return Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / name
        except ImportError:
            return data_root() / "photos" / "mpl" / "matplotlib" / "mpl-data" / "sample_data" / name
    return where


PEOPLE_SETS = {
    "people-dev": [("skimage astronaut (Eileen Collins)", _skimage("astronaut"), "person"),
                   ("skimage camera (the cameraman)", _skimage("camera"), "person"),
                   *[(f"skimage lfw_subset face {i}", _face(i), "person") for i in range(10)]],
    "people": [("matplotlib grace_hopper.jpg", _file(_mpl_image("grace_hopper.jpg")), "person"),
               *[(f"skimage lfw_subset face {i}", _face(i), "person") for i in range(10, 50)]],
}


def _gcompris_photo(archive: str, stem: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        import io
        rcc = data_root() / "realcheck" / "root" / "usr" / "share" / "gcompris-qt" / "rcc" / f"{archive}.rcc"
        if not rcc.is_file():
            raise FileNotFoundError(f"{rcc} is missing: run `python -m core.caption.realcheck fetch`")
        raw = next((b for n, b in rcc_files(rcc) if Path(n).stem == stem and n.endswith(".webp")), None)
        if raw is None:
            raise FileNotFoundError(f"no {stem}.webp in {rcc}")
        return Image.open(io.BytesIO(raw)).convert("RGB")
    return load


# objects the photo world never names: (name, loader, the open nouns that name it right)
OUTSIDE_SET: list[tuple[str, Callable[[], Image.Image], tuple[str, ...]]] = [
    ("skimage rocket", _skimage("rocket"), ("spacecraft", "missile")),
    ("skimage stereo_motorcycle (left)", _skimage("motorcycle"), ("motorcycle", "scooter")),
    ("skimage clock", _skimage("clock"), ("clock",)),
    ("tuxpaint-data templates/jellyfish.jpg", _file(lambda: tuxpaint_root() / "templates" / "jellyfish.jpg"),
     ("jellyfish",)),
    ("tuxpaint-data templates/lighthouse.jpg", _file(lambda: tuxpaint_root() / "templates" / "lighthouse.jpg"),
     ("lighthouse",)),
    *[(f"gcompris {stem}", _gcompris_photo(archive, stem), nouns) for archive, stem, nouns in (
        ("erase", "crab", ("crab",)), ("erase", "alpaca", ("llama",)), ("erase", "meerkats", ("meerkat",)),
        ("erase", "red_panda", ("red panda",)), ("explore_world_animals", "crocodile", ("crocodile", "alligator")),
        ("explore_world_animals", "lemur", ("lemur",)), ("categorization", "chair", ("chair",)),
        ("categorization", "pillow", ("pillow",)), ("categorization", "pan", ("pan",)),
        ("categorization", "plate", ("plate",)), ("categorization", "bucket", ("bucket",)),
        ("categorization", "spoons", ("wooden spoon", "spoon")), ("categorization", "screwDriver", ("screwdriver",)),
        ("categorization", "knife", ("knife",)), ("categorization", "erasers", ("eraser",)),
        ("categorization", "arcDeTriomphe", ("triumphal arch",)), ("categorization", "dam1", ("dam",)))],
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


# for choosing: other GCompris photos of things no photo-world caption names (none of them in `outside`)
OUTSIDE_DEV_SET: list[tuple[str, Callable[[], Image.Image], tuple[str, ...]]] = [
    (f"gcompris {stem}", _gcompris_photo(archive, stem), nouns) for archive, stem, nouns in (
        ("explore_farm_animals", "chicken", ("chicken",)), ("explore_farm_animals", "duck", ("duck",)),
        ("explore_farm_animals", "owl", ("owl",)), *[("categorization", f"screwDriver{i}", ("screwdriver",))
                                                    for i in (1, 2, 3)],
        *[("categorization", f"dam{i}", ("dam",)) for i in (2, 3, 4, 5)],
        ("categorization", "IndiaGate", ("triumphal arch",)), ("categorization", "cathedral", ("church",)),
        ("categorization", "usCapitol", ("dome",)))
]
CHECK_SETS = ("dev", "gcompris", "people-dev", "people", "outside-dev", "outside")


def check_set(name: str) -> list[tuple[str, Callable[[], Image.Image], str | tuple[str, ...] | None]]:
    """One of CHECK_SETS; raises FileNotFoundError saying how to fetch missing GCompris photos."""
    if name == "dev":
        return CHECK_SET
    if name in PEOPLE_SETS:
        return PEOPLE_SETS[name]
    if name == "outside":
        return OUTSIDE_SET
    if name == "outside-dev":
        return OUTSIDE_DEV_SET
    if not gcompris_dir().is_dir():
        raise FileNotFoundError("the GCompris photos are missing: run `rnnlens caption-realcheck fetch`")
    return gcompris_set()
