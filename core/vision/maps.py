"""Reading Show, Attend and Tell's attention maps: smooth upsampling, entropy, and grounding in object masks.

Grounding follows the usual checks of attention maps against boxes or masks: the share of attention mass
inside the named object's mask (beside a uniform map's share, which is the mask's area fraction), and the
pointing game (Zhang et al. 2016): does the peak of the upsampled map fall inside the mask (beside the
chance that a uniformly random point does).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.vision.scenes import COLORS, SHAPES, SceneObject


def upsample_map(alpha: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of one (g, g) attention map to (height, width), mass-preserving in mean."""
    t = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None]   # (1, 1, g, g)
    up = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    return up.clamp_min(0).numpy()


def entropy(alpha: np.ndarray) -> float:
    """Entropy of one attention distribution in nats (log L for uniform over L locations)."""
    p = alpha.reshape(-1).astype(np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def max_entropy(grid: int) -> float:
    """Entropy of the uniform map over grid x grid locations."""
    return math.log(grid * grid)


def word_masks(words: list[str], objects: list[SceneObject]) -> list[np.ndarray | None]:
    """For each word: the union mask of the objects it names (colour or shape word, read with its
    neighbouring colour/shape word), or None if it names no object (non-object word or hallucination)."""
    out: list[np.ndarray | None] = []
    for i, w in enumerate(words):
        shape = w[:-1] if w.endswith("s") and w[:-1] in SHAPES else w
        if w in COLORS:
            nxt = words[i + 1] if i + 1 < len(words) else ""
            nxt = nxt[:-1] if nxt.endswith("s") else nxt
            picked = [o for o in objects if o.color == w and o.shape == nxt] or [o for o in objects if o.color == w]
        elif shape in SHAPES:
            col = words[i - 1] if i > 0 else ""
            picked = [o for o in objects if o.shape == shape and o.color == col] or \
                     [o for o in objects if o.shape == shape]
        else:
            out.append(None)
            continue
        out.append(np.any([o.mask for o in picked], axis=0) if picked else None)
    return out


def grounding(alphas: np.ndarray, words: list[str], objects: list[SceneObject],
              masks: list[np.ndarray | None] | None = None) -> list[dict]:
    """Per object word: attention mass in its mask, the uniform baseline, pointing-game hit and its chance.
    masks gives each word's object mask (None: not an object word); by default the scene world's reading."""
    rows = []
    for t, mask in enumerate(word_masks(words, objects) if masks is None else masks):
        if mask is None:
            continue
        up = upsample_map(alphas[t], *mask.shape)
        up = up / up.sum()
        peak = np.unravel_index(int(up.argmax()), up.shape)
        rows.append({"word": words[t], "mass": float(up[mask].sum()), "uniform_mass": float(mask.mean()),
                     "hit": bool(mask[peak]), "uniform_hit": float(mask.mean())})
    return rows
