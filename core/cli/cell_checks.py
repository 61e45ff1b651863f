"""rnnlens cell-checks: is a top cell real, against a block-shuffled null and on a held-out text?"""
import argparse
import sys

import torch

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError
from core.cli.args import add_threads_arg, fail, val_text
from core.common.config_args import bounded
from core.lens.activations import extract
from core.lens.cell_checks import check_cells
from core.lens.discovery import DiscoveryError
from core.lens.signals import SIGNALS, SignalError, compute_signal

MAX_CHARS = 200_000  # each of the two texts; h and c are kept for both


def parser() -> argparse.ArgumentParser:
    """The cell-checks command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens cell-checks", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--signal", action="append", required=True, choices=list(SIGNALS))
    p.add_argument("--chars", type=bounded(int, 100, MAX_CHARS), default=50_000,
                   help="length of each text: val[0:N] ranks, val[N:2N] holds out")
    p.add_argument("--top", type=bounded(int, 1, 1000), default=5)
    p.add_argument("--perms", type=bounded(int, 1, 10_000), default=100, help="block shuffles of the null")
    p.add_argument("--block-lines", type=bounded(int, 1, 10_000), default=5, help="lines per shuffled block")
    add_threads_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print, per signal, the null's 99th percentile and each top cell's verdict."""
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        val = val_text(ckpt)
        if len(val) < 2 * args.chars:
            raise ValueError(f"the val split has {len(val):,} characters, fewer than 2 x --chars")
        texts = val[:args.chars], val[args.chars:2 * args.chars]
        acts = [extract(ckpt.model, ckpt.vocab, t, kinds=("h", "c")) for t in texts]
        for name in args.signal:
            (y, binary), (y2, _) = (compute_signal(name, t) for t in texts)
            checks = check_cells(acts[0], y, acts[1], y2, binary, args.top, args.perms, args.block_lines)
            print(f"{ckpt.path.name} {name}: null 99th percentile of the best cell ({args.perms} block shuffles "
                  f"of {args.block_lines} lines) = {checks[0].null_p99:.3f}")
            for c in checks:
                s = c.cell
                verdict = "real" if c.real else "FAILS " + ("null" if not c.beats_null else "held-out")
                print(f"  layer {s.layer} {s.kind} unit {s.unit:4d}  {s.metric} {s.score:.3f}  held-out "
                      f"{c.heldout:.3f}  {verdict}")
    except (CheckpointError, CorpusError, SignalError, DiscoveryError, ValueError) as e:
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
