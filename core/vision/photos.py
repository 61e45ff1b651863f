"""A photo world for captioning: real object cut-outs (Tux Paint photo stamps) on real photo backgrounds.

Each seed composes 1 to 3 cut-outs at random scale, position and flip on a crop of a real background photo
(or a skimage texture, or a plain backdrop as in a product photo), keeps each object's exact visible mask
from the stamp's alpha channel, and writes five captions from the noun catalogue of `photo_stamps`
(counts, colours, sizes, positions, relations, background). About a third of the one-object scenes let the
object fill most of the frame, as in a photo a user uploads. Stamps are split by file: val and test scenes use
stamps never seen in training (held-out instances of seen nouns); val and test also use held-out backgrounds.

    rnnlens photos fetch       # apt-get download + dpkg -x the two Debian packages into data/photos
"""
from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from core.common.paths import data_root
from core.common.words import article
from core.vision.photo_stamps import BACKGROUNDS, NOUNS, TEXTURES, noun_forms, plural
from core.vision.vocabulary import in_photo_noun, singular_forms

SIZE = 448
PACKAGES = ("tuxpaint-stamps-default", "tuxpaint-data")
SPLIT_OFFSETS = {"train": 0, "val": 10_000_000, "test": 20_000_000, "demo": 30_000_000}
NUMBERS = {2: "two", 3: "three"}
COLOUR_NAMES = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey")


class PhotoWorldError(RuntimeError):
    """The Tux Paint packages are missing or cannot be fetched; the message says what to run."""


def tuxpaint_root() -> Path:
    """Where the two packages are unpacked: data/photos/root/usr/share/tuxpaint."""
    return data_root() / "photos" / "root" / "usr" / "share" / "tuxpaint"


def unpack_debs(packages: tuple[str, ...], dest: Path) -> None:
    """Download Debian packages with apt-get and unpack them into dest with dpkg -x (no root needed)."""
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise PhotoWorldError(f"fetching {' '.join(packages)} needs `{tool}` (a Debian/Ubuntu machine)")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["apt-get", "download", *packages], cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0:                                 # a fresh machine may have no package lists yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            proc = subprocess.run(["apt-get", "download", *packages], cwd=tmp, capture_output=True, text=True)
        debs = sorted(Path(tmp).glob("*.deb"))
        if proc.returncode != 0 or len(debs) != len(packages):
            raise PhotoWorldError(f"apt-get download {' '.join(packages)} failed: {proc.stderr.strip()[-500:]}")
        dest.mkdir(parents=True, exist_ok=True)
        for deb in debs:
            subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)


def fetch() -> Path:
    """Download and unpack the two Tux Paint packages into data/photos/root (cached)."""
    root = tuxpaint_root()
    if not ((root / "stamps").is_dir() and (root / "templates").is_dir()):
        unpack_debs(PACKAGES, data_root() / "photos" / "root")
    return root


def _require() -> Path:
    root = tuxpaint_root()
    if not (root / "stamps").is_dir():
        raise PhotoWorldError(f"the photo stamps are not under {root}: run `rnnlens photos fetch`")
    return root


def _rank(path: str) -> int:
    return int(hashlib.sha256(path.encode()).hexdigest()[:8], 16)


@lru_cache(maxsize=1)
def stamp_splits() -> dict[str, list[tuple[str, str]]]:
    """(noun, stamp path) per split. Per noun with n >= 2 stamps: about 12% (at least 1) to test, and with
    n >= 3 as many to val, picked by a hash of the path; the rest (and every single-stamp noun) to train."""
    out: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "test": []}
    for noun, paths in sorted(NOUNS.items()):
        ranked = sorted(paths, key=_rank)
        k = max(1, round(0.12 * len(ranked))) if len(ranked) >= 2 else 0
        test, val = ranked[:k], ranked[k:2 * k] if len(ranked) >= 3 else []
        out["test"] += [(noun, p) for p in test]
        out["val"] += [(noun, p) for p in val]
        out["train"] += [(noun, p) for p in ranked if p not in test and p not in val]
    return out


