"""Faces in a photo: MTCNN (Zhang et al. 2016, "Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks"), the three-stage cascade P-Net -> R-Net -> O-Net.

P-Net slides over an image pyramid (a 12 px window, stride 2) and proposes boxes with a face probability and a
box correction; R-Net re-scores 24 px crops of the survivors and O-Net 48 px crops, each stage keeping boxes above
its threshold, correcting them and removing overlaps (non-maximum suppression). The weights are the ones
`facenet-pytorch==2.6.0` (MIT) ships, converted once to checkpoints/faces-mtcnn/model.safetensors
(`convert_facenet`); the networks, pyramid, crops and suppression here are plain torch (no torchvision).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

CHECKPOINT = Path(__file__).resolve().parents[2] / "checkpoints" / "faces-mtcnn"
THRESHOLDS = (0.6, 0.7, 0.7)      # P-, R-, O-Net face probability to keep a box (the MTCNN defaults)
MAX_SIDE = 640                    # photos are searched at most this many pixels on their long side
MIN_FACE = 40                     # px at that size: faces of 1/16 the long side and up (the pyramid's cost
                                  # falls with it: 0.46 s against 1.2 s for 20 px on the cameraman, 2 cores)


@dataclass
class Face:
    """A face box (x0, y0, x1, y1) in pixels of the photo and O-Net's face probability."""
    box: tuple[float, float, float, float]
    prob: float


class PNet(nn.Module):
    """Proposal net, fully convolutional: (B, 3, H, W) -> face prob (B, h, w), box corrections (B, 4, h, w)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), 1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refine net: (B, 3, 24, 24) crops -> face prob (B,), box corrections (B, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).flatten(1)   # (B, 576) in the Caffe weights' order
        x = self.prelu4(self.dense4(x))
        return torch.softmax(self.dense5_1(x), 1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output net: (B, 3, 48, 48) crops -> face prob (B,), box corrections (B, 4) (its landmarks are not read)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).flatten(1)   # (B, 1152)
        x = self.prelu5(self.dense5(x))
        return torch.softmax(self.dense6_1(x), 1)[:, 1], self.dense6_2(x)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, by_min: bool = False) -> torch.Tensor:
    """Greedy non-maximum suppression of boxes (K, 4): indices kept, best first. Overlap is intersection over
    union, or over the smaller box (by_min, O-Net's last pass: a box inside a bigger face goes)."""
    order = scores.argsort(descending=True)
    b = boxes[order]
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)        # (K,)
    lo, hi = torch.maximum(b[:, None, :2], b[None, :, :2]), torch.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = (hi - lo).clamp(min=0).prod(-1)                                            # (K, K)
    denom = torch.minimum(area[:, None], area[None]) if by_min else area[:, None] + area[None] - inter
    overlap = inter / denom.clamp(min=1e-9)
    gone, keep = torch.zeros(len(b), dtype=torch.bool), []
    for i in range(len(b)):
        if not gone[i]:
            keep.append(i)
            gone |= overlap[i] > threshold
    return order[keep]


def _correct(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Apply box corrections (K, 4), given as fractions of the box's width and height."""
    wh = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)                                    # (K, 4)
    return boxes + reg * wh


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """The square around each box's centre with the box's longer side."""
    centre, side = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]).max(1).values
    return torch.cat([centre - side[:, None] / 2, centre + side[:, None] / 2], 1)


