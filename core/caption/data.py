"""Caption data from a real dataset: the standard Karpathy-split JSON of Flickr8k / Flickr30k / COCO
(`{"images": [{"filename", "filepath"?, "split", "sentences": [{"tokens"}]}]}`), encoded once and cached like
the generated worlds (`core.vision.worlds`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from core.common.io import parse_json, read_bounded
from core.common.words import tokenize
from core.vision.images import ImageError, load_image_file
from core.vision.worlds import CaptionSplit, _cached

MAX_JSON_BYTES = 1_000_000_000  # COCO's Karpathy JSON has about 140 MB


class CaptionDataError(ValueError):
    """A dataset file or image folder that cannot be used; the message says why."""


def read_karpathy_json(path: str | Path) -> dict[str, list[tuple[str, list[list[str]]]]]:
    """Karpathy-split JSON -> {"train"|"val"|"test": [(relative image path, [tokens, ...])]} ("restval" joins train)."""
    try:
        raw = read_bounded(path, MAX_JSON_BYTES, follow_symlinks=True)
    except (OSError, ValueError) as e:
        raise CaptionDataError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    data = parse_json(raw, str(path), "Karpathy-split JSON", CaptionDataError)
    try:
        images = data["images"]
    except (KeyError, TypeError) as e:
        raise CaptionDataError(f"{path} is not a Karpathy-split JSON (no top-level 'images' list)") from e
    splits: dict[str, list[tuple[str, list[list[str]]]]] = {"train": [], "val": [], "test": []}
    for k, img in enumerate(images):
        try:
            rel = str(Path(img.get("filepath", "")) / img["filename"])
            sents = [s["tokens"] if s.get("tokens") else tokenize(s["raw"]) for s in img["sentences"]]
            split = "train" if img["split"] == "restval" else img["split"]
        except (KeyError, TypeError, AttributeError) as e:
            raise CaptionDataError(f"{path}: image entry {k} lacks filename/split/sentences ({e})") from e
        if split not in splits:
            raise CaptionDataError(f"{path}: image entry {k} has unknown split {img['split']!r}")
        splits[split].append((rel, [[w.lower() for w in s] for s in sents]))
    if not splits["train"]:
        raise CaptionDataError(f"{path} has no training images")
    return splits


def karpathy_split(entries: list[tuple[str, list[list[str]]]], images_dir: str | Path, name: str,
                   cache_dir: str | Path, encoder,
                   on_progress: Callable[[int, int], None] | None = None) -> CaptionSplit:
    """Encode (and cache) the images of one Karpathy split read from images_dir."""
    root = Path(images_dir)
    missing = [rel for rel, _ in entries if not (root / rel).is_file()]
    if missing:
        raise CaptionDataError(f"{len(missing)} image(s) missing under {root}, e.g. {missing[0]}")

    def load(i: int, j: int) -> list:
        out = []
        for rel, _ in entries[i:j]:
            try:
                out.append(load_image_file(root / rel).image)
            except ImageError as e:
                raise CaptionDataError(f"{root / rel}: {e}") from e
        return out

    names = [rel for rel, _ in entries]
    feats = _cached(Path(cache_dir) / f"{name}.npy", names, load, encoder, on_progress=on_progress)
    return CaptionSplit(feats, [caps for _, caps in entries], names)
