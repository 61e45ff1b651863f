"""Encoder features of the generated worlds, computed once and cached: the scene world (`core.vision.scenes`)
and the photo world (`core.vision.photos`), each a split of (annotation vectors, reference captions).

Features are cached as float16 .npy files (e.g. under `data/caption/`); the photo world's are cached in shards
of SHARD images, so that a larger split reuses the shards of a smaller one. `photo_grids` caches any other
per-photo array (object masks on the grid, colour grids) the same way.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from core.common.words import tokenize
from core.vision.photos import make_photo
from core.vision.photos import split_seeds as photo_seeds
from core.vision.scenes import make_scene
from core.vision.scenes import split_seeds as scene_seeds

SHARD = 500


class ShardedFeatures:
    """Row-indexable view over several (n_i, L, D) arrays (memory-mapped shards), like one (N, L, D) array."""

    def __init__(self, shards: list[np.ndarray]) -> None:
        self.shards = shards
        self.starts = np.cumsum([0] + [len(s) for s in shards])
        self.shape = (int(self.starts[-1]),) + tuple(shards[0].shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx):
        if np.isscalar(idx):
            k = int(np.searchsorted(self.starts, idx, side="right")) - 1
            return self.shards[k][int(idx) - self.starts[k]]
        return np.stack([self[int(i)] for i in np.asarray(idx)])


@dataclass
class CaptionSplit:
    """Cached annotation vectors and the reference captions of one split."""
    feats: np.ndarray | ShardedFeatures   # (N, L, D) float16
    captions: list[list[list[str]]]   # N images x refs x tokens
    keys: list[str]                   # scene seed or image filename, one per image


def _cached(path: Path, names: list[str], images: Callable[[int, int], list], encoder,
            batch_size: int = 32, on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Load the feature cache at path (or its first rows, if those are the names), or encode and write it."""
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and json.loads(meta.read_text())[:len(names)] == names:
        return np.load(path, mmap_mode="r")[:len(names)]
    path.parent.mkdir(parents=True, exist_ok=True)
    chunks = []
    for i in range(0, len(names), batch_size):
        j = min(i + batch_size, len(names))
        chunks.append(encoder.encode_images(images(i, j)).numpy().astype(np.float16))
        if on_progress:
            on_progress(j, len(names))
    feats = np.concatenate(chunks)
    np.save(path, feats)
    meta.write_text(json.dumps(names))
    return feats


def scene_split(split: str, n: int, seed: int, cache_dir: str | Path, encoder,
                on_progress: Callable[[int, int], None] | None = None) -> CaptionSplit:
    """Scene-world split of n images (features cached in cache_dir)."""
    seeds = scene_seeds(split, n, seed)
    scenes_caps = [[tokenize(c) for c in make_scene(s).captions] for s in seeds]
    feats = _cached(Path(cache_dir) / f"scenes-seed{seed}-{split}-{n}.npy", [str(s) for s in seeds],
                    lambda i, j: [make_scene(s).image for s in seeds[i:j]], encoder, on_progress=on_progress)
    return CaptionSplit(feats, scenes_caps, [str(s) for s in seeds])


def photo_shard(split: str, start: int, n: int, seed: int, cache_dir: str | Path, encoder,
                on_progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[list[str]]]:
    """Features (cached per encoder stage) and captions (cached) of photo seeds start .. start+n of a split."""
    block = [str(s) for s in photo_seeds(split, start + n, seed)[start:]]
    stem = Path(cache_dir) / f"photos-seed{seed}-{split}-{start}"
    cap_file = stem.with_suffix(".captions.json")
    known = json.loads(cap_file.read_text()) if cap_file.exists() else {}
    made: dict[str, list[str]] = {}

    def images(i: int, j: int) -> list:
        scenes = [make_photo(int(s)) for s in block[i:j]]
        made.update({s: sc.captions for s, sc in zip(block[i:j], scenes)})
        return [sc.image for sc in scenes]
    feats = _cached(Path(f"{stem}-{encoder.stage}.npy"), block, images, encoder, on_progress=on_progress)
    missing = [s for s in block if s not in known and s not in made]
    made.update({s: make_photo(int(s)).captions for s in missing})
    if made:
        known.update(made)
        cap_file.parent.mkdir(parents=True, exist_ok=True)
        cap_file.write_text(json.dumps(known))
    return feats, [known[s] for s in block]


