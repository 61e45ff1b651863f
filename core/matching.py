"""The same cell across models: match the cells of two models run on the same text, one to one.

As in studies of convergent learning across networks (Li, Yosinski et al., 2016), each cell is described by
its activation sequence over a shared text; two cells are alike when their sequences correlate.  Pearson r
between every cell of model A and every cell of model B is one matrix product of the standardised
sequences; the best one-to-one matching maximises the summed |r| (Hungarian algorithm, scipy's
linear_sum_assignment).  A named cell of A (a quote cell) has a counterpart in B when its partner's |r|
reaches a threshold.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
import torch

from core.activations import Activations

Cell = tuple[str, int, int]  # (kind, layer, unit)


@dataclass(frozen=True)
class Matching:
    """One-to-one pairs of cells of A and B with their correlation r (signed)."""
    cells_a: list[Cell]
    cells_b: list[Cell]
    pairs: dict[Cell, tuple[Cell, float]]   # cell of A -> (its partner in B, r)
    best: dict[Cell, tuple[Cell, float]]    # cell of A -> (B's most correlated cell, r), ignoring one-to-one


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


def match_cells(acts_a: Activations, acts_b: Activations, kinds: tuple[str, ...] = ("h", "c")) -> Matching:
    """Best one-to-one matching of the cells of two models by |r| of their activation sequences."""
    from scipy.optimize import linear_sum_assignment

    cells_a, cells_b, r = correlation(acts_a, acts_b, kinds)
    rows, cols = linear_sum_assignment(np.abs(r), maximize=True)
    top = np.abs(r).argmax(axis=1)
    return Matching(cells_a, cells_b, {cells_a[i]: (cells_b[j], float(r[i, j])) for i, j in zip(rows, cols)},
                    {c: (cells_b[j], float(r[i, j])) for i, (c, j) in enumerate(zip(cells_a, top))})


def counterpart(matching: Matching, cell: Cell, min_r: float = 0.5) -> tuple[Cell | None, float]:
    """The partner of a cell of A in B and its r; None when unmatched or |r| < min_r."""
    partner, r = matching.pairs.get(cell, (None, 0.0))
    return (partner if abs(r) >= min_r else None), r


def main(argv: list[str] | None = None) -> int:
    from core.activations import extract
    from core.checkpoint import CheckpointError, load_checkpoint
    from core.corpus import CorpusError, load_corpus
    from core.discovery import DiscoveryError, rank_cells
    from core.signals import SIGNALS, SignalError, compute_signal

    p = argparse.ArgumentParser(prog="python -m core.matching", description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="checkpoint whose named cells are looked up")
    p.add_argument("--b", required=True, action="append", help="checkpoint(s) to find counterparts in")
    p.add_argument("--signal", action="append", default=[], choices=list(SIGNALS),
                   help="name A's best cell for this signal and look for its counterpart (repeatable)")
    p.add_argument("--chars", type=int, default=20_000)
    p.add_argument("--skip", type=int, default=0, help="start this far into A's corpus val split")
    p.add_argument("--min-r", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    try:
        a = load_checkpoint(args.a)
        text = load_corpus(a.card.get("corpus", "")).val[args.skip:args.skip + args.chars]
        acts_a = extract(a.model, a.vocab, text, kinds=("h", "c"))
        named = {}
        for name in args.signal:
            y, binary = compute_signal(name, text)
            named[name] = rank_cells(acts_a, y, binary, top=1)[0]
        for path in args.b:
            b = load_checkpoint(path)
            acts_b = extract(b.model, b.vocab, text, kinds=("h", "c"))
            m = match_cells(acts_a, acts_b)
            r = np.array([abs(v) for _, v in m.pairs.values()])
            print(f"{a.path.name} ({len(m.cells_a)} cells) vs {b.path.name} ({len(m.cells_b)} cells) on {len(text):,} "
                  f"characters: matched |r| median {np.median(r):.3f}, >= {args.min_r}: {np.mean(r >= args.min_r):.0%}")
            for name, s in named.items():
                cell = (s.kind, s.layer, s.unit)
                partner, rr = counterpart(m, cell, args.min_r)
                nearest, rb = m.best[cell]
                y, binary = compute_signal(name, text)
                own = rank_cells(acts_b, y, binary, top=1)[0]
                print(f"  {name}: A's cell {s.layer}:{s.kind}:{s.unit} ({s.metric} {s.score:.3f}) -> "
                      f"{'no counterpart' if partner is None else f'{partner[1]}:{partner[0]}:{partner[2]}'} "
                      f"(matched r {rr:+.3f}; most correlated {nearest[1]}:{nearest[0]}:{nearest[2]} r {rb:+.3f}); "
                      f"B's own best {own.layer}:{own.kind}:{own.unit} {own.metric} {own.score:.3f}")
    except (CheckpointError, CorpusError, SignalError, DiscoveryError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
