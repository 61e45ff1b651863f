"""The photo world as a VQA split: generated questions (core.vqa.photo_questions) about photo seeds whose
late-stage encoder grids the captioner caches (core.vision.worlds.photo_split, shards of 500 seeds)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import torch
from PIL import Image

from core.vision.photo_stamps import noun_forms
from core.vision.photos import make_photo, split_seeds
from core.vision.readout import project_split
from core.vision.worlds import CaptionSplit
from core.vqa.data import VQASplit, tokenize
from core.vqa.photo_questions import (
    PHOTO_TYPES,
    PhotoQuestion,
    photo_answers,
    split_questions,
)

ENCODER_STAGE = "late"       # the encoder stage that knows real objects (see the captioner-photos card)
PHOTO_SEED = 0               # seed of the photo seeds (core.vision.photos.split_seeds), apart from training's


@dataclass
class PhotoVQASplit(VQASplit):
    """A VQASplit whose images are photo seeds (`paths` holds them as text), with fixed candidates and masks."""
    photo_questions: list[PhotoQuestion] = field(default_factory=list)
    TYPES: ClassVar[tuple[str, ...]] = PHOTO_TYPES
    GROUNDED: ClassVar[tuple[str, tuple[str, ...]]] = ("questions with a mask", PHOTO_TYPES)

    def image(self, i: int) -> Image.Image:
        """The photo of the i-th seed."""
        return make_photo(int(self.paths[i])).image

    def types(self) -> list[str]:
        """Question type of every question (one of PHOTO_TYPES)."""
        return [q.kind for q in self.photo_questions]

    def masks_of_image(self, i: int) -> dict[int, np.ndarray]:
        """{question row: visible mask of its objects} for the questions about image i that show something."""
        scene = make_photo(int(self.paths[i]))
        masks = {int(q): self.photo_questions[q].mask(scene) for q in np.flatnonzero(self.image_index == i)}
        return {q: m for q, m in masks.items() if m is not None}

    def candidate_ids(self, answers: list[str]) -> np.ndarray:
        """(Q, 4) answer ids of each question's four candidates; yes/no questions get (yes, no) and two empty
        slots (len(answers)), so that the candidate-scoring loss sees them too."""
        stoi = {a: i for i, a in enumerate(answers)}
        out = np.full((len(self.photo_questions), 4), len(answers))
        for k, q in enumerate(self.photo_questions):
            cands = q.candidates or ("yes", "no")
            out[k, :len(cands)] = [stoi[c] for c in cands]
        return out


def photo_vqa_split(split: str, n: int, seed: int, feats: np.ndarray, question_dir: str | Path | None
                    ) -> PhotoVQASplit:
    """Questions about the first n seeds of a split, over their (n, L, D) grids (raw or projected)."""
    if len(feats) != n:
        raise ValueError(f"{len(feats)} feature grids for {n} {split} photos")
    seeds = split_seeds(split, n, seed)
    row = {s: k for k, s in enumerate(seeds)}
    stoi = {a: i for i, a in enumerate(photo_answers())}
    qs = split_questions(split, n, seed, question_dir)
    return PhotoVQASplit(split, [q.text for q in qs], [stoi[q.answer] for q in qs],
                         np.array([row[q.seed] for q in qs]), [str(s) for s in seeds], feats, qs)


def photo_features(raw: CaptionSplit, read: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   width: int = 0) -> np.ndarray:
    """(N, L, D) float16 grids of a cached photo split (core.vision.worlds.photo_split) in memory, read by a
    frozen map to `width` dimensions when one is given (the model's projection, and concepts)."""
    if read is None:
        return np.asarray(raw.feats[np.arange(len(raw.feats))])
    return project_split(raw, read, width).feats


def attention_targets(split: PhotoVQASplit, masks: np.ndarray, nouns: list[list[str]]) -> torch.Tensor:
    """(Q, L) grid weights of what each question is about, scaled so that its best-covered cell is 1, from the
    split's per-noun grid masks (core.vision.worlds.photo_masks: (N, MAX_NOUNS, L) and each image's nouns); rows
    of zeros for questions that show nothing ("is there" answered no, zero counts). Left/right and "what is
    this" questions are about their answer's object, the others about the noun they name."""
    forms = noun_forms()
    out = np.zeros((len(split.photo_questions), masks.shape[-1]), np.float32)
    for k, q in enumerate(split.photo_questions):
        if not q.objects:
            continue
        i = int(split.image_index[k])
        noun = q.answer if q.kind in ("object", "relation") else next(
            forms[w] for w in reversed(tokenize(q.text)) if forms.get(w) in nouns[i])
        row = masks[i, nouns[i].index(noun)].astype(np.float32)
        out[k] = row / max(float(row.max()), 1e-6)
    return torch.from_numpy(out)