def _crops(x: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crops of x (1, 3, H, W) at boxes (K, 4), zero outside the image, resized to (K, 3, size, size)."""
    H, W = x.shape[-2:]
    out = []
    for x0, y0, x1, y1 in boxes.round().int().tolist():
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        crop = torch.zeros(1, 3, y1 - y0, x1 - x0)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
        if sx1 > sx0 and sy1 > sy0:
            crop[..., sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = x[..., sy0:sy1, sx0:sx1]
        out.append(F.interpolate(crop, size=(size, size), mode="area"))
    return torch.cat(out) if out else torch.zeros(0, 3, size, size)


class FaceDetector(nn.Module):
    """The MTCNN cascade; `detect(image)` lists the faces of an RGB photo."""

    def __init__(self) -> None:
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def detect(self, image: Image.Image, min_face: int = MIN_FACE, factor: float = 0.709) -> list[Face]:
        """Faces at least min_face px (of the photo searched at MAX_SIDE px), most probable first."""
        shrink = min(1.0, MAX_SIDE / max(image.size))
        small = image.convert("RGB").resize((max(1, round(image.width * shrink)), max(1, round(image.height * shrink))),
                                            Image.BILINEAR)
        x = (torch.from_numpy(np.asarray(small, dtype=np.float32)).permute(2, 0, 1)[None] - 127.5) / 128  # (1,3,H,W)
        boxes = self._propose(x, min_face, factor)
        for net, size, thr in ((self.rnet, 24, THRESHOLDS[1]), (self.onet, 48, THRESHOLDS[2])):
            if not len(boxes):
                return []
            boxes = _square(boxes[:, :4])
            prob, reg = net(_crops(x, boxes, size))
            keep = prob > thr
            boxes = torch.cat([_correct(boxes[keep], reg[keep]), prob[keep, None]], 1)     # (K, 5)
            boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7, by_min=net is self.onet)]
        return [Face(tuple(v / shrink for v in b[:4].tolist()), float(b[4])) for b in boxes]

    def _propose(self, x: torch.Tensor, min_face: int, factor: float) -> torch.Tensor:
        """P-Net over the image pyramid: candidate boxes (K, 5) = corrected (x0, y0, x1, y1) and probability."""
        H, W = x.shape[-2:]
        scale, found = 12 / min_face, []
        while min(H, W) * scale >= 12:
            level = F.interpolate(x, size=(int(H * scale + 1), int(W * scale + 1)), mode="area")
            prob, reg = self.pnet(level)                                          # (1, h, w), (1, 4, h, w)
            ys, xs = torch.nonzero(prob[0] >= THRESHOLDS[0], as_tuple=True)
            if len(ys):
                corner = torch.stack([xs, ys], 1).float() * 2                     # stride 2 of the 12 px window
                boxes = torch.cat([corner, corner + 12], 1) / scale               # (K, 4) in pixels
                score, r = prob[0, ys, xs], reg[0][:, ys, xs].T                   # (K,), (K, 4)
                top = score.argsort(descending=True)[:1000]
                boxes, score, r = boxes[top], score[top], r[top]
                keep = nms(boxes, score, 0.5)
                found.append(torch.cat([_correct(boxes[keep], r[keep]), score[keep, None]], 1))
            scale *= factor
        if not found:
            return torch.zeros(0, 5)
        boxes = torch.cat(found)
        return boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]


@lru_cache(maxsize=1)
def load_detector(path: str = str(CHECKPOINT)) -> FaceDetector:
    """The face detector with the shipped weights (safetensors; never a pickle)."""
    from safetensors.torch import load_file
    det = FaceDetector()
    det.load_state_dict({k: v.float() for k, v in load_file(str(Path(path) / "model.safetensors")).items()})
    return det


def convert_facenet(data_dir: Path, out: Path = CHECKPOINT) -> Path:
    """Once, by hand: facenet-pytorch's pnet.pt/rnet.pt/onet.pt (its wheel's data/ folder, read with
    weights_only=True) -> out/model.safetensors and out/card.json."""
    from safetensors.torch import save_file
    state = {}
    for name in ("pnet", "rnet", "onet"):
        for k, v in torch.load(Path(data_dir) / f"{name}.pt", map_location="cpu", weights_only=True).items():
            state[f"{name}.{k}"] = v.float().contiguous()
    FaceDetector().load_state_dict(state)                     # every tensor has its place
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "model.safetensors"))
    (out / "card.json").write_text(json.dumps({
        "model": "MTCNN face detector (Zhang et al. 2016): P-Net, R-Net, O-Net",
        "source": "PyPI facenet-pytorch==2.6.0 (pip download facenet-pytorch==2.6.0 --no-deps), "
                  "facenet_pytorch/data/{pnet,rnet,onet}.pt, read with torch.load(weights_only=True)",
        "licence": "MIT (facenet-pytorch); the weights are its port of the original MTCNN Caffe models",
        "n_params": sum(v.numel() for v in state.values()),
        "converted_by": "core.vision.faces.convert_facenet"}, indent=1))
    return out.astype(np.float32)


def person_grid(faces: list[Face], size: tuple[int, int], grid: int) -> np.ndarray:
    """(grid, grid) share of each cell a person covers, times its face probability: the face box widened by half a
    face width each side and reaching two face heights down (head and shoulders), over an image of size (W, H)."""
    W, H = size
    edges_x, edges_y = np.linspace(0, W, grid + 1), np.linspace(0, H, grid + 1)
    out = np.zeros((grid, grid), np.float32)
    for f in faces:
        x0, y0, x1, y1 = f.box
        w, h = x1 - x0, y1 - y0
        bx0, bx1, by0, by1 = x0 - 0.5 * w, x1 + 0.5 * w, y0 - 0.25 * h, y1 + 2 * h
        cover_x = (np.minimum(edges_x[1:], bx1) - np.maximum(edges_x[:-1], bx0)).clip(0) / np.diff(edges_x)
        cover_y = (np.minimum(edges_y[1:], by1) - np.maximum(edges_y[:-1], by0)).clip(0) / np.diff(edges_y)
        out = np.maximum(out, f.prob * cover_y[:, None] * cover_x[None, :])      # (grid, grid)
    return out.astype(np.float32)