def backgrounds(split: str) -> list[str]:
    """Background names a split may use: templates (held-out ones only in val/test), textures, 'plain'."""
    names = [n for n, (_, held) in BACKGROUNDS.items() if split != "train" or not held]
    return names + list(TEXTURES) + ["plain"]


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """Basic colour name index (into COLOUR_NAMES) per pixel of (N, 3) uint8 RGB."""
    x = rgb.astype(np.float32) / 255.0
    mx, mn = x.max(1), x.min(1)
    v, s = mx, np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    d = np.maximum(mx - mn, 1e-6)
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * 60
    hue = np.select([(h < 15) | (h >= 340), h < 45, h < 70, h < 170, h < 255, h < 290], [0, 1, 2, 3, 4, 5], 6)
    brown = ((hue == 0) | (hue == 1)) & (v < 0.6)
    out = np.where(brown, 7, hue)
    out = np.where(s < 0.2, np.where(v > 0.75, 9, 10), out)
    return np.where(v < 0.22, 8, out)


@dataclass
class Stamp:
    """A cut-out: RGBA image cropped to its alpha box, its noun and its dominant colour (or None)."""
    path: str
    noun: str
    image: Image.Image
    colour: str | None


@lru_cache(maxsize=512)
def load_stamp(path: str, noun: str) -> Stamp:
    """Read a stamp PNG as RGBA, crop to the opaque box, and name its colour if one colour covers half of it."""
    im = Image.open(_require() / "stamps" / path).convert("RGBA")
    a = np.asarray(im)
    im = im.crop(Image.fromarray((a[..., 3] > 127).astype(np.uint8) * 255).getbbox())
    a = np.asarray(im)
    names = colour_names(a[..., :3][a[..., 3] > 127])
    counts = np.bincount(names, minlength=len(COLOUR_NAMES))
    colour = COLOUR_NAMES[int(counts.argmax())] if counts.max() >= 0.5 * max(len(names), 1) else None
    return Stamp(path, noun, im, colour)


@lru_cache(maxsize=32)
def _template(name: str) -> Image.Image:
    return Image.open(_require() / "templates" / name).convert("RGB")


def _background(name: str, rng: random.Random) -> Image.Image:
    """A SIZE x SIZE background: a random crop of a template or texture, or a plain backdrop."""
    if name == "plain":
        base = np.array([rng.randint(90, 250)] * 3, np.float32) + np.array([rng.randint(-20, 20) for _ in range(3)])
        t = np.linspace(0, rng.uniform(-40, 20), SIZE, dtype=np.float32)[:, None, None]
        return Image.fromarray(np.clip(base + t, 0, 255).astype(np.uint8).repeat(SIZE, 1))
    if name in TEXTURES:
        import skimage.data
        src = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    else:
        src = _template(name)
    w, h = src.size
    side = int(min(w, h) * rng.uniform(0.5, 1.0))
    x, y = rng.randint(0, w - side), rng.randint(0, h - side)
    bg = src.crop((x, y, x + side, y + side)).resize((SIZE, SIZE), Image.BILINEAR)
    if rng.random() < 0.5:
        bg = bg.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < 0.35:                                     # shallow depth of field, as in many photos
        bg = bg.filter(ImageFilter.GaussianBlur(rng.uniform(2, 6)))
    return bg


@dataclass
class PhotoObject:
    """One pasted cut-out: noun, stamp file, colour word, size word, centre, box and visible mask."""
    noun: str
    stamp: str
    colour: str | None
    size: str
    x: float
    y: float
    box: tuple[int, int, int, int]
    mask: np.ndarray = field(repr=False)    # (SIZE, SIZE) bool, the visible pixels


@dataclass
class PhotoScene:
    """A composed photo with its objects, background phrase and five reference captions."""
    image: Image.Image
    objects: list[PhotoObject]
    background: str
    captions: list[str]
    seed: int
    backdrop: Image.Image = field(repr=False)   # the background alone, before any cut-out was pasted


