"""Image to caption and per-word attention maps in one call (Show, Attend and Tell at inference time).

Also the what-if probe: grey out a box of the image and caption again, to see how words and maps move.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .encoder import Encoder, to_input
from .model import Captioner
from .search import Caption, caption


@torch.no_grad()
def describe(image: Image.Image, encoder: Encoder, captioner: Captioner, beam: int = 3) -> Caption:
    """Encode an RGB image and caption it with the given beam size: words and (T, g, g) attention maps."""
    feats = encoder(to_input([image]))[0]                       # (L, D)
    return caption(captioner.model, captioner.vocab, feats, beam)


def mask_box(image: Image.Image, box: tuple[float, float, float, float], fill: int = 128) -> Image.Image:
    """Copy of image with the box (x0, y0, x1, y1, as fractions of width/height) filled grey."""
    w, h = image.size
    x0, y0, x1, y1 = box
    a = np.array(image)
    a[int(round(y0 * h)):int(round(y1 * h)), int(round(x0 * w)):int(round(x1 * w))] = fill
    return Image.fromarray(a)
