"""Questions about the photo world (core.vision.photos), generated from each scene's objects and masks.

Open-ended questions, and multiple choice in the style of Visual7W (the right answer and three distractors
of its own kind, in random order):
    object    "what is this?" / "what animal is this?"  one-object scenes; distractors: nouns of its category
    colour    "what colour is the apple?"               a noun seen once, with a named colour; other colours
    count     "how many birds are there?"               every noun present, sometimes an absent one (zero)
    yes/no    "is there a dog?"                         one present and one absent noun per scene; open-ended only
    relation  "what is to the left of the car?"         two objects side by side; nouns of the answer's category
Each question keeps the indices of the scene objects it is about; their visible masks ground it. Questions
follow the scenes' split: val and test questions are about held-out stamp files, as the captions are.
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.common.words import article
from core.vision.photo_stamps import NOUNS, plural
from core.vision.photos import (
    COLOUR_NAMES,
    PhotoScene,
    make_photo,
    split_of,
    split_seeds,
    stamp_splits,
)
from core.vision.worlds import SHARD

PHOTO_TYPES = ("object", "colour", "count", "yes/no", "relation")
COUNTS = ("zero", "one", "two", "three")
N_CANDIDATES = 4
CATEGORY_FOLDERS = (("animals/", "animal"), ("food/fruit/", "fruit"), ("food/vegetables/", "vegetable"),
                    ("vehicles/", "vehicle"), ("military/vehicles/", "vehicle"))
MIN_GAP = 40                 # pixels: side-by-side objects closer than this get no left/right question
VERSION = 1                  # bump when the generator changes (invalidates cached question files)


@lru_cache(maxsize=1)
def categories() -> dict[str, str]:
    """Noun -> 'animal', 'fruit', 'vegetable', 'vehicle' or 'object', from the folder of its first stamp."""
    return {noun: next((c for prefix, c in CATEGORY_FOLDERS if paths[0].startswith(prefix)), "object")
            for noun, paths in NOUNS.items()}


def photo_answers() -> list[str]:
    """The answer vocabulary: every noun, colour and count, then yes and no ('orange' is listed once)."""
    return list(dict.fromkeys([*sorted(NOUNS), *COLOUR_NAMES, *COUNTS, "yes", "no"]))


def answer_pool(answer: str, question: str = "") -> list[str]:
    """The answers of the same kind as `answer`: nouns of its category, colours, counts, or yes/no.
    'orange' is a colour when the question asks for a colour, else a fruit."""
    asks_colour = any(w in question.lower().split() for w in ("colour", "color"))
    if answer in COLOUR_NAMES and (asks_colour or answer not in NOUNS):
        return list(COLOUR_NAMES)
    if answer in NOUNS:
        return [n for n, c in categories().items() if c == categories()[answer]]
    return list(COUNTS) if answer in COUNTS else ["yes", "no"]


def four_candidates(answer: str, rng: random.Random, question: str = "", exclude: tuple[str, ...] = ()
                    ) -> tuple[str, ...]:
    """The answer and three distinct distractors of its kind (never one of `exclude`), in random order."""
    pool = [a for a in answer_pool(answer, question) if a != answer and a not in exclude]
    cands = [answer, *rng.sample(pool, N_CANDIDATES - 1)]
    rng.shuffle(cands)
    return tuple(cands)


@dataclass(frozen=True)
class PhotoQuestion:
    """One question about one photo seed: text, answer, type, four candidates (none for yes/no), objects."""
    seed: int
    text: str
    answer: str
    kind: str                          # one of PHOTO_TYPES
    candidates: tuple[str, ...]        # four answers of one kind, exactly one of them `answer`; () for yes/no
    objects: tuple[int, ...]           # indices into the scene's objects that the question is about

    def mask(self, scene: PhotoScene) -> np.ndarray | None:
        """(SIZE, SIZE) bool union of the visible masks of the question's objects, or None (nothing shown)."""
        if not self.objects:
            return None
        return np.any([scene.objects[i].mask for i in self.objects], axis=0)