def _region(x: float, y: float) -> str:
    col = "left" if x < SIZE / 3 else "right" if x > 2 * SIZE / 3 else ""
    row = "top" if y < SIZE / 3 else "bottom" if y > 2 * SIZE / 3 else ""
    return f"{row} {col}".strip() or "middle"


def _phrase(group: list[PhotoObject], detail: str = "") -> str:
    """'a red apple', 'a large apple', 'two apples'."""
    o = group[0]
    if len(group) > 1:
        return f"{NUMBERS[len(group)]} {plural(o.noun)}"
    word = {"colour": o.colour, "size": o.size}.get(detail) or ""
    words = f"{word} {o.noun}".strip()
    return f"{article(words)} {words}"


def _relation(a: list[PhotoObject], b: list[PhotoObject]) -> str:
    ax, ay = np.mean([o.x for o in a]), np.mean([o.y for o in a])
    bx, by = np.mean([o.x for o in b]), np.mean([o.y for o in b])
    if abs(ax - bx) >= abs(ay - by):
        return "to the left of" if ax < bx else "to the right of"
    return "above" if ay < by else "below"


def _captions(objects: list[PhotoObject], bg: str, close_up: bool, rng: random.Random) -> list[str]:
    """Five captions in varied wording; every caption names every object (equal nouns are counted)."""
    groups: dict[str, list[PhotoObject]] = {}
    for o in sorted(objects, key=lambda o: o.x):
        groups.setdefault(o.noun, []).append(o)
    g = list(groups.values())
    p, pc, ps = [_phrase(x) for x in g], [_phrase(x, "colour") for x in g], [_phrase(x, "size") for x in g]
    if len(g) == 1 and len(objects) == 1:
        o = objects[0]
        pool = [p[0], f"{pc[0]} {bg}", f"a photo of {p[0]}", f"{p[0]} {bg}", f"{ps[0]} {bg}"]
        pool += [f"a close up of {pc[0]}", f"{pc[0]} filling the picture"] if close_up else \
                [f"{p[0]} in the {_region(o.x, o.y)}", f"{pc[0]} in the {_region(o.x, o.y)} of the picture"]
    elif len(g) == 1:
        pool = [p[0], f"{p[0]} {bg}", f"there are {p[0]} {bg}", f"a photo of {p[0]}", f"{p[0]} next to each other"]
    elif len(g) == 2:
        rel = _relation(g[0], g[1])
        pool = [f"{p[0]} and {p[1]}", f"{pc[0]} {rel} {pc[1]}", f"{p[0]} {rel} {p[1]} {bg}",
                f"{p[0]} next to {p[1]}", f"{pc[0]} and {pc[1]} {bg}", f"a photo of {p[0]} and {p[1]}"]
    else:
        listed = " , ".join(p[:-1]) + f" and {p[-1]}"
        rel = _relation(g[0], g[1])
        pool = [listed, f"{listed} {bg}", f"a photo of {listed}", f"{pc[0]} {rel} {pc[1]} and {pc[2]}",
                f"there are {listed} {bg}"]
    rng.shuffle(pool)
    return (pool * 2)[:5]


def split_of(seed: int) -> str:
    """The split whose stamps and backgrounds a seed draws from (demo seeds use the test pool)."""
    for split, offset in sorted(SPLIT_OFFSETS.items(), key=lambda kv: -kv[1]):
        if seed >= offset:
            return "test" if split == "demo" else split
    return "train"


def split_seeds(split: str, n: int, seed: int = 0) -> list[int]:
    """Deterministic, disjoint photo seeds for the train/val/test splits."""
    return [SPLIT_OFFSETS[split] + seed * 1_000_000 + i for i in range(n)]


