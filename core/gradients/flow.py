"""Gradient flow back through time in a vanilla RNN, a GRU and an LSTM.

Bengio et al. 1994, "Learning long-term dependencies with gradient descent is difficult"; Pascanu et al.
2013, "On the difficulty of training recurrent neural networks". Backpropagating from h_t to h_{t-1}
multiplies by W_hh^T diag(tanh'), so ||dL_T/dh_t|| grows or shrinks roughly like sigma^(T-t), with sigma
the largest singular value of W_hh; the LSTM's cell state c_t = f * c_{t-1} + i * g is only multiplied
elementwise by the forget gate on the way back (Hochreiter & Schmidhuber 1997).

The norms of dL_T/dh_t (and dL_T/dc_t) for every t come from one explicit backward recurrence over
states saved by one forward pass: a handful of vector ops per step, not one autograd call per step.
`autograd_flow` computes the same numbers with torch.autograd, as a reference for tests and the bench.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from core.charlm.recurrent import (
    CELLS,
    N_GATES,
    LayerWeights,
    check_cell,
    keep_gate,
    layer_weights,
    orthogonal,
)

CELL_MODULES = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}
MAX_LENGTH = 5000


@dataclass
class GradFlow:
    """Norms of dL_T/dh_t (and dL_T/dc_t for an LSTM) for every layer and step t = 0..T-1."""

    cell: str
    h_norm: np.ndarray  # (L, T)
    c_norm: np.ndarray | None  # (L, T), LSTM only
    spectral_norm: np.ndarray  # (L,) largest singular value of each layer's W_hh

    def by_distance(self, layer: int = -1, state: str = "h") -> np.ndarray:
        """Norms ordered by distance k = T-1-t back from the last step: entry k is step T-1-k."""
        norms = self.h_norm if state == "h" else self.c_norm
        return norms[layer, ::-1].copy()


def init_layer(cell: str, input_size: int, hidden_size: int, sigma: float = 1.0, forget_bias: float = 0.0,
               seed: int = 0) -> LayerWeights:
    """A layer whose every W_hh gate block is sigma times an orthogonal matrix (all singular values sigma).

    forget_bias sets the LSTM forget-gate bias, and the GRU update-gate bias (z keeps the old state).
    """
    check_cell(cell)
    gen = torch.Generator().manual_seed(seed)
    G, H = N_GATES[cell], hidden_size
    w_hh = torch.cat([sigma * orthogonal(H, gen) for _ in range(G)])  # (G*H, H)
    w_ih = torch.randn(G * H, input_size, generator=gen) / math.sqrt(input_size)  # (G*H, I)
    b_ih, b_hh = torch.zeros(G * H), torch.zeros(G * H)
    if cell != "rnn":
        b_hh[keep_gate(H)] = forget_bias  # the lstm's forget gate f, the gru's update gate z
    return LayerWeights(cell, w_ih, w_hh, b_ih, b_hh)


def _run_layer(w: LayerWeights, x: torch.Tensor) -> torch.Tensor:
    """Hidden states of one layer from a zero state with PyTorch's fused loop: x (T, I) -> h (T, H)."""
    module = CELLS[w.cell](w.input_size, w.hidden_size, device="meta")  # weights come from w
    params = {"weight_ih_l0": w.w_ih, "weight_hh_l0": w.w_hh, "bias_ih_l0": w.b_ih, "bias_hh_l0": w.b_hh}
    out, _ = torch.func.functional_call(module, params, (x,))
    return out  # (T, H)


@dataclass
class _Tape:
    """What the backward recurrence of one layer needs, for all t at once."""

    w: LayerWeights
    q_h: torch.Tensor  # (T, G*H), gru (T, 3, H): turns the step's state grads into pre-activation grads
    q_x: torch.Tensor  # same for the input path (differs from q_h for the GRU's n gate)
    keep: torch.Tensor | None  # (T, H) gru: z (direct h path); lstm: f (c path)
    c_out: torch.Tensor | None  # (T, H) lstm: o * tanh'(c_t), from dL/dh_t to dL/dc_t