def _is(noun: str) -> str:
    return "are" if noun.endswith("s") else "is"            # "grapes" is the one plural-only noun


def _a(noun: str) -> str:
    return noun if noun == plural(noun) else f"{article(noun)} {noun}"     # "garlic", "a dog"


def scene_questions(scene: PhotoScene) -> list[PhotoQuestion]:
    """Every question of the scene (deterministic in its seed)."""
    rng = random.Random(f"vqa-{scene.seed}")                # its own stream, apart from the scene's drawing
    objs = scene.objects
    groups: dict[str, list[int]] = {}
    for i, o in enumerate(objs):
        groups.setdefault(o.noun, []).append(i)
    present = tuple(groups)
    pool = [noun for noun, _ in stamp_splits()[split_of(scene.seed)]]   # absent nouns as often as present ones
    out: list[PhotoQuestion] = []

    def add(text: str, answer: str, kind: str, objects: tuple[int, ...], exclude: tuple[str, ...] = ()) -> None:
        cands = () if kind == "yes/no" else four_candidates(answer, rng, text, exclude)
        out.append(PhotoQuestion(scene.seed, text, answer, kind, cands, objects))

    def absent() -> str:
        while (noun := rng.choice(pool)) in groups:
            pass
        return noun

    if len(objs) == 1:
        noun = objs[0].noun
        cat = categories()[noun]
        add("what is this?" if cat == "object" or rng.random() < 0.3 else f"what {cat} is this?", noun, "object",
            (0,), present)
    for noun, idx in groups.items():
        if len(idx) == 1 and objs[idx[0]].colour:
            add(f"what colour {_is(noun)} the {noun}?", objs[idx[0]].colour, "colour", tuple(idx))
    for noun, idx in groups.items():
        add(f"how many {plural(noun)} are there?", COUNTS[len(idx)], "count", tuple(idx))
    if rng.random() < 0.5:
        add(f"how many {plural(absent())} are there?", "zero", "count", ())
    yes = rng.choice(present)
    no = absent()
    add(f"{_is(yes)} there {_a(yes)}?", "yes", "yes/no", tuple(groups[yes]))
    add(f"{_is(no)} there {_a(no)}?", "no", "yes/no", ())
    if len(objs) == 2 and len(groups) == 2:
        left, right = sorted(range(2), key=lambda i: objs[i].x)
        dx, dy = objs[right].x - objs[left].x, abs(objs[right].y - objs[left].y)
        if dx > max(dy, MIN_GAP):
            add(f"what is to the left of the {objs[right].noun}?", objs[left].noun, "relation", (left,), present)
            add(f"what is to the right of the {objs[left].noun}?", objs[right].noun, "relation", (right,), present)
    return out


def split_questions(split: str, n: int, seed: int = 0, cache_dir: str | Path | None = None) -> list[PhotoQuestion]:
    """Questions about the first n photo seeds of a split, cached as JSON in shards of SHARD seeds."""
    seeds = split_seeds(split, n, seed)
    out: list[PhotoQuestion] = []
    for start in range(0, n, SHARD):
        block = seeds[start:start + SHARD]
        path = Path(cache_dir) / f"photo-questions-v{VERSION}-seed{seed}-{split}-{start}.json" if cache_dir else None
        cached = json.loads(path.read_text()) if path is not None and path.exists() else None
        if cached is None or cached["seeds"][:len(block)] != block:
            rows = [asdict(q) for s in block for q in scene_questions(make_photo(s))]
            cached = {"seeds": block, "questions": rows}
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(cached))
                tmp.replace(path)
        wanted = set(block)
        out += [PhotoQuestion(**{**r, "candidates": tuple(r["candidates"]), "objects": tuple(r["objects"])})
                for r in cached["questions"] if r["seed"] in wanted]
    return out
