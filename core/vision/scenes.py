"""A generated scene world with ground truth, for Show, Attend and Tell (Xu et al. 2015).

No real image+caption dataset is reachable here, so the captioner learns from scenes that this module
draws: 1 to 4 coloured shapes on flat, gradient or textured (skimage brick/grass/gravel) backgrounds,
five reference captions in varied wording (spatial relations, counts) and a pixel mask per object, so
that every object word in a caption can be checked against the region it names.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

SIZE = 224
COLORS = {"red": (220, 30, 30), "green": (30, 170, 40), "blue": (35, 70, 230),
          "yellow": (245, 215, 20), "purple": (150, 40, 190)}
SHAPES = ("circle", "square", "triangle", "star")
SIZES = {"small": (13, 18), "large": (27, 35)}          # radius range in pixels
BACKGROUNDS = ("plain", "gradient", "brick", "grass", "gravel")
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four"}


@dataclass
class SceneObject:
    """One drawn object: its words, its centre and radius, and its pixel mask."""
    color: str
    shape: str
    size: str
    x: float
    y: float
    r: float
    mask: np.ndarray = field(repr=False)   # (H, W) bool


@dataclass
class Scene:
    """A generated image with its objects, background name and five reference captions."""
    image: Image.Image
    objects: list[SceneObject]
    background: str
    captions: list[str]
    seed: int


def _outline(shape: str, x: float, y: float, r: float, angle: float) -> list[tuple[float, float]] | None:
    """Polygon points of a shape (None for a circle)."""
    if shape == "circle":
        return None
    if shape == "square":
        k = r * 0.85
        return [(x - k, y - k), (x + k, y - k), (x + k, y + k), (x - k, y + k)]
    if shape == "triangle":
        return [(x + r * math.cos(angle + 2 * math.pi * i / 3), y + r * math.sin(angle + 2 * math.pi * i / 3))
                for i in range(3)]
    pts = []                                               # star: 5 points
    for i in range(10):
        rr = r if i % 2 == 0 else r * 0.45
        a = angle + math.pi * i / 5
        pts.append((x + rr * math.cos(a), y + rr * math.sin(a)))
    return pts


@lru_cache(maxsize=3)
def _texture(name: str) -> np.ndarray:
    import skimage.data
    return getattr(skimage.data, name)()                  # (512, 512) uint8


def _background(name: str, rng: random.Random) -> np.ndarray:
    """A muted (low-saturation) background so that object colours stay unambiguous: (H, W, 3) uint8."""
    base = np.array([rng.randint(60, 200)] * 3, dtype=np.float32) + np.array([rng.randint(-12, 12) for _ in range(3)])
    if name == "plain":
        img = np.broadcast_to(base, (SIZE, SIZE, 3)).astype(np.float32)
    elif name == "gradient":
        other = np.clip(base + rng.choice([-1, 1]) * rng.randint(50, 90), 20, 235)
        t = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)
        ramp = t[:, None] if rng.random() < 0.5 else t[None, :]
        ramp = np.broadcast_to(ramp, (SIZE, SIZE))[..., None]
        img = base * (1 - ramp) + other * ramp
    else:
        tex = _texture(name)
        i, j = rng.randint(0, tex.shape[0] - SIZE), rng.randint(0, tex.shape[1] - SIZE)
        crop = tex[i:i + SIZE, j:j + SIZE].astype(np.float32) / 255.0
        tint = np.array([rng.uniform(0.85, 1.0) for _ in range(3)], dtype=np.float32)
        img = (40 + 180 * crop)[..., None] * tint
    return np.clip(img, 0, 255).astype(np.uint8)


def _place(rng: random.Random, n: int) -> list[tuple[str, float, float, float]] | None:
    """Non-overlapping (size, x, y, r) for n objects, or None if this draw failed."""
    placed: list[tuple[str, float, float, float]] = []
    for _ in range(n):
        for _try in range(50):
            size = rng.choice(list(SIZES))
            r = rng.uniform(*SIZES[size])
            x, y = rng.uniform(r + 4, SIZE - r - 4), rng.uniform(r + 4, SIZE - r - 4)
            if all(math.hypot(x - px, y - py) > r + pr + 8 for _, px, py, pr in placed):
                placed.append((size, x, y, r))
                break
        else:
            return None
    return placed


def _region(x: float, y: float) -> str:
    col = "left" if x < SIZE / 3 else "right" if x > 2 * SIZE / 3 else ""
    row = "top" if y < SIZE / 3 else "bottom" if y > 2 * SIZE / 3 else ""
    return f"{row} {col}".strip() or "center"


def _phrase(group: list[SceneObject], with_size: bool = False) -> str:
    o = group[0]
    if len(group) == 1:
        return f"a {o.size} {o.color} {o.shape}" if with_size else f"a {o.color} {o.shape}"
    return f"{NUMBERS[len(group)]} {o.color} {o.shape}s"


def _relation(a: list[SceneObject], b: list[SceneObject]) -> tuple[str, str]:
    """How group a sits relative to group b, and the converse."""
    ax, ay = np.mean([o.x for o in a]), np.mean([o.y for o in a])
    bx, by = np.mean([o.x for o in b]), np.mean([o.y for o in b])
    if abs(ax - bx) >= abs(ay - by):
        return ("to the left of", "to the right of") if ax < bx else ("to the right of", "to the left of")
    return ("above", "below") if ay < by else ("below", "above")


def _captions(objects: list[SceneObject], background: str, rng: random.Random) -> list[str]:
    """Five reference captions in varied wording; groups of equal colour+shape are counted."""
    groups: dict[tuple[str, str], list[SceneObject]] = {}
    for o in sorted(objects, key=lambda o: o.x):                 # left to right
        groups.setdefault((o.color, o.shape), []).append(o)
    g = list(groups.values())
    p = [_phrase(x) for x in g]
    n = len(objects)
    bg = f"on a {background} background"
    if len(g) == 1 and n == 1:
        o = objects[0]
        pool = [p[0], _phrase(g[0], True), f"there is {p[0]}", f"{p[0]} in the {_region(o.x, o.y)}",
                f"{p[0]} {bg}", f"{_phrase(g[0], True)} {bg}", f"one {o.color} {o.shape}"]
    elif len(g) == 1:
        pool = [p[0], f"there are {p[0]}", f"{p[0]} {bg}", f"{NUMBERS[n]} shapes : {p[0]}",
                f"{p[0]} next to each other"]
    elif len(g) == 2:
        rel, inv = _relation(g[0], g[1])
        pool = [f"{p[0]} and {p[1]}", f"{p[0]} {rel} {p[1]}", f"{p[1]} {inv} {p[0]}",
                f"{p[0]} next to {p[1]}", f"{p[0]} and {p[1]} {bg}", f"{NUMBERS[n]} shapes : {p[0]} and {p[1]}"]
    else:
        listed = " , ".join(p[:-1]) + f" and {p[-1]}"
        rel, _ = _relation(g[0], g[1])
        pool = [listed, f"{listed} {bg}", f"{NUMBERS[n]} shapes : {listed}", f"there are {listed}",
                f"{p[0]} {rel} {p[1]} and " + " and ".join(p[2:])]
    rng.shuffle(pool)
    return (pool * 2)[:5]


def make_scene(seed: int) -> Scene:
    """Draw the scene for one seed (deterministic): image, objects with masks, five captions."""
    rng = random.Random(seed)
    while True:
        n = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
        placed = _place(rng, n)
        if placed is not None:
            break
    background = rng.choice(BACKGROUNDS)
    canvas = Image.fromarray(_background(background, rng))
    objects: list[SceneObject] = []
    for size, x, y, r in placed:
        if objects and rng.random() < 0.3:                      # repeat a look so that counts occur
            color, shape = objects[-1].color, objects[-1].shape
        else:
            color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
        m = Image.new("L", (SIZE, SIZE), 0)
        pts = _outline(shape, x, y, r, rng.uniform(0, 2 * math.pi))
        draw = ImageDraw.Draw(m)
        if pts is None:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        else:
            draw.polygon(pts, fill=255)
        fill = tuple(int(np.clip(c + rng.randint(-15, 15), 0, 255)) for c in COLORS[color])
        canvas.paste(Image.new("RGB", (SIZE, SIZE), fill), (0, 0), m)
        objects.append(SceneObject(color, shape, size, x, y, r, np.asarray(m) > 0))
    return Scene(canvas, objects, background, _captions(objects, background, rng), seed)


def split_seeds(split: str, n: int, seed: int = 0) -> list[int]:
    """Deterministic, disjoint scene seeds for the train/val/test splits."""
    offset = {"train": 0, "val": 10_000_000, "test": 20_000_000}[split]
    return [offset + seed * 100_000_000 + i for i in range(n)]
