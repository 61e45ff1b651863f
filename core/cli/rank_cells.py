"""Find interpretable cells from the command line (Karpathy, Johnson & Fei-Fei 2015).

    rnnlens rank-cells --checkpoint checkpoints/linux-lstm --signal comment --signal brace_depth
    rnnlens rank-cells --checkpoint DIR --text FILE --signal regex --regex '\\d+'

Without --text the checkpoint's own corpus validation split is used; the first --max-chars characters are
analysed.  Prints the top cells per signal: layer, kind, unit, the score (AUC for binary signals, |r| for
graded ones, |rho| with --monotone) and the sign.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError, check_user_text
from core.cli.args import add_threads_arg, fail, val_text
from core.common.config_args import bounded
from core.lens.activations import KINDS, extract
from core.lens.discovery import DiscoveryError, rank_cells
from core.lens.signals import SIGNALS, SignalError, compute_signal

MAX_CHARS = 200_000  # the states read grow with it: --kinds h,c keeps a long text's states small


def parser() -> argparse.ArgumentParser:
    """The rank-cells command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens rank-cells", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="checkpoint directory")
    p.add_argument("--text", help="UTF-8 text file (default: the checkpoint corpus's val split)")
    p.add_argument("--signal", action="append", choices=[*SIGNALS, "regex"], required=True,
                   help="signal to rank cells against (repeatable)")
    p.add_argument("--regex", help="pattern for --signal regex (RE2 syntax: linear time, no backreferences)")
    p.add_argument("--top", type=bounded(int, 1, 1000), default=5, help="cells to print per signal")
    p.add_argument("--max-chars", type=bounded(int, 2, MAX_CHARS), default=100_000,
                   help="analyse at most this many characters")
    p.add_argument("--kinds", default="", help="comma-separated subset of h,c,i,f,g,o (GRU: h,r,z,n); "
                   "default all (long texts: h,c saves memory)")
    p.add_argument("--monotone", action="store_true",
                   help="rank graded signals by Spearman's rho (monotone) instead of Pearson r")
    add_threads_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print the top cells per signal; bad input exits 2 with one line."""
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        if args.text:
            text = check_user_text(Path(args.text).read_bytes())
            source = args.text
        else:
            text = val_text(ckpt)
            source = f"{ckpt.card.get('corpus')} val split"
        text = text[:args.max_chars]
        t0 = time.perf_counter()
        kinds = tuple(k for k in args.kinds.split(",") if k) or None
        if kinds and set(kinds) - set(KINDS[ckpt.config.cell]):
            raise ValueError(f"--kinds must be among {','.join(KINDS[ckpt.config.cell])}")
        acts = extract(ckpt.model, ckpt.vocab, text, kinds=kinds)
        t1 = time.perf_counter()
        print(f"{Path(args.checkpoint).name}: {len(text):,} characters of {source}; extraction {t1 - t0:.1f} s")
        for name in args.signal:
            y, binary = compute_signal(name, text, args.regex)
            t0 = time.perf_counter()
            best = rank_cells(acts, y, binary, top=args.top, monotone=args.monotone)
            dt = time.perf_counter() - t0
            measure = "binary, AUC" if binary else "graded, Spearman rho" if args.monotone else "graded, Pearson r"
            print(f"\n{name} ({measure}; mean {y.mean():.3f}; "
                  f"ranked {sum(v.shape[0] * v.shape[1] for v in acts.states.values()):,} cells in {dt:.2f} s)")
            for s in best:
                print(f"  layer {s.layer} {s.kind} unit {s.unit:4d}  {s.metric} {s.score:.3f}  "
                      f"sign {'+' if s.sign > 0 else '-'}  r {s.r:+.3f}")
    except (OSError, ValueError, CheckpointError, CorpusError, SignalError, DiscoveryError) as e:
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