def _tape(w: LayerWeights, x: torch.Tensor, h: torch.Tensor) -> _Tape:
    """Recompute the gates of a layer from its inputs x (T, I) and outputs h (T, H), all steps batched."""
    h_prev = torch.cat([torch.zeros_like(h[:1]), h[:-1]])  # (T, H)
    a_x = x @ w.w_ih.T + w.b_ih  # (T, G*H)
    a_h = h_prev @ w.w_hh.T + w.b_hh  # (T, G*H)
    if w.cell == "rnn":
        q = 1 - h ** 2  # tanh'
        return _Tape(w, q, q, None, None)
    if w.cell == "gru":
        (xr, xz, xn), (hr, hz, hn) = a_x.chunk(3, 1), a_h.chunk(3, 1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        dn = (1 - z) * (1 - n ** 2)  # dh_t / d(pre-activation of n)
        q_r, q_z = dn * hn * r * (1 - r), (h_prev - n) * z * (1 - z)
        return _Tape(w, torch.stack([q_r, q_z, dn * r], 1), torch.stack([q_r, q_z, dn], 1), z, None)
    i, f, g, o = (a_x + a_h).chunk(4, 1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    cs = [torch.zeros_like(h[0])]
    for ig_t, f_t in zip((i * g).unbind(0), f.unbind(0)):  # c_t = f * c_{t-1} + i * g
        cs.append(torch.addcmul(ig_t, f_t, cs[-1]))
    c_prev, c = torch.stack(cs[:-1]), torch.stack(cs[1:])  # (T, H) each
    tc = torch.tanh(c)
    q = torch.cat([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g ** 2), tc * o * (1 - o)], 1)
    return _Tape(w, q, q, f, o * (1 - tc ** 2))


def _backward(tapes: list[_Tape], grad_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run dL/dh_t back through time and down the layers; grad_h (H,) is dL/dh_T of the top layer.

    Returns the norms of dL/dh_t (L, T) and, for an LSTM, of dL/dc_t (L, T).
    """
    L, H, cell = len(tapes), tapes[0].w.hidden_size, tapes[0].w.cell
    rows = [[None if v is None else v.unbind(0) for v in (tp.q_h, tp.q_x, tp.keep, tp.c_out)] for tp in tapes]
    w_hh_t = [tp.w.w_hh.T.contiguous() for tp in tapes]  # (H, G*H)
    w_ih_t = [tp.w.w_ih.T.contiguous() for tp in tapes]  # (I, G*H)
    gh_seen, gc_seen = [[] for _ in range(L)], [[] for _ in range(L)]  # filled from t = T-1 down to 0
    gh_next = [grad_h.new_zeros(H) for _ in range(L)]  # dL/dh_t arriving from step t+1
    gc_next = [grad_h.new_zeros(H) for _ in range(L)]  # dL/dc_t arriving from step t+1
    gh_next[-1] = grad_h
    for t in range(len(rows[0][0]) - 1, -1, -1):
        from_above = None
        for k in range(L - 1, -1, -1):
            q_h, q_x, keep, c_out = rows[k]
            gh = gh_next[k] if from_above is None else gh_next[k] + from_above
            gh_seen[k].append(gh)
            if cell == "lstm":
                gc = torch.addcmul(gc_next[k], gh, c_out[t])
                gc_seen[k].append(gc)
                da = torch.cat((gc, gc, gc, gh)) * q_h[t]  # (4H,) grads of the i, f, g, o pre-activations
                gc_next[k] = gc * keep[t]
                gh_next[k] = torch.mv(w_hh_t[k], da)
            elif cell == "gru":
                da = (q_h[t] * gh).view(-1)  # (3H,) grads of the r, z pre-activations and of W_hn h + b_hn
                gh_next[k] = torch.addmv(keep[t] * gh, w_hh_t[k], da)
            else:
                da = gh * q_h[t]  # (H,)
                gh_next[k] = torch.mv(w_hh_t[k], da)
            if k > 0:
                da_x = (q_x[t] * gh).view(-1) if cell == "gru" else da
                from_above = torch.mv(w_ih_t[k], da_x)  # dL/dh_t of the layer below, through this layer's input
    return _norms(gh_seen), _norms(gc_seen) if cell == "lstm" else None


def _norms(seen: list[list[torch.Tensor]]) -> torch.Tensor:
    """(L, T) norms from per-layer lists of (H,) grads collected from t = T-1 down to 0."""
    return torch.linalg.vector_norm(torch.stack([torch.stack(s[::-1]) for s in seen]), dim=-1)


def _check(layers: list[LayerWeights], x: torch.Tensor) -> None:
    if not layers or len({w.cell for w in layers}) != 1:
        raise ValueError("need at least one layer, all of one cell type")
    if not 1 <= x.shape[0] <= MAX_LENGTH:
        raise ValueError(f"length must be between 1 and {MAX_LENGTH}, not {x.shape[0]}")


def _spectral_norms(layers: list[LayerWeights]) -> np.ndarray:
    return np.array([torch.linalg.matrix_norm(w.w_hh, ord=2).item() for w in layers])


def _forward(layers: list[LayerWeights], x: torch.Tensor) -> tuple[list[_Tape], torch.Tensor]:
    """One float64 forward pass (float64: sigma^1000 stays finite for sigma in [0.5, 2]): tapes, top h (T, H)."""
    _check(layers, x)
    tapes, inp = [], x.double()
    for w in layers:
        w = LayerWeights(w.cell, *(p.double() for p in (w.w_ih, w.w_hh, w.b_ih, w.b_hh)))
        h = _run_layer(w, inp)  # (T, H)
        tapes.append(_tape(w, inp, h))
        inp = h
    return tapes, inp


def _flow(layers: list[LayerWeights], tapes: list[_Tape], grad_h: torch.Tensor) -> GradFlow:
    h_norm, c_norm = _backward(tapes, grad_h.double())
    return GradFlow(layers[0].cell, h_norm.numpy(), None if c_norm is None else c_norm.numpy(),
                    _spectral_norms(layers))


@torch.no_grad()
def gradient_flow(layers: list[LayerWeights], x: torch.Tensor, grad_h: torch.Tensor) -> GradFlow:
    """Norms of dL_T/dh_t for all t from x (T, I) and grad_h = dL_T/dh_T (H,) of the top layer."""
    return _flow(layers, _forward(layers, x)[0], grad_h)


def random_problem(cell: str, length: int, hidden_size: int = 64, sigma: float = 1.0, forget_bias: float = 0.0,
                   input_scale: float = 1.0, seed: int = 0) -> tuple[list[LayerWeights], torch.Tensor, torch.Tensor]:
    """One layer with the chosen init, Gaussian inputs x (T, H) * input_scale, and L_T = u . h_T for a unit u."""
    gen = torch.Generator().manual_seed(seed + 1)
    x = input_scale * torch.randn(length, hidden_size, generator=gen)  # (T, H)
    u = torch.randn(hidden_size, generator=gen)
    layer = init_layer(cell, hidden_size, hidden_size, sigma, forget_bias, seed)
    return [layer], x, u / u.norm()


def random_flow(cell: str, length: int, hidden_size: int = 64, sigma: float = 1.0, forget_bias: float = 0.0,
                input_scale: float = 1.0, seed: int = 0) -> GradFlow:
    """Gradient flow of a freshly initialised cell on random inputs; ||dL_T/dh_T|| = 1."""
    return gradient_flow(*random_problem(cell, length, hidden_size, sigma, forget_bias, input_scale, seed))


@torch.no_grad()
def text_flow(model: nn.Module, idx: torch.Tensor) -> GradFlow:
    """Gradient flow in a CharRNN (embed, rnn, head) reading idx (T+1,): L_T = cross-entropy of the last char."""
    if idx.dim() != 1 or len(idx) < 2:
        raise ValueError("need at least two characters of text")
    layers = layer_weights(model.rnn)
    tapes, h_top = _forward(layers, model.embed(idx[:-1]))  # h_top (T, H)
    p = torch.softmax(model.head(h_top[-1].float()), -1)  # (V,)
    p[idx[-1]] -= 1  # dL/dlogits of the cross-entropy
    return _flow(layers, tapes, model.head.weight.T @ p)


def autograd_flow(layers: list[LayerWeights], x: torch.Tensor, grad_h: torch.Tensor,
                  per_step: bool = False) -> GradFlow:
    """Reference: the same norms by torch.autograd over nn.*Cell steps (one backward, or one per (layer, t))."""
    _check(layers, x)
    cells = []
    for w in layers:
        cell = CELL_MODULES[w.cell](w.input_size, w.hidden_size, device="meta")
        cell.weight_ih, cell.weight_hh = nn.Parameter(w.w_ih.clone()), nn.Parameter(w.w_hh.clone())
        cell.bias_ih, cell.bias_hh = nn.Parameter(w.b_ih.clone()), nn.Parameter(w.b_hh.clone())
        cells.append(cell)
    lstm = layers[0].cell == "lstm"
    states = [None] * len(cells)
    hs, cs = [], []  # every (t, layer) state, in that order, kept in the graph
    for t in range(x.shape[0]):
        inp = x[t:t + 1]  # (1, I)
        for k, cell in enumerate(cells):
            states[k] = cell(inp, states[k])  # lstm: (h, c); rnn, gru: h
            inp = states[k][0] if lstm else states[k]  # (1, H)
            hs.append(inp)
            if lstm:
                cs.append(states[k][1])
    loss = (hs[-1][0] * grad_h).sum()
    flat = hs + cs
    if per_step:
        grads = [torch.autograd.grad(loss, v, retain_graph=True)[0] for v in flat]
    else:
        grads = torch.autograd.grad(loss, flat)
    norms = torch.stack([g.norm() for g in grads]).detach()
    T, L = x.shape[0], len(layers)
    h_norm = norms[:T * L].reshape(T, L).T.numpy()
    c_norm = norms[T * L:].reshape(T, L).T.numpy() if lstm else None
    return GradFlow(layers[0].cell, h_norm, c_norm, _spectral_norms(layers))
