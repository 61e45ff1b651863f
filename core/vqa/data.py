"""easy-VQA (Zhou 2020, PyPI `easy-vqa==1.0`): questions, answers, shape masks and cached encoder grids.

The package's own train/test split is used unchanged (4,000 / 1,000 images of one coloured shape,
38,575 / 9,673 questions, 13 answers). Each image has a flat background, so the ground-truth mask of its
shape is every pixel whose colour differs from the background's (the most common border colour).
Encoder grids of the captioner's frozen encoder are computed once and cached as fp16 .npy under data/.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from core.common.words import PAD, QUESTION_SPECIALS, UNK, WordVocab
from core.vision.encoder import Encoder

MAX_WORDS = 30                       # questions longer than this are cut (with a message)
COLORS = ("red", "green", "blue", "black", "gray", "teal", "brown", "yellow")
SHAPES = ("circle", "rectangle", "triangle")
QUESTION_TYPES = ("what colour", "what shape", "colour yes/no", "colour yes/no (negated)", "shape yes/no",
                  "shape yes/no (negated)")


class VQADataError(ValueError):
    """The easy-VQA package or its feature cache is missing or inconsistent; the message says how."""


class QuestionError(ValueError):
    """A question that cannot be asked (empty, or no words); the message is for the user."""


SPELLINGS = {"colour": "color", "colours": "colors", "coloured": "colored", "grey": "gray"}  # British -> easy-VQA's


def tokenize(text: str) -> list[str]:
    """Lower-case words (letters of any script, digits, apostrophes: "qué" stays whole) in easy-VQA's spelling;
    punctuation is dropped."""
    return [SPELLINGS.get(w, w) for w in re.findall(r"(?:[^\W_]|')+", text.lower())]


def question_vocab(texts: list[str]) -> WordVocab:
    """Every word of the given texts, sorted, after <pad> and <unk> (a question vocabulary)."""
    return WordVocab([PAD, UNK] + sorted({w for t in texts for w in tokenize(t)}), QUESTION_SPECIALS)


@dataclass
class Question:
    """A question ready for the model: its words as seen (unknown ones shown as <unk>) and what was changed."""
    words: list[str]
    ids: list[int]
    unknown: list[str]
    truncated: int                   # words cut beyond MAX_WORDS (0 if none)

    def notes(self) -> list[str]:
        """User-facing remarks: unknown words and truncation."""
        out = []
        if self.unknown:
            out.append(f"Unknown word(s) read as {UNK}: {', '.join(dict.fromkeys(self.unknown))}.")
        if self.truncated:
            out.append(f"The question was cut to its first {MAX_WORDS} words ({self.truncated} more ignored).")
        return out


def prepare_question(text: str, vocab: WordVocab, max_words: int = MAX_WORDS) -> Question:
    """Tokenize, cap at max_words and map unknown words to <unk>; raises QuestionError if no word is left or none
    is one the model knows."""
    words = tokenize(text or "")
    kept = words[:max_words]
    ids = vocab.ids(kept)
    if all(i == vocab.unk for i in ids):
        raise QuestionError(no_words("The question", text, "a question such as \"what color is the shape?\""))
    return Question([w if i != vocab.unk else UNK for w, i in zip(kept, ids)], ids,
                    [w for w, i in zip(kept, ids) if i == vocab.unk], len(words) - len(kept))


def no_words(what: str, text: str | None, example: str) -> str:
    """Why a text gives no words: it is empty, or none of its words is one the model knows (say, Arabic or emoji)."""
    if not (text or "").strip():
        return f"{what} is empty: type {example}."
    return f"{what} {text.strip()!r:.60} has no word the model reads: it was trained on English questions."


def question_type(text: str) -> str:
    """One of QUESTION_TYPES for an easy-VQA question (its 24 templates)."""
    words = tokenize(text)
    if words[0] == "what":
        return "what colour" if "color" in words else "what shape"
    negated = "not" in words or "no" in words
    about = "colour" if any(w in COLORS for w in words) else "shape"
    return f"{about} yes/no" + (" (negated)" if negated else "")


def answer_kind(answer: str) -> str:
    """'colour', 'shape' or 'yes/no': the candidates of a multiple-choice question share the answer's kind."""
    return "colour" if answer in COLORS else "shape" if answer in SHAPES else "yes/no"


