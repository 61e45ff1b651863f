"""The recurrent layers every model here is built from: cell types, gate layout, per-layer weights, init helpers.

PyTorch stacks each layer's gate blocks in W_ih (G*H, I), W_hh (G*H, H), b_ih and b_hh (G*H,): the LSTM as
i, f, g, o and the GRU as r, z, n. Block 1 (the LSTM's forget gate f, the GRU's update gate z) decides how much
of the old state is kept. The fast kernels that use this layout stay beside their users (stepper.py,
activations.py, gradflow.py); this module only names and unpacks it.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
GATES = {"rnn": ("h",), "gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}  # PyTorch's block order
N_GATES = {cell: len(gates) for cell, gates in GATES.items()}


def check_cell(cell: str) -> None:
    """Raise ValueError unless cell names a supported recurrent cell."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {cell!r}")


def cell_type(rnn: nn.Module) -> str:
    """"lstm", "gru" or "rnn" for a torch recurrent module."""
    for name, cls in (("lstm", nn.LSTM), ("gru", nn.GRU), ("rnn", nn.RNN)):
        if isinstance(rnn, cls):
            return name
    raise TypeError(f"unsupported recurrent module {type(rnn).__name__}")


def keep_gate(hidden_size: int) -> slice:
    """The rows of the LSTM's forget gate f / the GRU's update gate z in a layer's stacked gate blocks."""
    return slice(hidden_size, 2 * hidden_size)


@dataclass
class LayerWeights:
    """One recurrent layer in PyTorch's layout: w_ih (G*H, I), w_hh (G*H, H), b_ih and b_hh (G*H,)."""

    cell: str
    w_ih: torch.Tensor
    w_hh: torch.Tensor
    b_ih: torch.Tensor
    b_hh: torch.Tensor

    @property
    def hidden_size(self) -> int:
        return self.w_hh.shape[1]

    @property
    def input_size(self) -> int:
        return self.w_ih.shape[1]


def layer_weights(rnn: nn.RNNBase) -> list[LayerWeights]:
    """The per-layer weights (detached) of a stacked, unidirectional, tanh nn.RNN / nn.GRU / nn.LSTM."""
    cell = cell_type(rnn)
    if rnn.bidirectional or getattr(rnn, "proj_size", 0) or getattr(rnn, "nonlinearity", "tanh") != "tanh":
        raise ValueError("only unidirectional tanh RNNs without projections are supported")

    def param(name: str, k: int) -> torch.Tensor:
        p = getattr(rnn, f"{name}_l{k}", None)  # no bias_* when bias=False
        return torch.zeros(rnn.weight_hh_l0.shape[0]) if p is None else p.detach()

    return [LayerWeights(cell, *(param(n, k) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
            for k in range(rnn.num_layers)]


def set_keep_gate_bias(rnn: nn.RNNBase, value: float) -> None:
    """Start every layer's keep gate (LSTM f, GRU z) at sigmoid(value): half in b_ih, half in b_hh."""
    rows = keep_gate(rnn.hidden_size)
    with torch.no_grad():
        for k in range(rnn.num_layers):
            getattr(rnn, f"bias_ih_l{k}")[rows] = value / 2
            getattr(rnn, f"bias_hh_l{k}")[rows] = value / 2


def orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    """A Haar-distributed random orthogonal (n, n) matrix drawn from gen."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen))
    return q * torch.sign(torch.diagonal(r))  # (n, n)


def map_state(state, fn):
    """fn applied to a carried recurrent state: to h, or to both of (h, c); None stays None."""
    if state is None:
        return None
    return tuple(fn(t) for t in state) if isinstance(state, tuple) else fn(state)


def detach(state):
    """Cut the graph behind a carried recurrent state, h or (h, c) (truncated BPTT); None stays None."""
    return map_state(state, torch.Tensor.detach)
