"""Is the cell real?  A permutation baseline and a held-out text for the cells that core.lens.discovery ranks first.

With hundreds of cells, the best one tracks even a meaningless signal fairly well.  The null distribution
is the best cell's score when the signal is shuffled in blocks of whole lines (so its run lengths and line
structure survive, its alignment with the text does not), `n_perm` times; a cell is credible when its score
beats the null's 99th percentile, and still does, in the same direction, on a second text it was not
selected on.  The held-out bar is the same best-of-all-cells null, a strict bar for one preselected cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.lens.activations import Activations
from core.lens.discovery import CellScore, auc, rank_cells, spearman


@dataclass(frozen=True)
class CellCheck:
    """A ranked cell with its null threshold and held-out score; `real` when it passes both."""
    cell: CellScore
    null_p99: float
    heldout: float            # the same cell, same direction, on the held-out text
    beats_null: bool
    holds_out: bool

    @property
    def real(self) -> bool:
        return self.beats_null and self.holds_out


def line_blocks(text: str, block_lines: int) -> list[slice]:
    """The text cut into consecutive slices of `block_lines` whole lines (the last may be shorter)."""
    ends = [i + 1 for i, ch in enumerate(text) if ch == "\n"][block_lines - 1::block_lines]
    bounds = [0, *[e for e in ends if e < len(text)], len(text)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def block_shuffle(signal: np.ndarray, blocks: list[slice], rng: np.random.Generator) -> np.ndarray:
    """signal (T,) with its line blocks put in a random order (T,)."""
    return np.concatenate([signal[blocks[i]] for i in rng.permutation(len(blocks))])


def permutation_null(acts: Activations, signal: np.ndarray, binary: bool, n_perm: int = 100,
                     block_lines: int = 5, seed: int = 0, candidates: int = 16) -> np.ndarray:
    """Best cell's score (over every layer and kind) for n_perm block-shuffled signals -> (n_perm,)."""
    blocks = line_blocks(acts.text, block_lines)
    if len(blocks) < 10:
        raise ValueError(f"the text has only {len(blocks)} blocks of {block_lines} lines: too few to shuffle")
    rng = np.random.default_rng(seed)
    return np.array([rank_cells(acts, block_shuffle(signal, blocks, rng), binary, top=1, candidates=candidates)[0]
                     .score for _ in range(n_perm)])


def directed_score(acts: Activations, cell: CellScore, signal: np.ndarray) -> float:
    """The cell's score on other activations in the direction it was found in (AUC or signed r)."""
    x = acts.states[cell.kind][cell.layer, cell.unit].astype(np.float64)  # (T,)
    if cell.metric == "auc":
        a = auc(x, np.asarray(signal) > 0.5)
        return a if cell.sign > 0 else 1.0 - a
    if cell.metric == "rho":
        return cell.sign * float(spearman(x[None], signal)[0])
    return cell.sign * float(np.nan_to_num(np.corrcoef(x, signal)[0, 1]))


def check_cells(acts: Activations, signal: np.ndarray, heldout: Activations, heldout_signal: np.ndarray,
                binary: bool | None = None, top: int = 5, n_perm: int = 100, block_lines: int = 5,
                seed: int = 0) -> list[CellCheck]:
    """Rank cells on acts, then test the `top` ones against the permutation null and on the held-out text."""
    if binary is None:
        binary = bool(np.all((signal == 0) | (signal == 1)))
    cells = rank_cells(acts, signal, binary, top=top)
    null = float(np.percentile(permutation_null(acts, signal, binary, n_perm, block_lines, seed), 99))
    return [CellCheck(c, null, (h := directed_score(heldout, c, heldout_signal)), c.score > null, h > null)
            for c in cells]
