"""Colour channels for photo-world VQA: per grid cell, the share of its pixels under each basic colour name.

The late encoder stage is semantic and keeps little colour: with four candidates the shipped model answered
61% of colour questions (question-only 44%), and on validation it called grey things brown or blue. The photo
world names an object's colour by the basic colour name most of its pixels have (core.vision.photos.
colour_names), so the same naming, counted per cell of the encoder's grid, puts exactly that evidence beside
the grid: attention over the object's cells then reads its colour off these channels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from core.vision.photos import COLOUR_NAMES, colour_names
from core.vision.worlds import photo_grids

CELL_PIXELS = 16         # pixels per cell side once the image is squashed to the grid
N_COLOURS = len(COLOUR_NAMES)


def colour_grid(image: Image.Image, grid: int) -> np.ndarray:
    """(grid * grid, N_COLOURS) float16: each cell's share of pixels per colour name, on the image squashed to a
    square as the encoder reads it."""
    side = grid * CELL_PIXELS
    rgb = np.asarray(image.convert("RGB").resize((side, side), Image.BILINEAR)).reshape(-1, 3)
    names = colour_names(rgb).reshape(grid, CELL_PIXELS, grid, CELL_PIXELS)
    shares = np.eye(N_COLOURS, dtype=np.float32)[names].mean(axis=(1, 3))      # (grid, grid, N_COLOURS)
    return shares.reshape(grid * grid, N_COLOURS).astype(np.float16)


def photo_colours(split: str, n: int, seed: int, cache_dir: str | Path, grid: int,
                  on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(N, grid * grid, N_COLOURS) colour grids of the first n photos of a photo-world split, cached in shards."""
    grids, _ = photo_grids(split, n, seed, cache_dir, f"colours{grid}",
                           lambda scene: (colour_grid(scene.image, grid), None), on_progress)
    return grids


def with_photo_colours(feats: np.ndarray, split: str, seed: int, cache_dir: str | Path) -> np.ndarray:
    """(N, L, D) grids of the first N photos of a photo-world split -> (N, L, D + N_COLOURS), their colour grids
    (cached in cache_dir) appended to every cell."""
    grid = int(round(feats.shape[1] ** 0.5))
    return np.concatenate([feats, photo_colours(split, len(feats), seed, cache_dir, grid).astype(feats.dtype)], -1)
