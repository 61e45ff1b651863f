"""Attribution of a next-character prediction to the earlier characters: gradient x input and integrated gradients.

Both act on the character embeddings.  Gradient x input (Shrikumar et al., 2016; Baehrens et al., 2010) is
the first-order term: a_j = <dF/de_j, e_j - b_j>.  Integrated gradients (Sundararajan, Taly & Yan, 2017)
average the gradient along the straight path from a baseline b to the input e,
a_j = <e_j - b_j, integral_0^1 dF/de_j(b + alpha (e - b)) dalpha>, so the attributions sum to F(e) - F(b)
(completeness).  F is the logit of the target character after reading the `window` characters up to the
position, started from a zero state.

Two things make completeness hold on a trained LSTM (austen-lstm), not only on small ones:
- The baseline is the window's own characters in a shuffled order, none left in its place where the window
  allows it (the shuffled-sequence reference DeepLIFT uses for DNA).  A flat baseline fails: from all-zero
  embeddings every input is scaled to a few percent of its size at once, a regime the model never saw, and
  from the window's average character the input is one vector repeated 200 times, which drives the LSTM
  into a cycle whose phase F follows.  F(alpha) then jumps (austen-lstm: by up to 2.5 logits within 1/2000
  of the path from zeros; by up to 1.3 within 1/4096 from the average character at val position 6294, IG
  error 740% at 256 nodes), which no quadrature resolves.  From a shuffle every point of the path is
  text-like: at that position the largest change between 1,025 evenly spaced points is 0.016 logits, and 64
  nodes give 0.4%; 100 of 100 random positions are within 1%.  Some of linux-lstm's paths from a shuffle
  still jump midway, and no budget resolves those (86 of 100 positions within 1% at 512 nodes, 89% of a
  36-position sample at 1,024), but another shuffle of the same window usually gives a smooth path: when the
  quadrature misses the tolerance, the next shuffle is tried (BASELINE_TRIES in all) and the most complete
  result kept.  Each Attribution carries its completeness_error and the shuffle it used.
- The integral is adaptive composite Gauss-Legendre: every piece of [0, 1] is checked against its own
  completeness, F(end) - F(start), which forward passes give exactly, and the pieces that miss most are
  halved until the misses add up to less than the tolerance.  All nodes of a round run as one batch.
An attribution therefore reads: how much this character, here, raised the logit over the same characters in
another order.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.charlm.model import CharRNN
from core.charlm.vocab import Vocab

LogitFn = Callable[[torch.Tensor], torch.Tensor]  # embeddings (B, T, E) -> logits (B, V)
NODES_PER_PIECE = 4   # Gauss-Legendre nodes on each piece of the path (fewer: deeper halving per node)
MAX_BATCH = 64        # path points per forward/backward batch (memory: 64 x T x 4H per layer)
MIN_DELTA = 1e-2      # logit differences below this count as this much in relative errors
BASELINE_TRIES = 3    # shuffles tried in turn while the integrated gradients miss their tolerance


class AttributionError(ValueError):
    """An attribution cannot be computed (position outside the text, unknown method)."""


@dataclass(frozen=True)
class Attribution:
    """Per-character contributions to the logit of `target` predicted after text[position]."""
    start: int                  # index of the first attributed character in the text
    chars: str                  # text[start:position + 1]
    scores: np.ndarray          # (len(chars),) contribution of each character
    target: str                 # the character whose logit is explained
    logit: float                # F(input)
    baseline_logit: float       # F(baseline); integrated gradients sum to logit - baseline_logit
    method: str
    nodes: int = 1              # gradient evaluations spent (integrated gradients: quadrature nodes, all tries)
    shuffle: int = 0            # the seed of the shuffled window used as the baseline (shuffled_order)

    @property
    def completeness_error(self) -> float:
        """|sum of attributions - (F(input) - F(baseline))| relative to |F(input) - F(baseline)| (at least 0.01)."""
        delta = self.logit - self.baseline_logit
        return abs(float(self.scores.sum()) - delta) / max(abs(delta), MIN_DELTA)


def last_logits(model: CharRNN) -> LogitFn:
    """F for a CharRNN: embeddings (B, T, H) -> next-character logits after the last one (B, V).

    F runs on a copy whose weights need no gradient, so backward passes compute input gradients only."""
    rnn, head = (copy.deepcopy(m).requires_grad_(False) for m in (model.rnn, model.head))

    def fn(emb: torch.Tensor) -> torch.Tensor:
        out, _ = rnn(emb)  # (B, T, H)
        return head(out[:, -1])  # (B, V)
    return fn


def shuffled_order(ids: list[int], seed: int = 0) -> list[int]:
    """A permutation of range(len(ids)) that moves a different character into every place it can."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids)).tolist()
    for j in range(len(ids)):
        if ids[order[j]] != ids[j]:
            continue
        for k in rng.permutation(len(ids)).tolist():  # swap with a place that stays different too
            if ids[order[k]] != ids[j] and ids[k] != ids[j]:
                order[j], order[k] = order[k], order[j]
                break
    return order


