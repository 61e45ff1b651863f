"""rnnlens attribution: each earlier character's share of one prediction (gradient x input or integrated gradients)."""
import argparse
import sys

import numpy as np
import torch

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError
from core.charlm.sample import MAX_SEED
from core.cli.args import add_threads_arg, fail, val_text
from core.common.config_args import bounded
from core.lens.attribution import AttributionError, attribute, reach

MAX_WINDOW = 1000  # 64 path points x window x 4H floats per layer: 0.5 GB for H = 512
MAX_NODES = 512  # integrated gradients' node budget (core.lens.attribution.integrated_gradients' max_steps)
MAX_OFFSET = 100_000_000  # character offsets into a val split


def parser() -> argparse.ArgumentParser:
    """The attribution command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens attribution", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--position", type=bounded(int, 0, MAX_OFFSET), action="append",
                   help="character index in the text (repeatable)")
    p.add_argument("--random", type=bounded(int, 0, 10_000), default=0,
                   help="summarise reach and completeness over this many random positions")
    p.add_argument("--method", choices=("ig", "grad_x_input"), default="ig")
    p.add_argument("--window", type=bounded(int, 1, MAX_WINDOW), default=200, help="characters read before it")
    p.add_argument("--steps", type=bounded(int, 1, MAX_NODES), default=16,
                   help="first quadrature nodes for integrated gradients")
    p.add_argument("--tol", type=bounded(float, 1e-9, 1.0), default=5e-3,
                   help="completeness tolerance of integrated gradients")
    p.add_argument("--skip", type=bounded(int, 0, MAX_OFFSET), default=0,
                   help="start this far into the corpus val split")
    p.add_argument("--max-chars", type=bounded(int, 2, 1_000_000), default=20_000)
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0, help="draws the --random positions")
    add_threads_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print each asked position's attribution, then the --random summary."""
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        text = val_text(ckpt, args.skip, args.max_chars)
        for pos in args.position or []:
            a = attribute(ckpt.model, ckpt.vocab, text, pos, args.method, args.window, steps=args.steps,
                          tol=args.tol)
            top = np.argsort(-np.abs(a.scores))[:8]
            print(f"position {pos}: target {a.target!r} logit {a.logit:.3f} (baseline: shuffle {a.shuffle}, "
                  f"{a.baseline_logit:.3f}), sum {a.scores.sum():.3f} ({a.nodes} nodes); 90% of |attribution| "
                  f"within {reach(a.scores)} characters")
            print("  strongest: " + ", ".join(f"{a.chars[j]!r}@-{len(a.chars) - 1 - j} {a.scores[j]:+.3f}"
                                              for j in top))
        if args.random:
            rng = np.random.default_rng(args.seed)
            runs = [attribute(ckpt.model, ckpt.vocab, text, int(pos), args.method, args.window, steps=args.steps,
                              tol=args.tol)
                    for pos in rng.integers(args.window, len(text) - 1, args.random)]
            e = np.array([a.completeness_error for a in runs])
            reaches = [reach(a.scores) for a in runs]
            print(f"{len(runs)} random positions ({args.method}): 90% of |attribution| within a median of "
                  f"{np.median(reaches):.0f} characters (quartiles {np.percentile(reaches, 25):.0f}-"
                  f"{np.percentile(reaches, 75):.0f}); completeness error median {np.median(e):.2e}, max "
                  f"{e.max():.2e}, within 1%: {np.mean(e <= 0.01):.0%}; nodes median "
                  f"{np.median([a.nodes for a in runs]):.0f}, max {max(a.nodes for a in runs)}; "
                  f"{sum(a.shuffle > 0 for a in runs)} used a later shuffle")
    except (AttributionError, CheckpointError, CorpusError, ValueError) as e:
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