def photo_split(split: str, n: int, seed: int, cache_dir: str | Path, encoder,
                on_progress: Callable[[int, int], None] | None = None) -> CaptionSplit:
    """Photo-world split of n images, from shards of SHARD seeds (a larger split reuses a smaller one's)."""
    caps, shards = [], []
    for start in range(0, n, SHARD):
        progress = (lambda i, m, start=start: on_progress(start + i, n)) if on_progress else None
        feats, shard_caps = photo_shard(split, start, min(SHARD, n - start), seed, cache_dir, encoder, progress)
        shards.append(feats)
        caps += [[tokenize(c) for c in cs] for cs in shard_caps]
    return CaptionSplit(ShardedFeatures(shards), caps, [str(s) for s in photo_seeds(split, n, seed)])


MAX_NOUNS = 3     # a photo-world image has 1 to 3 objects, so at most 3 distinct nouns


def noun_grid_masks(objects, grid: int) -> tuple[np.ndarray, list[str]]:
    """Each distinct noun's union mask pooled onto the encoder grid: (MAX_NOUNS, grid * grid) covered fractions
    (rows past the nouns are zero), and the nouns in order of first appearance."""
    nouns = list(dict.fromkeys(o.noun for o in objects))
    out = np.zeros((MAX_NOUNS, grid * grid), np.float16)
    for k, noun in enumerate(nouns):
        union = np.any([o.mask for o in objects if o.noun == noun], axis=0)
        pooled = Image.fromarray(union.astype(np.uint8) * 255).resize((grid, grid), Image.BOX)
        out[k] = np.asarray(pooled, np.float32).ravel() / 255.0
    return out, nouns


def photo_grids(split: str, n: int, seed: int, cache_dir: str | Path, name: str,
                compute: Callable[[object], tuple[np.ndarray, object]],
                on_progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list]:
    """Per-photo arrays (N, ...) of the first n seeds of a split and a JSON-able extra per photo, from
    compute(scene) -> (array, extra), cached as `{name}.npy` / `{name}.json` in shards of SHARD seeds."""
    arrays, extras = [], []
    for start in range(0, n, SHARD):
        block = photo_seeds(split, start + min(SHARD, n - start), seed)[start:]
        stem = Path(cache_dir) / f"photos-seed{seed}-{split}-{start}.{name}"
        names = Path(f"{stem}.json")
        cached = json.loads(names.read_text()) if names.exists() else None
        stale = cached is None or "extras" not in cached          # none yet, or an older cache's layout
        if stale or [int(s) for s in cached["seeds"][:len(block)]] != block:
            made = [compute(make_photo(s)) for s in block]
            cached = {"seeds": block, "extras": [m[1] for m in made]}
            stem.parent.mkdir(parents=True, exist_ok=True)
            np.save(f"{stem}.npy", np.stack([m[0] for m in made]))
            names.write_text(json.dumps(cached))
        arrays.append(np.load(f"{stem}.npy")[:len(block)])
        extras += cached["extras"][:len(block)]
        if on_progress:
            on_progress(start + len(block), n)
    return np.concatenate(arrays), extras


def photo_masks(split: str, n: int, seed: int, cache_dir: str | Path, grid: int,
                on_progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[list[str]]]:
    """Grid masks (N, MAX_NOUNS, grid * grid) and nouns of a photo-world split (cached by photo_grids)."""
    return photo_grids(split, n, seed, cache_dir, f"masks{grid}", lambda scene: noun_grid_masks(scene.objects, grid),
                       on_progress)
