"""The open vocabulary: the basic-level English noun of every ImageNet-1k class (WordNet hypernyms, built once by
core.vision.wordnet into imagenet_nouns.json) and "person" from the face detector, with plurals.

A caption or an answer that names what the encoder recognises says these nouns, not the ImageNet class names
("cat", not "Egyptian Mau"); `in_photo_noun` says when an open noun names a photo-world noun (a cheetah is a
"cat" there, a bee an "insect"), through the ImageNet classes the two share.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import torch

from core.vision.concepts import NOUN_CLASSES

TABLE = Path(__file__).with_name("imagenet_nouns.json")
PERSON = "person"


@lru_cache(maxsize=1)
def _table() -> dict:
    return json.loads(TABLE.read_text())


def class_nouns() -> list[str]:
    """The basic-level noun of each ImageNet-1k class, in class index order (1000)."""
    return [c["noun"] for c in _table()["classes"]]


def open_nouns() -> list[str]:
    """Every noun of the open vocabulary (the ImageNet nouns and "person"), sorted."""
    return sorted(_table()["plurals"])


def plural(noun: str) -> str:
    """The plural of an open-vocabulary noun ("people" for "person")."""
    return _table()["plurals"][noun]


@lru_cache(maxsize=1)
def singular_forms() -> dict[str, str]:
    """Singular and plural form of every open noun -> the noun."""
    out = {}
    for noun, many in _table()["plurals"].items():
        out[noun] = out[many] = noun
    return out


def class_to_noun_matrix() -> torch.Tensor:
    """(1000, N) 0/1 matrix: ImageNet class i is named by open noun n (column order of open_nouns())."""
    index = {n: k for k, n in enumerate(open_nouns())}
    m = torch.zeros(1000, len(index))
    for i, noun in enumerate(class_nouns()):
        m[i, index[noun]] = 1.0
    return m


@lru_cache(maxsize=None)
def classes_of(noun: str) -> tuple[int, ...]:
    """The ImageNet classes an open noun names."""
    return tuple(i for i, n in enumerate(class_nouns()) if n == noun)


def in_photo_noun(open_noun: str, photo_noun: str) -> bool:
    """Whether an open noun names a photo-world noun: the same word, or ImageNet classes of the open noun that
    the photo noun's concept covers (core.vision.concepts: "cheetah" is a "cat", "bee" an "insect")."""
    if open_noun == photo_noun:
        return True
    return bool(set(classes_of(open_noun)) & set(NOUN_CLASSES.get(photo_noun, ())))
