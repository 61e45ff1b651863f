"""rnnlens intervene: clamp or ablate cells and compare free and clamped samples, or score a cell's causal effect."""
import argparse
import sys

import numpy as np
import torch

from core.charlm.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError
from core.charlm.sample import MAX_LENGTH, MAX_SEED, MAX_TEMPERATURE
from core.cli.args import add_threads_arg, fail, val_text
from core.common.config_args import bounded
from core.lens.activations import extract
from core.lens.intervene import (
    InterventionError,
    build_clamps,
    causal_score,
    char_diff,
    check_clamp,
    first_divergence,
    parse_clamp,
    side_by_side,
)
from core.lens.signals import SignalError, compute_signal

REFERENCE_CHARS = 20_000  # the val text whose means `=mean` and --ablate clamp to
MAX_CHARS = 200_000


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    """--length, --temperature, --seed and --top-k, bounded as the sampler allows."""
    p.add_argument("--length", type=bounded(int, 1, MAX_LENGTH), default=500)
    p.add_argument("--temperature", type=bounded(float, 1e-3, MAX_TEMPERATURE), default=0.8)
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=1, help="0 to 2**63 - 1")
    p.add_argument("--top-k", type=bounded(int, 0, 100_000), default=0,
                   help="sample among the k likeliest characters (0: all)")


def print_side_by_side(ckpt: Checkpoint, clamp: list[str], ablate: list[str], prime: str, length: int,
                       temperature: float, seed: int, top_k: int) -> None:
    """Print the free and the clamped samples from one seed and where they part (sample and intervene share it)."""
    if not clamp and not ablate:
        raise InterventionError("give at least one --clamp or --ablate")
    clamps = build_clamps(ckpt.model, ckpt.vocab, clamp + [x.split("=")[0] for x in ablate],
                          lambda: val_text(ckpt, 0, REFERENCE_CHARS))
    free, clamped = side_by_side(ckpt.model, ckpt.vocab, clamps, prime, length, temperature, seed, top_k)
    print("clamps:", "; ".join(f"{c.layer}:{c.kind}:{u}={v:.3f}" for c in clamps for u, v in zip(c.units, c.values)))
    print("---- free ----\n" + free + "\n---- clamped ----\n" + clamped)
    changed = sum(len(b) for op, _, b in char_diff(free, clamped) if op != "equal")
    print(f"---- diff: first divergence at {first_divergence(free, clamped)}, {changed} characters changed")


def print_score(ckpt: Checkpoint, args: argparse.Namespace) -> None:
    """Print the causal z-score of args.cell for the spans of args.signal."""
    cell = parse_clamp(args.cell + "=0")
    check_clamp(ckpt.model, cell)
    text = val_text(ckpt, args.skip, args.max_chars)
    y, _ = compute_signal(args.signal, text)
    acts = extract(ckpt.model, ckpt.vocab, text, kinds=("h", "c"))
    sc = causal_score(ckpt.model, acts, y, cell.layer, cell.kind, cell.units[0], args.controls, args.horizon,
                      args.events)
    ctrl = np.array(sc.control_effects)
    strongest = int(np.abs(ctrl).argmax())
    print(f"{ckpt.path.name} {args.signal} cell {args.cell}: {sc.n_events} events, free log P(close within "
          f"{args.horizon}) {sc.free_logp:.3f}; clamp effect {sc.effect:+.4f} nats; controls mean {ctrl.mean():+.4f} "
          f"sd {ctrl.std(ddof=1):.4f} (strongest: unit {sc.control_units[strongest]} {ctrl[strongest]:+.4f}); "
          f"z = {sc.z:+.2f}")


def parser() -> argparse.ArgumentParser:
    """The intervene command's arguments: `sample` or `score`."""
    p = argparse.ArgumentParser(prog="rnnlens intervene", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    add_threads_arg(p)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="free and clamped samples side by side, same seed, with a diff")
    s.add_argument("--clamp", action="append", default=[], help="L:KIND:UNIT[,UNIT]=VALUE (VALUE or 'mean')")
    s.add_argument("--ablate", action="append", default=[], help="L:KIND:UNIT[,UNIT]: clamp to the mean")
    s.add_argument("--prime", default="\n")
    add_sampling_args(s)
    c = sub.add_parser("score", help="causal z-score of a cell for the spans of a signal")
    c.add_argument("--signal", required=True, help="quote, comment, brace_depth, ... (core.lens.signals)")
    c.add_argument("--cell", required=True, help="L:KIND:UNIT, e.g. 1:c:317")
    c.add_argument("--controls", type=bounded(int, 2, 100), default=20, help="random control cells")
    c.add_argument("--horizon", type=bounded(int, 1, 200), default=50, help="characters after a span opens")
    c.add_argument("--events", type=bounded(int, 1, 100), default=40, help="spans scored")
    c.add_argument("--skip", type=bounded(int, 0, 100_000_000), default=50_000,
                   help="start this far into the val split (past the text the cell was found on)")
    c.add_argument("--max-chars", type=bounded(int, 2, MAX_CHARS), default=30_000)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the chosen intervention; bad input exits 2 with one line."""
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        if args.command == "sample":
            print_side_by_side(ckpt, args.clamp, args.ablate, args.prime, args.length, args.temperature, args.seed,
                               args.top_k)
        else:
            print_score(ckpt, args)
    except (InterventionError, CheckpointError, CorpusError, SignalError, ValueError) as e:
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
