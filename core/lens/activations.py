"""Per-character internals of a CharRNN: every layer's h, and the LSTM's c and gates i, f, g, o (GRU: r, z, n).

Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks", look at these values
one character at a time.  Stepping the cell in Python is slow, so each layer is run with its own fused
`nn.LSTM`/`nn.GRU`/`nn.RNN` to get its h sequence; once h_{t-1} is known for every t, the gate
pre-activations of all steps are one matrix product of [x_t, h_{t-1}] with the layer's weights, and only the
LSTM's cell state needs a cheap elementwise scan c_t = f_t * c_{t-1} + i_t * g_t.  Long texts are processed
in chunks that carry the state.  The value at t is the state after reading character t (which predicts t+1).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core.charlm.recurrent import GATES, cell_type, layer_weights

KINDS = {"lstm": ("h", "c", *GATES["lstm"]), "gru": ("h", *GATES["gru"]), "rnn": ("h",)}
SIGMOID_GATES = {"lstm": ("i", "f", "o"), "gru": ("r", "z"), "rnn": ()}
KIND_LABELS = {"h": "hidden h", "c": "cell c", "i": "input gate i", "f": "forget gate f", "g": "candidate g",
               "o": "output gate o", "r": "reset gate r", "z": "update gate z", "n": "candidate n"}


def shown_values(values: np.ndarray, kind: str) -> np.ndarray:
    """The values a page shows for a kind: tanh(c) for the LSTM cell state (as in the paper), else as they are."""
    return np.tanh(values) if kind == "c" else values


def shown_label(kind: str) -> str:
    """The short name of what shown_values returns: "tanh(c)" for the cell state, else the kind."""
    return "tanh(c)" if kind == "c" else kind


def neutral_value(kind: str) -> float:
    """The centre of a kind's range: 0.5 for sigmoid gates, 0 otherwise."""
    return 0.5 if any(kind in gates for gates in SIGMOID_GATES.values()) else 0.0


