"""A long-memory task (the copy problem) to train RNN, GRU and LSTM on, with gradient clipping and truncated BPTT.

Hochreiter & Schmidhuber 1997 (LSTM, the copy-style long-lag tasks); Arjovsky et al. 2016 (the copy problem
as used today); Pascanu et al. 2013 (clipping the gradient norm); Williams & Peng 1990 (truncated BPTT).
A sequence shows n symbols, then blanks; `gap` steps after each symbol a cue asks for it back. Guessing
scores ln(alphabet) nats. Truncated BPTT with a window shorter than the gap cannot carry the error back
to the step where the symbol was seen, so nothing teaches the cell to store it (only what the untrained
dynamics keep by chance can be read out, and that fades over a long gap); a longer window learns the task.
"""
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.charlm.recurrent import (
    CELLS,
    check_cell,
    detach,
    orthogonal,
    set_keep_gate_bias,
)
from core.common.config_args import check_ranges, within

MAX_ACTIVATIONS = 20_000_000  # batch x steps x hidden: the states and gates kept for backward stay under ~1 GB


@dataclass
class MemoryConfig:
    """The task (gap, n_symbols, alphabet) and how to train on it."""

    cell: str = "lstm"  # rnn | gru | lstm
    gap: int = field(default=20, metadata=within(1, 1000))  # steps between seeing a symbol and having to recall it
    n_symbols: int = field(default=1, metadata=within(1, 1000))
    alphabet: int = field(default=4, metadata=within(2, 64))
    hidden_size: int = field(default=32, metadata=within(1, 512))
    steps: int = field(default=200, metadata=within(1, 100_000))
    batch_size: int = field(default=32, metadata=within(1, 4096))
    optimizer: str = "adam"  # adam | sgd
    lr: float = field(default=0.01, metadata=within(1e-8, 10.0))
    clip: float | None = field(default=None, metadata=within(1e-8, 1e6))  # max gradient L2 norm
    bptt: int | None = field(default=None, metadata=within(1, 2000))  # truncated-BPTT window; None = full sequence
    sigma: float | None = field(default=None, metadata=within(1e-6, 100.0))  # W_hh gate blocks = sigma * orthogonal
    forget_bias: float = field(default=1.0, metadata=within(-100.0, 100.0))  # LSTM forget / GRU update gate bias
    seed: int = field(default=0, metadata=within(0, 2**63 - 1))

    def __post_init__(self):
        check_cell(self.cell)
        check_ranges(self)
        checks = [
            (self.n_symbols <= self.gap, "need n_symbols <= gap"),
            (self.batch_size * self.length * self.hidden_size <= MAX_ACTIVATIONS,
             f"batch_size x (gap + n_symbols) x hidden_size must be at most {MAX_ACTIVATIONS:,} (memory)"),
            (self.optimizer in ("adam", "sgd"), "optimizer must be adam or sgd"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    @property
    def length(self) -> int:
        return self.gap + self.n_symbols


@dataclass
class MemoryResult:
    """Per training step: loss, gradient norm before clipping, size of the update; then a held-out score."""

    config: MemoryConfig
    loss: np.ndarray  # (steps,) mean cross-entropy over the recalled symbols, nats
    grad_norm: np.ndarray  # (steps,) L2 norm of the whole gradient before clipping
    update_norm: np.ndarray  # (steps,) L2 norm of the parameter change of the step
    eval_loss: float
    eval_accuracy: float
    seconds: float
    chance_loss: float = field(init=False)

    def __post_init__(self):
        self.chance_loss = math.log(self.config.alphabet)


def make_batch(cfg: MemoryConfig, batch_size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs x (B, T, alphabet+2) one-hot (symbols, blank, cue) and targets y (B, n_symbols)."""
    K, n, T = cfg.alphabet, cfg.n_symbols, cfg.length
    y = torch.randint(0, K, (batch_size, n), generator=gen)  # (B, n)
    tokens = torch.full((batch_size, T), K)  # blank
    tokens[:, :n] = y
    tokens[:, cfg.gap:] = K + 1  # cue: "recall the symbol seen gap steps ago"
    return F.one_hot(tokens, K + 2).float(), y


class MemoryNet(nn.Module):
    """One recurrent layer and a linear read-out of the recalled symbol."""

    def __init__(self, cfg: MemoryConfig, gen: torch.Generator):
        super().__init__()
        self.rnn = CELLS[cfg.cell](cfg.alphabet + 2, cfg.hidden_size, batch_first=True, device="meta")
        self.head = nn.Linear(cfg.hidden_size, cfg.alphabet, device="meta")
        self.to_empty(device="cpu")  # allocated, not initialised: the global RNG is left alone
        H, G = cfg.hidden_size, self.rnn.weight_hh_l0.shape[0] // cfg.hidden_size
        with torch.no_grad():  # seeded init: PyTorch's uniform(-1/sqrt(H), 1/sqrt(H)) from gen
            for p in self.parameters():
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) / math.sqrt(H))
            if cfg.sigma is not None:
                for k in range(G):
                    self.rnn.weight_hh_l0[k * H:(k + 1) * H] = cfg.sigma * orthogonal(H, gen)
        if cfg.cell != "rnn":
            set_keep_gate_bias(self.rnn, cfg.forget_bias)

    def forward(self, x: torch.Tensor, state=None):
        """x (B, T, K+2) -> logits (B, T, K), state."""
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(out), state


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])  # (n_params,)


def _loss_backward(model: MemoryNet, cfg: MemoryConfig, x: torch.Tensor, y: torch.Tensor) -> float:
    """Forward in windows of cfg.bptt steps, carrying the state detached; backward each window's loss."""
    T, n = cfg.length, cfg.n_symbols
    window = cfg.bptt or T
    state, total = None, 0.0
    for s in range(0, T, window):
        lo, hi = max(s, cfg.gap), min(s + window, T)  # recall steps inside this window
        with torch.set_grad_enabled(lo < hi):
            logits, state = model(x[:, s:s + window], state)  # (B, w, K)
            if lo < hi:
                loss = F.cross_entropy(logits[:, lo - s:hi - s].reshape(-1, cfg.alphabet),
                                       y[:, lo - cfg.gap:hi - cfg.gap].reshape(-1)) * (hi - lo) / n
                loss.backward()
                total += loss.item()
        state = detach(state)
    return total


@torch.no_grad()
def evaluate(model: MemoryNet, cfg: MemoryConfig, batch_size: int = 512, seed: int = 10_000) -> tuple[float, float]:
    """Held-out cross-entropy (nats) and accuracy of the recalled symbols on fresh sequences."""
    x, y = make_batch(cfg, batch_size, torch.Generator().manual_seed(cfg.seed + seed))
    logits = model(x)[0][:, cfg.gap:]  # (B, n, K)
    return F.cross_entropy(logits.reshape(-1, cfg.alphabet), y.reshape(-1)).item(), \
        (logits.argmax(-1) == y).float().mean().item()


def train_memory(cfg: MemoryConfig) -> MemoryResult:
    """Train a fresh seeded model on the copy problem for cfg.steps batches."""
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    model = MemoryNet(cfg, gen)
    opt = (torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=cfg.lr)
    losses, grad_norms, update_norms = [], [], []
    for _ in range(cfg.steps):
        x, y = make_batch(cfg, cfg.batch_size, gen)
        opt.zero_grad(set_to_none=False)
        losses.append(_loss_backward(model, cfg, x, y))
        before = _flat(model)
        # the norm before clipping; max_norm=inf leaves the gradient as it is
        grad_norms.append(nn.utils.clip_grad_norm_(model.parameters(), cfg.clip or math.inf).item())
        opt.step()
        update_norms.append(torch.linalg.vector_norm(_flat(model) - before).item())
    eval_loss, eval_acc = evaluate(model, cfg)
    return MemoryResult(cfg, np.array(losses), np.array(grad_norms), np.array(update_norms),
                        eval_loss, eval_acc, time.perf_counter() - t0)
