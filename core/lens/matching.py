"""The same cell across models: match the cells of two models run on the same text, one to one.

As in studies of convergent learning across networks (Li, Yosinski et al., 2016), each cell is described by
its activation sequence over a shared text; two cells are alike when their sequences correlate.  Pearson r
between every cell of model A and every cell of model B is one matrix product of the standardised
sequences.  Matching is done per unit (layer, index): an LSTM unit has an h and a c that often track the
same thing, so a unit's similarity to a unit of B is the largest |r| over their kinds (h and c), and the
best one-to-one matching of units maximises the summed similarity (Hungarian algorithm, scipy's
linear_sum_assignment).  A named cell of A (a quote cell) has a counterpart in B when its unit's partner
reaches |r| >= a threshold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.lens.activations import Activations

Cell = tuple[str, int, int]  # (kind, layer, unit)
Unit = tuple[int, int]       # (layer, unit)


@dataclass(frozen=True)
class Matching:
    """One-to-one pairs of units of A and B with their correlation r (signed, of the best-matching kinds)."""
    units_a: list[Unit]
    units_b: list[Unit]
    pairs: dict[Unit, tuple[Unit, float]]   # unit of A -> (its partner in B, r)
    best: dict[Unit, tuple[Unit, float]]    # unit of A -> (B's most correlated unit, r), ignoring one-to-one


def standardised(acts: Activations, kinds: tuple[str, ...]) -> tuple[list[Cell], torch.Tensor]:
    """Every cell of the given kinds as rows of zero-mean, unit-variance sequences: (N, T) float32."""
    kinds = tuple(k for k in kinds if k in acts.states)
    cells, rows = [], []
    for k in kinds:
        mean, std = acts.column_stats(k)  # (L, H)
        x = torch.from_numpy(acts.states[k]).reshape(-1, len(acts))  # (L*H, T)
        scale = torch.from_numpy(1.0 / np.maximum(std, 1e-8)).float().reshape(-1, 1)
        rows.append((x - torch.from_numpy(mean).float().reshape(-1, 1)) * scale)
        cells += [(k, l, u) for l in range(acts.n_layer) for u in range(acts.hidden_size)]
    return cells, torch.cat(rows)


def correlation(acts_a: Activations, acts_b: Activations, kinds: tuple[str, ...] = ("h", "c")
                ) -> tuple[list[Cell], list[Cell], np.ndarray]:
    """Pearson r of every cell of A with every cell of B over the same text: (N_a, N_b)."""
    if len(acts_a) != len(acts_b):
        raise ValueError(f"the activations cover {len(acts_a)} and {len(acts_b)} characters: use the same text")
    cells_a, za = standardised(acts_a, kinds)
    cells_b, zb = standardised(acts_b, kinds)
    return cells_a, cells_b, (za @ zb.T).div_(len(acts_a)).numpy()  # (N_a, N_b)


def unit_correlation(acts_a: Activations, acts_b: Activations, kinds: tuple[str, ...] = ("h", "c")
                     ) -> tuple[list[Unit], list[Unit], np.ndarray]:
    """Per pair of units, the r of largest magnitude over their kinds: (U_a, U_b) signed."""
    cells_a, cells_b, r = correlation(acts_a, acts_b, kinds)
    ua, ub = acts_a.n_layer * acts_a.hidden_size, acts_b.n_layer * acts_b.hidden_size
    ka, kb = len(cells_a) // ua, len(cells_b) // ub
    r4 = r.reshape(ka, ua, kb, ub).transpose(1, 3, 0, 2).reshape(ua, ub, ka * kb)  # (U_a, U_b, kinds pairs)
    pick = np.abs(r4).argmax(axis=2)[..., None]
    units = lambda cells, n: [(l, u) for _, l, u in cells[:n]]  # noqa: E731  the first kind lists every unit
    return units(cells_a, ua), units(cells_b, ub), np.take_along_axis(r4, pick, axis=2)[..., 0]


def match_cells(acts_a: Activations, acts_b: Activations, kinds: tuple[str, ...] = ("h", "c")) -> Matching:
    """Best one-to-one matching of the units of two models by |r| of their activation sequences."""
    from scipy.optimize import linear_sum_assignment

    units_a, units_b, r = unit_correlation(acts_a, acts_b, kinds)
    rows, cols = linear_sum_assignment(np.abs(r), maximize=True)
    top = np.abs(r).argmax(axis=1)
    return Matching(units_a, units_b, {units_a[i]: (units_b[j], float(r[i, j])) for i, j in zip(rows, cols)},
                    {a: (units_b[j], float(r[i, j])) for i, (a, j) in enumerate(zip(units_a, top))})


def counterpart(matching: Matching, unit: Unit, min_r: float = 0.5) -> tuple[Unit | None, float]:
    """The partner of a unit of A in B and its r; None when unmatched or |r| < min_r."""
    partner, r = matching.pairs.get(unit, (None, 0.0))
    return (partner if abs(r) >= min_r else None), r
