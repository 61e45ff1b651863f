"""Noun evidence for photo-world VQA: where, and how much of, the noun a question names shows in the image.

The grid's concept channels (core.vision.concepts) give, per cell, the ImageNet head's log-lift for each
photo-world noun. A question word that names a noun selects that noun's channel (the captioner's copy map,
core.vision.concepts.copy_map), so "how many dogs are there?" reads the dog channel as a (L,) evidence map.
The map steers attention (model.py), and the count pathway here reads its strongest cells, sorted, so that
the answer sees how strongly and over how many cells the noun shows: what "zero" or "is there" turns on, and
the nearest thing to a count that a single softmax attention (which averages, never sums) cannot give.
"""
from __future__ import annotations

import torch
from torch import nn

TOP_CELLS = 8           # the strongest evidence cells the count pathway reads
LIFT_SCALE = 4.0        # a typical log-lift of a cell that shows its noun; brings the features near 1


def named_concepts(tokens: torch.Tensor, copy_map: torch.Tensor) -> torch.Tensor:
    """(B, T) question word ids and the (K, V) word-to-concept map -> (B, K) 0/1: the concepts the question names."""
    return copy_map.t()[tokens].sum(1).clamp(max=1.0)                          # (B, K)


def noun_evidence(concept_grid: torch.Tensor, tokens: torch.Tensor, copy_map: torch.Tensor) -> torch.Tensor:
    """Per-cell evidence (B, L) for the nouns each question names, from (B, L, K) concept log-lifts; all zero
    for a question that names none."""
    return torch.einsum("blk,bk->bl", concept_grid, named_concepts(tokens, copy_map))


class CountPathway(nn.Module):
    """The sorted top cells of the evidence map -> a (B, H) vector added to the fused query (zero when the
    question names no concept noun)."""

    def __init__(self, hidden_size: int, top: int = TOP_CELLS) -> None:
        super().__init__()
        self.top = top
        self.mlp = nn.Sequential(nn.Linear(top, 64), nn.ReLU(), nn.Linear(64, hidden_size))

    def forward(self, evidence: torch.Tensor, tokens: torch.Tensor, copy_map: torch.Tensor) -> torch.Tensor:
        k = min(self.top, evidence.shape[1])
        cells = evidence.topk(k, dim=1).values / LIFT_SCALE                       # (B, k) strongest first
        cells = nn.functional.pad(cells, (0, self.top - k))                       # (B, top)
        named = named_concepts(tokens, copy_map).amax(1, keepdim=True)            # (B, 1)
        return self.mlp(cells) * named                                            # (B, H)
