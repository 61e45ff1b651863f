"""rnnlens matching: match two models' cells one to one by correlation; does a named cell have a counterpart?"""
import argparse
import sys

import numpy as np
import torch

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError
from core.cli.args import add_threads_arg, fail, val_text
from core.common.config_args import bounded
from core.lens.activations import extract
from core.lens.discovery import DiscoveryError, rank_cells
from core.lens.matching import counterpart, match_cells
from core.lens.signals import SIGNALS, SignalError, compute_signal


def parser() -> argparse.ArgumentParser:
    """The matching command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens matching", description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="checkpoint whose named cells are looked up")
    p.add_argument("--b", required=True, action="append", help="checkpoint(s) to find counterparts in")
    p.add_argument("--signal", action="append", default=[], choices=list(SIGNALS),
                   help="name A's best cell for this signal and look for its counterpart (repeatable)")
    p.add_argument("--chars", type=bounded(int, 100, 200_000), default=20_000)
    p.add_argument("--skip", type=bounded(int, 0, 100_000_000), default=0,
                   help="start this far into A's corpus val split")
    p.add_argument("--min-r", type=bounded(float, 0.0, 1.0), default=0.5)
    add_threads_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print each pair of models' matched |r| and the counterpart of each named cell."""
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        a = load_checkpoint(args.a)
        text = val_text(a, args.skip, args.chars)
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
            print(f"{a.path.name} ({len(m.units_a)} units) vs {b.path.name} ({len(m.units_b)} units) on "
                  f"{len(text):,} characters: matched |r| median {np.median(r):.3f}, >= {args.min_r}: "
                  f"{np.mean(r >= args.min_r):.0%}")
            for name, s in named.items():
                partner, rr = counterpart(m, (s.layer, s.unit), args.min_r)
                nearest, rb = m.best[(s.layer, s.unit)]
                y, binary = compute_signal(name, text)
                own = rank_cells(acts_b, y, binary, top=1)[0]
                found = "no counterpart" if partner is None else f"unit {partner[0]}:{partner[1]}"
                print(f"  {name}: A's cell {s.layer}:{s.kind}:{s.unit} ({s.metric} {s.score:.3f}) -> {found} "
                      f"(matched r {rr:+.3f}; most correlated {nearest[0]}:{nearest[1]} r {rb:+.3f}); "
                      f"B's own best {own.layer}:{own.kind}:{own.unit} {own.metric} {own.score:.3f}")
    except (CheckpointError, CorpusError, SignalError, DiscoveryError, ValueError) as e:
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