@dataclass
class Activations:
    """States over one text: states[kind] is (L, H, T) float32 (one cell's series is contiguous); predictions."""
    text: str
    ids: np.ndarray                       # (T,) int64
    cell: str                             # "lstm" | "gru" | "rnn"
    states: dict[str, np.ndarray]         # kind -> (L, H, T)
    p_next: np.ndarray | None = None      # (T,) probability given to the true next char; nan at the end
    top_ids: np.ndarray | None = None     # (T, k) most likely next chars
    top_p: np.ndarray | None = None       # (T, k) their probabilities
    _stats: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def n_layer(self) -> int:
        return next(iter(self.states.values())).shape[0]

    @property
    def hidden_size(self) -> int:
        return next(iter(self.states.values())).shape[1]

    def __len__(self) -> int:
        return len(self.ids)

    def column_stats(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell mean and standard deviation over the text, each (L, H) float64 (computed once)."""
        if kind not in self._stats:
            x = self.states[kind]                                          # (L, H, T)
            self._stats[kind] = _mean_std(x.sum(axis=2, dtype=np.float64),
                                          np.einsum("lht,lht->lh", x, x, dtype=np.float64), x.shape[2])
        return self._stats[kind]

    def span(self, start: int, end: int) -> Activations:
        """The activations of characters [start, end) as a new Activations (views, no copy)."""
        sl = slice(start, end)
        return Activations(self.text[sl], self.ids[sl], self.cell, {k: v[:, :, sl] for k, v in self.states.items()},
                           *(None if a is None else a[sl] for a in (self.p_next, self.top_ids, self.top_p)))


def _mean_std(total: np.ndarray, total_sq: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    mean = total / max(n, 1)
    return mean, np.sqrt(np.maximum(total_sq / max(n, 1) - mean**2, 0.0))


def _single_layers(rnn: nn.RNNBase) -> list[nn.RNNBase]:
    """One-layer copies of each layer of a stacked torch RNN (same weights)."""
    layers = []
    for w in layer_weights(rnn):
        layer = type(rnn)(w.input_size, w.hidden_size, 1, batch_first=True)
        layer.load_state_dict({"weight_ih_l0": w.w_ih, "weight_hh_l0": w.w_hh, "bias_ih_l0": w.b_ih,
                               "bias_hh_l0": w.b_hh})
        layers.append(layer.eval())
    return layers


def _gates(layer: nn.RNNBase, x: torch.Tensor, h_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and hidden parts of the gate pre-activations for all steps, from x (t, I) and h_{t-1} (t, H).

    Both are (G*H, t): transposed, so that each gate's block is a contiguous (H, t) slice."""
    pre = layer.weight_ih_l0 @ x.T                                         # (G*H, t)
    hh = layer.weight_hh_l0 @ h_prev.T                                     # (G*H, t)
    pre += layer.bias_ih_l0[:, None]
    hh += layer.bias_hh_l0[:, None]
    return pre, hh


@torch.no_grad()
def extract(model: nn.Module, vocab, text: str, kinds: tuple[str, ...] | None = None, warmup: str = "",
            chunk_len: int = 8192, top_k: int = 5) -> Activations:
    """Run a CharRNN over text and return every layer's per-character states (see module docstring).

    kinds: which of KINDS[cell] to keep (h is always kept); warmup: text read before `text` whose final
    state starts the extraction (its activations are not kept)."""
    rnn = model.rnn
    cell = cell_type(rnn)
    kinds = tuple(k for k in KINDS[cell] if kinds is None or k in kinds or k == "h")
    ids = np.asarray(vocab.encode(text), dtype=np.int64)                  # (T,)
    L, H, T = rnn.num_layers, rnn.hidden_size, len(ids)
    states = {k: np.empty((L, H, T), dtype=np.float32) for k in kinds}
    p_next = np.full(T, np.nan, dtype=np.float32)
    top_ids = np.zeros((T, top_k), dtype=np.int32)
    top_p = np.zeros((T, top_k), dtype=np.float32)
    layers = _single_layers(rnn)
    h = [torch.zeros(1, 1, H) for _ in range(L)]                           # per layer (1, 1, H)
    c = [torch.zeros(1, 1, H) for _ in range(L)]
    if warmup:
        w = torch.tensor(vocab.encode(warmup), dtype=torch.long)[None]      # (1, W)
        _, state = rnn(model.embed(w))                                     # (L, 1, H) or a pair of them
        h_all, c_all = state if cell == "lstm" else (state, state)
        h, c = [h_all[l:l + 1] for l in range(L)], [c_all[l:l + 1] for l in range(L)]
    need_gates = len(kinds) > 1
    sums = {k: np.zeros((L, H)) for k in kinds}                            # per-cell sums for column_stats,
    sqs = {k: np.zeros((L, H)) for k in kinds}                             # taken while each chunk is fresh
    for start in range(0, T, chunk_len):
        end = min(start + chunk_len, T)
        x = model.embed(torch.from_numpy(ids[start:end]))[None]            # (1, t, I)
        for l, layer in enumerate(layers):
            out, new = layer(x, (h[l], c[l]) if cell == "lstm" else h[l])  # out (1, t, H)
            states["h"][l, :, start:end] = out[0].T.numpy()
            if need_gates:
                h_prev = torch.cat([h[l][0], out[0, :-1]])                  # (t, H)
                _store_gates(cell, layer, x[0], h_prev, c[l][0, 0], states, l, slice(start, end))
            h[l], c[l] = new if cell == "lstm" else (new, c[l])
            x = out
            for k in kinds:
                block = states[k][l, :, start:end]                         # (H, t)
                sums[k][l] += block.sum(axis=1, dtype=np.float64)
                sqs[k][l] += np.einsum("ht,ht->h", block, block, dtype=np.float64)
        logp = torch.log_softmax(model.head(x[0]), dim=-1)                  # (t, V)
        nxt = torch.from_numpy(ids[start + 1:end + 1])                      # (t or t-1,)
        p_next[start:start + len(nxt)] = logp[torch.arange(len(nxt)), nxt].exp().numpy()
        tp, ti = logp.topk(min(top_k, logp.shape[-1]), dim=-1)
        top_p[start:end, :tp.shape[1]] = tp.exp().numpy()
        top_ids[start:end, :ti.shape[1]] = ti.numpy()
    stats = {k: _mean_std(sums[k], sqs[k], T) for k in kinds}
    return Activations(text, ids, cell, states, p_next, top_ids, top_p, stats)


def _store_gates(cell: str, layer: nn.RNNBase, x: torch.Tensor, h_prev: torch.Tensor, c0: torch.Tensor,
                 states: dict[str, np.ndarray], l: int, sl: slice) -> None:
    """Compute one layer's gates for a chunk (and the LSTM's c by a scan) into states[kind][l, :, sl]."""
    pre, hh = _gates(layer, x, h_prev)                                     # (G*H, t) each
    H, t = layer.hidden_size, pre.shape[1]

    def dest(kind: str) -> torch.Tensor:  # write straight into the kept array, else into a scratch tensor
        return torch.from_numpy(states[kind][l, :, sl]) if kind in states else torch.empty(H, t)

    if cell == "lstm":
        i, f, g, o = pre.add_(hh).chunk(4, dim=0)                          # torch order: i, f, g, o
        gi, gf, gg, go = dest("i"), dest("f"), dest("g"), dest("o")
        torch.sigmoid(i, out=gi), torch.sigmoid(f, out=gf), torch.tanh(g, out=gg), torch.sigmoid(o, out=go)
        if "c" in states:
            c = np.empty((t, H), dtype=np.float32)                         # scan in (t, H): rows contiguous
            _scan_c(gf.T.contiguous().numpy(), (gi * gg).T.contiguous().numpy(), c0.numpy(), c)
            states["c"][l, :, sl] = c.T
    else:  # GRU: r, z = sigma(.), n = tanh(x_n + r * h_n)
        (xr, xz, xn), (hr, hz, hn) = pre.chunk(3, dim=0), hh.chunk(3, dim=0)
        r, z, n = dest("r"), dest("z"), dest("n")
        torch.sigmoid(xr + hr, out=r), torch.sigmoid(xz + hz, out=z), torch.tanh(xn + r * hn, out=n)


def _scan_c(f: np.ndarray, u: np.ndarray, c0: np.ndarray, out: np.ndarray) -> None:
    """out[t] = f[t] * out[t-1] + u[t] with out[-1] = c0; all (t, H) float32."""
    prev = c0
    for t in range(len(f)):
        np.multiply(f[t], prev, out=out[t])
        out[t] += u[t]
        prev = out[t]