def _paste(canvas: Image.Image, stamp: Stamp, long_side: float, rng: random.Random
           ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Paste a flipped/scaled/colour-jittered stamp at a random spot; returns its full mask and box."""
    im = stamp.image.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else stamp.image
    k = long_side / max(im.size)
    w, h = max(4, round(im.width * k)), max(4, round(im.height * k))
    im = im.resize((w, h), Image.BICUBIC)
    a = np.asarray(im).astype(np.float32)
    gain = rng.uniform(0.85, 1.15)
    a[..., :3] = np.clip((a[..., :3] - 128) * rng.uniform(0.9, 1.1) + 128 * gain, 0, 255)
    im = Image.fromarray(a.astype(np.uint8))
    x, y = rng.randint(min(0, SIZE - w), max(0, SIZE - w)), rng.randint(min(0, SIZE - h), max(0, SIZE - h))
    canvas.paste(im, (x, y), im)
    full = np.zeros((SIZE, SIZE), bool)
    alpha = np.asarray(im)[..., 3] > 127
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, SIZE), min(y + h, SIZE)
    full[y0:y1, x0:x1] = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    return full, (x0, y0, x1, y1)


def make_photo(seed: int) -> PhotoScene:
    """Compose the photo for one seed (deterministic): image, objects with visible masks, five captions."""
    split = split_of(seed)
    pool = stamp_splits()[split]
    rng = random.Random(seed)
    while True:
        n = rng.choice([1, 1, 1, 1, 2, 2, 2, 3, 3])
        close_up = n == 1 and rng.random() < 0.4
        bg_name = rng.choice(backgrounds(split))
        backdrop = _background(bg_name, rng)
        canvas = backdrop.copy()
        picks = [rng.choice(pool)]
        for _ in range(n - 1):                                   # repeat a noun sometimes so that counts occur
            same = [s for s in pool if s[0] == picks[-1][0]]
            picks.append(rng.choice(same) if rng.random() < 0.25 else rng.choice(pool))
        lo, hi = (0.75, 1.05) if close_up else ((0.35, 0.7) if n == 1 else (0.25, 0.5))
        placed = [_paste(canvas, load_stamp(p, noun), rng.uniform(lo, hi) * SIZE, rng) for noun, p in picks]
        visible = [m.copy() for m, _ in placed]
        for i in range(n):                                       # later pastes hide earlier ones
            for later, _ in placed[i + 1:]:
                visible[i] &= ~later
        if all(v.sum() >= 0.6 * m.sum() and v.sum() >= 200 for v, (m, _) in zip(visible, placed)):
            break
    objects = []
    for (noun, path), (full, box), vis in zip(picks, placed, visible):
        ys, xs = np.nonzero(vis)
        frac = vis.mean()
        size = "large" if frac > 0.12 else "small" if frac < 0.04 else ""
        objects.append(PhotoObject(noun, path, load_stamp(path, noun).colour, size, float(xs.mean()),
                                   float(ys.mean()), box, vis))
    phrase = TEXTURES.get(bg_name) or BACKGROUNDS.get(bg_name, ("on a plain background",))[0]
    return PhotoScene(canvas, objects, phrase, _captions(objects, phrase, close_up, rng), seed, backdrop)


def names(word: str, noun: str) -> bool:
    """Whether a caption word names a catalogue noun: one of its forms, or an open-vocabulary noun (either
    number) whose ImageNet classes the noun's concept covers ("bees" names "insect"; core.vision.vocabulary)."""
    if noun_forms().get(word) == noun:
        return True
    open_noun = singular_forms().get(word)
    return open_noun is not None and in_photo_noun(open_noun, noun)


def word_masks(words: list[str], objects: list[PhotoObject]) -> list[np.ndarray | None]:
    """For each caption word: the union mask of the objects whose noun it names, else None."""
    out: list[np.ndarray | None] = []
    for w in words:
        picked = [o.mask for o in objects if names(w, o.noun)]
        out.append(np.any(picked, axis=0) if picked else None)
    return out


def named_objects(words: list[str], objects: list[PhotoObject]) -> int:
    """How many of the objects have their noun named (in either form, or by an open noun) among the words."""
    return sum(any(names(w, o.noun) for w in words) for o in objects)