def shuffled_baseline(emb: torch.Tensor, ids: list[int], seed: int = 0) -> torch.Tensor:
    """The window's characters in a shuffled order (shuffled_order): rows of emb (T, E) permuted (T, E)."""
    return emb[shuffled_order(ids, seed)]


def gradient_x_input(fn: LogitFn, emb: torch.Tensor, target: int, baseline: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """<dF_target/de_j, e_j - b_j> for each position j of emb (T, E), baseline b default zeros -> (T,)."""
    x = emb.detach()[None].requires_grad_(True)  # (1, T, E)
    (grad,) = torch.autograd.grad(fn(x)[0, target], x)
    base = torch.zeros_like(emb) if baseline is None else baseline.detach()
    return (grad[0] * (x[0].detach() - base)).sum(-1)


def _logits_at(fn: LogitFn, base: torch.Tensor, diff: torch.Tensor, alphas: torch.Tensor, target: int
               ) -> torch.Tensor:
    """F_target at base + alpha diff for each alpha (S,), without gradients -> (S,)."""
    with torch.no_grad():
        return torch.cat([fn(base + a[:, None, None] * diff)[:, target] for a in alphas.split(MAX_BATCH)])


def _path_gradients(fn: LogitFn, base: torch.Tensor, diff: torch.Tensor, alphas: torch.Tensor, target: int
                    ) -> torch.Tensor:
    """<dF_target/de_j, diff_j> at base + alpha diff for each alpha (S,) -> (S, T), batched."""
    out = []
    for a in alphas.split(MAX_BATCH):
        path = (base + a[:, None, None] * diff).requires_grad_(True)  # (S, T, E)
        (grad,) = torch.autograd.grad(fn(path)[:, target].sum(), path)  # (S, T, E)
        out.append((grad * diff).sum(-1))  # (S, T)
    return torch.cat(out)


def integrated_gradients(fn: LogitFn, emb: torch.Tensor, target: int, baseline: torch.Tensor | None = None,
                         steps: int = 16, tol: float = 5e-3, max_steps: int = 512
                         ) -> tuple[torch.Tensor, float, float, int]:
    """IG attributions (T,) of F_target from baseline (default zeros) to emb (T, E); F(emb), F(baseline), nodes.

    Globally adaptive quadrature: each piece of the path has its own miss |sum of its attributions -
    (F(end) - F(start))|; while the misses add up to more than tol * |F(emb) - F(baseline)|, the pieces that
    miss most are halved (all of a round's nodes as one batch), until max_steps nodes are spent.  The
    completeness error is at most the summed misses."""
    if steps < 1:
        raise AttributionError("integrated gradients need at least one quadrature step")
    emb = emb.detach()
    base = torch.zeros_like(emb) if baseline is None else baseline.detach()
    diff = emb - base  # (T, E)
    per_piece = min(steps, NODES_PER_PIECE)
    x, w = (torch.tensor(v, dtype=emb.dtype) for v in np.polynomial.legendre.leggauss(per_piece))  # on [-1, 1]
    n_pieces = -(-steps // per_piece)
    todo = [(k / n_pieces, (k + 1) / n_pieces) for k in range(n_pieces)]
    f_at = dict(zip((0.0, 1.0), _logits_at(fn, base, diff, torch.tensor([0.0, 1.0]), target).tolist()))
    allowed = tol * max(abs(f_at[1.0] - f_at[0.0]), MIN_DELTA)
    done: dict[tuple[float, float], tuple[torch.Tensor, float]] = {}  # piece -> (its attributions (T,), miss)
    used = 0
    while todo:
        ends = sorted({e for piece in todo for e in piece} - f_at.keys())
        if ends:
            f_at.update(zip(ends, _logits_at(fn, base, diff, torch.tensor(ends), target).tolist()))
        lo = torch.tensor([a for a, _ in todo], dtype=emb.dtype)[:, None]  # (P, 1)
        half = torch.tensor([(b - a) / 2 for a, b in todo], dtype=emb.dtype)[:, None]  # (P, 1)
        alphas = (lo + half * (x + 1)).reshape(-1)  # (P * n,)
        grads = _path_gradients(fn, base, diff, alphas, target).view(len(todo), per_piece, -1)  # (P, n, T)
        parts = torch.einsum("pn,pnt->pt", half * w, grads)  # (P, T)
        used += len(alphas)
        for (a, b), part in zip(todo, parts):
            done[(a, b)] = part, abs(float(part.sum()) - (f_at[b] - f_at[a]))
        todo = []
        excess = sum(miss for _, miss in done.values()) - allowed
        for piece in sorted(done, key=lambda k: -done[k][1]):  # halve the worst pieces until the rest fit
            if excess <= 0 or used + per_piece * (len(todo) + 2) > max_steps:
                break
            excess -= done.pop(piece)[1]
            a, b = piece
            todo += [(a, (a + b) / 2), ((a + b) / 2, b)]
    total = torch.stack([part for part, _ in done.values()]).sum(0)  # (T,)
    return total, f_at[1.0], f_at[0.0], used


def attribute(model: CharRNN, vocab: Vocab, text: str, position: int, method: str = "ig", window: int = 200,
              target: str | None = None, steps: int = 16, tol: float = 5e-3, seed: int = 0) -> Attribution:
    """Attribute the prediction after text[position] (of `target`, default the real next char, else the argmax)
    against the window's characters shuffled with `seed` (integrated gradients: or the next seeds, while the
    path is too rough to integrate to `tol`)."""
    if not 0 <= position < len(text):
        raise AttributionError(f"position {position} is outside the text (0..{len(text) - 1})")
    if method not in ("ig", "grad_x_input"):
        raise AttributionError(f"method must be 'ig' or 'grad_x_input', not {method!r}")
    start = max(0, position - window + 1)
    chars = text[start:position + 1]
    ids = vocab.encode(chars)
    emb = model.embed(torch.tensor(ids)).detach()  # (T, H)
    fn = last_logits(model)
    if target is None and position + 1 < len(text):
        target = text[position + 1]
    if target is None:
        with torch.no_grad():
            target = vocab.itos[int(fn(emb[None])[0].argmax())]
    if len(target) != 1:
        raise AttributionError(f"the target must be one character, not {target!r}")
    tid = vocab.stoi.get(target, 0)
    if method == "grad_x_input":
        base = shuffled_baseline(emb, ids, seed)
        with torch.no_grad():
            f_x, f_b = (float(v) for v in fn(torch.stack([emb, base]))[:, tid])
        return Attribution(start, chars, gradient_x_input(fn, emb, tid, base).numpy(), target, f_x, f_b, method,
                           1, seed)
    best, spent = None, 0
    for shuffle in range(seed, seed + BASELINE_TRIES):  # a rough path: the same characters in another order
        scores, f_x, f_b, nodes = integrated_gradients(fn, emb, tid, shuffled_baseline(emb, ids, shuffle), steps, tol)
        spent += nodes
        a = Attribution(start, chars, scores.numpy(), target, f_x, f_b, method, nodes, shuffle)
        best = a if best is None or a.completeness_error < best.completeness_error else best
        if a.completeness_error <= tol:
            break
    return replace(best, nodes=spent)                   # the kept try, charged with every try's nodes


def reach(scores: np.ndarray, mass: float = 0.9) -> int:
    """How many characters back (from the last) hold `mass` of the total absolute attribution."""
    a = np.abs(scores[::-1])
    total = a.sum()
    return int(np.searchsorted(np.cumsum(a), mass * total) + 1) if total > 0 else 0