def shape_mask(image: Image.Image) -> np.ndarray:
    """(H, W) bool: pixels whose colour differs from the flat background (the most common border colour)."""
    a = np.asarray(image.convert("RGB")).astype(np.int16)                          # (H, W, 3)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])                       # (4W, 3)
    colours, counts = np.unique(border, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    return np.abs(a - background).sum(-1) > 0


@dataclass
class VQASplit:
    """One split: questions, answer ids, image index per question, image paths and (N, L, D) fp16 grids."""
    name: str
    questions: list[str]
    answers: list[int]
    image_index: np.ndarray          # (Q,) row of `feats` / `paths` for each question
    paths: list[str]
    feats: np.ndarray | None = None  # (N, L, D) float16, memory-mapped
    TYPES: ClassVar[tuple[str, ...]] = QUESTION_TYPES
    GROUNDED: ClassVar[tuple[str, tuple[str, ...]]] = ("colour/shape", ("what colour", "what shape"))

    def image(self, i: int) -> Image.Image:
        """The i-th image of the split (RGB)."""
        return Image.open(self.paths[i]).convert("RGB")

    def types(self) -> list[str]:
        """Question type of every question."""
        return [question_type(q) for q in self.questions]

    def masks_of_image(self, i: int) -> dict[int, np.ndarray]:
        """{question row: (H, W) bool mask of what it is about} for the questions about image i: the shape."""
        mask = shape_mask(self.image(i))
        return {int(q): mask for q in np.flatnonzero(self.image_index == i)}

    def candidate_ids(self, answers: list[str]) -> np.ndarray | None:
        """(Q, 4) fixed multiple-choice answer ids, or None: easy-VQA draws them (core.vqa.batches)."""
        return None


def answer_list() -> list[str]:
    """The package's 13 answers, in its own order (answers.txt)."""
    import easy_vqa
    return easy_vqa.get_answers()


def load_split(name: str) -> VQASplit:
    """Questions and image paths of the package's 'train' or 'test' split (no features)."""
    try:
        import easy_vqa
    except ImportError as e:
        raise VQADataError("easy-VQA is not installed: pip install easy-vqa==1.0") from e
    if name not in ("train", "test"):
        raise VQADataError(f"easy-VQA has splits 'train' and 'test', not {name!r}")
    texts, answers, image_ids = getattr(easy_vqa, f"get_{name}_questions")()
    paths = getattr(easy_vqa, f"get_{name}_image_paths")()
    ids = sorted(paths)
    row = {image_id: k for k, image_id in enumerate(ids)}
    stoi = {a: i for i, a in enumerate(answer_list())}
    return VQASplit(name, texts, [stoi[a] for a in answers], np.array([row[i] for i in image_ids]),
                    [paths[i] for i in ids])


def with_features(split: VQASplit, cache_dir: str | Path, encoder=None,
                  progress: Callable[[int, int], None] | None = None, batch_size: int = 50) -> VQASplit:
    """Attach the (N, 196, 192) encoder grids, computing and caching them once under cache_dir."""
    cache = Path(cache_dir) / f"easy-vqa-{split.name}.npy"
    meta = cache.with_suffix(".json")
    expected = {"n_images": len(split.paths), "encoder": "core.vision.encoder.Encoder", "package": "easy-vqa==1.0"}
    if not (cache.exists() and meta.exists() and json.loads(meta.read_text()) == expected):
        if encoder is None:
            encoder = Encoder()
        cache.parent.mkdir(parents=True, exist_ok=True)
        out = None
        for i in range(0, len(split.paths), batch_size):
            images = [split.image(k) for k in range(i, min(i + batch_size, len(split.paths)))]
            grid = encoder.encode_images(images).numpy().astype(np.float16)   # (b, L, D)
            if out is None:
                tmp = cache.with_suffix(".tmp")
                out = np.lib.format.open_memmap(tmp, "w+", np.float16, (len(split.paths), *grid.shape[1:]))
            out[i:i + len(images)] = grid
            if progress:
                progress(i + len(images), len(split.paths))
        out.flush()
        del out
        tmp.replace(cache)
        meta.write_text(json.dumps(expected))
    split.feats = np.load(cache, mmap_mode="r")
    return split


def select_images(split: VQASplit, rows: np.ndarray, name: str) -> VQASplit:
    """The sub-split of the given image rows (sorted) and all their questions; features follow if attached."""
    rows = np.asarray(sorted(rows))
    new_row = -np.ones(len(split.paths), dtype=np.int64)
    new_row[rows] = np.arange(len(rows))
    keep = np.flatnonzero(new_row[split.image_index] >= 0)
    return VQASplit(name, [split.questions[k] for k in keep], [split.answers[k] for k in keep],
                    new_row[split.image_index[keep]], [split.paths[r] for r in rows],
                    None if split.feats is None else split.feats[rows])
