"""rnnlens gradflow: ||dL_T/dh_{T-k}|| back through time for a vanilla RNN, a GRU and an LSTM."""
import argparse
import sys

import torch
import torch.nn as nn

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.recurrent import CELLS
from core.charlm.sample import MAX_SEED
from core.cli.args import fail
from core.common.config_args import bounded
from core.gradients.flow import MAX_LENGTH, random_flow, text_flow

MAX_HIDDEN = 2048


def parser() -> argparse.ArgumentParser:
    """The gradflow command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens gradflow", description=__doc__.splitlines()[0])
    p.add_argument("--cell", default="all", choices=["all", *CELLS])
    p.add_argument("--length", type=bounded(int, 1, MAX_LENGTH), default=1000, help="sequence length T (steps)")
    p.add_argument("--hidden", type=bounded(int, 1, MAX_HIDDEN), default=64)
    p.add_argument("--sigma", type=bounded(float, 0.0, 100.0), default=1.0,
                   help="largest singular value of W_hh (random init)")
    p.add_argument("--forget-bias", type=bounded(float, -100.0, 100.0), default=1.0,
                   help="LSTM forget / GRU update gate bias")
    p.add_argument("--input-scale", type=bounded(float, 0.0, 100.0), default=1.0)
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.add_argument("--checkpoint", help="use a trained CharRNN checkpoint on real text instead of a random init")
    p.add_argument("--text-file", help="UTF-8 text to read with --checkpoint (first --length+1 characters)")
    return p


def text_problem(checkpoint: str, text_file: str, length: int) -> tuple[nn.Module, torch.Tensor]:
    """A checkpoint's model and the ids (T,) of the first length + 1 characters of a UTF-8 file."""
    with open(text_file, encoding="utf-8") as f:
        text = f.read(length + 1)
    ckpt = load_checkpoint(checkpoint)
    return ckpt.model, torch.tensor(ckpt.vocab.encode(text), dtype=torch.long)


def main(argv: list[str] | None = None) -> int:
    """Print the gradient norm at a few distances k back from the last step, per cell."""
    a = parser().parse_args(argv)
    try:
        if a.checkpoint:
            if not a.text_file:
                raise ValueError("--checkpoint needs --text-file")
            flows = [text_flow(*text_problem(a.checkpoint, a.text_file, a.length))]
        else:
            cells = list(CELLS) if a.cell == "all" else [a.cell]
            flows = [random_flow(c, a.length, a.hidden, a.sigma, a.forget_bias, a.input_scale, a.seed)
                     for c in cells]
    except (CheckpointError, ValueError, OSError, UnicodeDecodeError) as e:
        return fail(e)
    T = flows[0].h_norm.shape[1]
    ks = sorted({k for k in (0, 1, 10, 100, 1000) if k < T} | {T - 1})
    print("||dL_T/dh_{T-k}||  " + "".join(f"k={k:<10d}" for k in ks))
    for fl in flows:
        rows = [("h", fl.by_distance())] + ([("c", fl.by_distance(state="c"))] if fl.c_norm is not None else [])
        for name, d in rows:
            print(f"{fl.cell:>5s} {name} (top)    " + "".join(f"{d[k]:<12.3e}" for k in ks))
        if fl.cell == "rnn":
            print(f"sigma^k (sigma={fl.spectral_norm[-1]:.3f}) " + "".join(
                f"{fl.spectral_norm[-1] ** k:<12.3e}" for k in ks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
