"""Finding interpretable cells: rank every cell against a hypothesis signal, LSTMVis pattern search, gate saturation.

Ranking follows Karpathy, Johnson & Fei-Fei (2015): a cell is interesting when it tracks a signal of the
text.  Graded signals (position in line, depth) are scored by Pearson r, or on request by Spearman's rank
correlation rho, which credits a cell that rises or falls monotonically but not linearly with the signal (a
saturating cell that jumps from top level to depth 1 and then moves little); binary ones (inside a quote) by
the AUC of the cell's value as a detector.  r for every cell is one matrix-vector product per layer and
kind (per-cell means and deviations come with the extraction); the AUC is then computed exactly, by
sorting, for the `candidates` (default 64) cells with the largest |r|: a cell that separates the two classes
well has a large point-biserial r too (raise `candidates` to score every cell exactly); rho likewise.
Timings: bench/cells_speed.py.

Pattern search follows LSTMVis (Strobelt et al., 2017): the cells above a threshold over a selected span and
below it just before and after, then the other spans of the text where that same set is on.
Gate saturation is the paper's fig. 4: how often each sigmoid gate is below 0.1 or above 0.9.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch  # its matrix-vector product follows torch.set_num_threads (numpy's BLAS may oversubscribe)

from core.lens.activations import SIGMOID_GATES, Activations


class DiscoveryError(ValueError):
    """A ranking or search cannot run (constant signal, empty span, length mismatch)."""


@dataclass(frozen=True)
class CellScore:
    """One cell (kind, layer, unit) and how well it tracks a signal."""
    kind: str
    layer: int
    unit: int
    metric: str   # "r" (Pearson), "rho" (Spearman) or "auc"
    score: float  # |r|, |rho|, or the AUC of the better direction (>= 0.5)
    sign: int     # +1: the cell rises with the signal, -1: it falls
    r: float      # Pearson r (point-biserial for binary signals)


def pearson_all(acts: Activations, y: np.ndarray, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Pearson r of every cell with y (T,): kind -> (L, H)."""
    yc = (y - y.mean()).astype(np.float32)                                  # (T,)
    sy = float(np.sqrt(np.mean(yc.astype(np.float64) ** 2)))
    out = {}
    for kind in kinds:
        _, sx = acts.column_stats(kind)                                    # (L, H)
        x = acts.states[kind]                                              # (L, H, T)
        cov = torch.einsum("lht,t->lh", torch.from_numpy(x), torch.from_numpy(yc)).double().numpy() / len(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[kind] = np.nan_to_num(cov / (sx * sy))
    return out


def auc(x: np.ndarray, positive: np.ndarray) -> np.ndarray | float:
    """Exact ROC AUC of each row of scores x (K, T) or (T,) for labels positive (T,) bool; ties count half.

    Sorts integer keys (value, label) per row; a positive at sorted position j has j - (positives before)
    negatives below it.  With ties, the two tie orders (negatives first, positives first) are averaged."""
    x2 = np.atleast_2d(np.asarray(x, dtype=np.float32))                    # (K, T)
    i = x2.view(np.int32)
    base = (i ^ ((i >> 31) & 0x7FFFFFFF)).astype(np.int64) << 1          # order-preserving integer keys
    bit = positive.astype(np.int64)                                        # (T,)
    n_pos, T = int(bit.sum()), x2.shape[1]
    idx = np.arange(T, dtype=np.int64)
    offset = n_pos * (n_pos - 1) / 2
    keys = np.sort(base | bit, axis=1)                                     # ties: negatives first
    u_stat = (np.einsum("kt,t->k", keys & 1, idx) - offset).astype(np.float64)  # (K,) negatives <= each positive
    v = keys >> 1
    tied = np.flatnonzero(np.any(v[:, 1:] == v[:, :-1], axis=1))           # rows with equal values
    if len(tied):
        keys = np.sort(base[tied] | (1 - bit), axis=1)                     # ties: positives first
        u_stat[tied] = 0.5 * (u_stat[tied] + np.einsum("kt,t->k", 1 - (keys & 1), idx) - offset)
    out = u_stat / (n_pos * (T - n_pos))
    return out if np.ndim(x) == 2 else float(out[0])


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each row of x (K, T) with y (T,): Pearson r of their ranks, ties ranked by their mean."""
    from scipy.stats import rankdata
    rx = rankdata(x, axis=1)                                               # (K, T)
    ry = rankdata(y)                                                       # (T,)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(rx @ ry / (np.linalg.norm(rx, axis=1) * np.linalg.norm(ry)))


def rank_cells(acts: Activations, signal: np.ndarray, binary: bool | None = None,
               kinds: tuple[str, ...] | None = None, top: int = 20, candidates: int = 64,
               monotone: bool = False) -> list[CellScore]:
    """The `top` cells of every layer and kind that best track signal (T,): |r| (|rho| if monotone) if graded,
    AUC if binary."""
    y = np.asarray(signal, dtype=np.float64)
    if y.shape != (len(acts),):
        raise DiscoveryError(f"the signal has {y.size} values but the text has {len(acts)} characters")
    if len(y) < 2 or np.ptp(y) == 0:
        raise DiscoveryError("the signal is constant over this text: nothing to correlate with")
    if binary is None:
        binary = bool(np.all((y == 0) | (y == 1)))
    kinds = tuple(k for k in (kinds or acts.states) if k in acts.states)
    r = pearson_all(acts, y, kinds)
    flat = np.concatenate([r[k].ravel() for k in kinds])                  # (K * L * H,)
    L, H = acts.n_layer, acts.hidden_size
    order = np.argsort(-np.abs(flat), kind="stable")
    cells = [(kinds[j // (L * H)], j % (L * H) // H, j % H) for j in order[:max(candidates, top)]]
    if not binary and not monotone:
        return [CellScore(k, l, u, "r", abs(float(flat[j])), 1 if flat[j] >= 0 else -1, float(flat[j]))
                for (k, l, u), j in zip(cells[:top], order)]
    if binary:
        score, metric, centre = lambda x: auc(x, y > 0.5), "auc", 0.5
    else:
        score, metric, centre = lambda x: spearman(x, y), "rho", 0.0
    v = np.concatenate([score(np.stack([acts.states[k][l, u] for k, l, u in cells[s:s + 32]]))
                        for s in range(0, len(cells), 32)])               # (candidates,) in batches of 32
    scores = [CellScore(k, l, u, metric, centre + abs(float(x) - centre), 1 if x >= centre else -1, float(flat[j]))
              for (k, l, u), x, j in zip(cells, v, order)]
    return sorted(scores, key=lambda s: -s.score)[:top]


@dataclass(frozen=True)
class PatternMatch:
    """A span [start, end) where the searched cell set is on; score in (0, 1], 1 = all on, same length."""
    start: int
    end: int
    score: float
    on_fraction: float


def cells_on(x: np.ndarray, start: int, end: int, threshold: float) -> np.ndarray:
    """Units of x (H, T) >= threshold at every step of [start, end) and below it just before and after."""
    T = x.shape[1]
    if not 0 <= start < end <= T:
        raise DiscoveryError(f"the span [{start}, {end}) is empty or outside the text (0..{T})")
    on = np.all(x[:, start:end] >= threshold, axis=1)                     # (H,)
    if start > 0:
        on &= x[:, start - 1] < threshold
    if end < T:
        on &= x[:, end] < threshold
    return np.flatnonzero(on)


def pattern_search(x: np.ndarray, start: int, end: int, threshold: float, min_fraction: float = 1.0,
                   top: int = 20) -> tuple[np.ndarray, list[PatternMatch]]:
    """LSTMVis search in x (H, T): the cell set on over [start, end), and other spans where it is on, ranked.

    A step matches when at least min_fraction of the set is on; matches are maximal runs of such steps,
    scored by the mean fraction on times the length ratio to the selection (shorter / longer)."""
    units = cells_on(x, start, end, threshold)
    if len(units) == 0:
        return units, []
    frac = (x[units] >= threshold).mean(axis=0)                           # (T,)
    hit = np.r_[False, frac >= min_fraction, False]
    edges = np.flatnonzero(np.diff(hit.astype(np.int8)))
    n_sel = end - start
    matches = []
    for s, e in zip(edges[::2], edges[1::2]):
        if s < end and e > start:  # the selection itself
            continue
        f = float(frac[s:e].mean())
        matches.append(PatternMatch(int(s), int(e), f * min(e - s, n_sel) / max(e - s, n_sel), f))
    matches.sort(key=lambda m: (-m.score, m.start))
    return units, matches[:top]


def gate_saturation(acts: Activations, low: float = 0.1, high: float = 0.9) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each sigmoid gate: the fraction of steps each unit is < low and > high, each (L, H)."""
    return {g: ((acts.states[g] < low).mean(axis=2), (acts.states[g] > high).mean(axis=2))
            for g in SIGMOID_GATES[acts.cell] if g in acts.states}
