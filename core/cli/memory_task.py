"""rnnlens memory-task: train RNN, GRU and LSTM on the copy problem, with clipping and truncated BPTT."""
import argparse
import math
import sys

import numpy as np
import torch

from core.cli.args import fail
from core.common.config_args import add_config_args, config_from_args
from core.gradients.memory_task import MemoryConfig, train_memory


def parser() -> argparse.ArgumentParser:
    """The memory-task command's arguments: MemoryConfig's fields, and --cells."""
    p = argparse.ArgumentParser(prog="rnnlens memory-task", description=__doc__.splitlines()[0])
    add_config_args(p, MemoryConfig)
    p.add_argument("--cells", help="comma-separated cells to train one after another (overrides --cell)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train each cell and print its loss, gradient norms and held-out score."""
    a = vars(parser().parse_args(argv))
    cells = a.pop("cells")
    try:
        cfgs = [config_from_args(MemoryConfig, {**a, "cell": c}) for c in (cells.split(",") if cells else [a["cell"]])]
    except ValueError as e:
        return fail(e)
    torch.set_num_threads(1)
    print(f"copy problem: gap {cfgs[0].gap}, {cfgs[0].n_symbols} symbol(s) of {cfgs[0].alphabet}; "
          f"chance loss {math.log(cfgs[0].alphabet):.3f} nats")
    for cfg in cfgs:
        r = train_memory(cfg)
        print(f"{cfg.cell:>4s} clip={cfg.clip} bptt={cfg.bptt}: train loss first {r.loss[0]:.3f} "
              f"last10 {r.loss[-10:].mean():.3f}; eval loss {r.eval_loss:.3f} acc {r.eval_accuracy:.2f}; "
              f"grad norm median {np.median(r.grad_norm):.3g} max {r.grad_norm.max():.3g}; "
              f"max update {r.update_norm.max():.3g}; {r.seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
