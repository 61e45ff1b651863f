"""Attribution of a next-character prediction to the earlier characters: gradient x input and integrated gradients.

Both act on the character embeddings.  Gradient x input (Shrikumar et al., 2016; Baehrens et al., 2010) is
the first-order term: a_j = <dF/de_j, e_j>.  Integrated gradients (Sundararajan, Taly & Yan, 2017) average the
gradient along the straight path from a baseline (all-zero embeddings) to the input,
a_j = <e_j - b_j, integral_0^1 dF/de_j(b + alpha (e - b)) dalpha>, so the attributions sum to
F(e) - F(b) (completeness); the integral is taken by Gauss-Legendre quadrature, all nodes as one batch.
F is the logit of the target character after reading the `window` characters up to the position, started
from a zero state.

Completeness is exact only as far as the quadrature is: on small models 16 nodes reach 1e-3, but on the
shipped 2 x 384 LSTMs over 200 characters the gap is not a bug of the path (every input of the window is
interpolated, both ends start from the same zero state, autograd's dF/dalpha equals a finite difference to
1e-8, float64 changes nothing): F along the straight path from zero embeddings jumps by up to one logit
within 1/2000 of the path at small alpha, where the scaled-down inputs flip the LSTM's saturated gates.
No fixed rule resolves that (austen-lstm, val position 5123: 16 nodes 12.7%, 64 nodes 13.4%, 256 nodes
24.5%; halving the pieces that miss, up to 1024 nodes, 12-26% on three positions), so each Attribution
carries its completeness_error for display.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.model import CharRNN
from core.vocab import Vocab

LogitFn = Callable[[torch.Tensor], torch.Tensor]  # embeddings (B, T, E) -> logits (B, V)


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

    @property
    def completeness_error(self) -> float:
        """|sum of attributions - (F(input) - F(baseline))| relative to |F(input) - F(baseline)|."""
        delta = self.logit - self.baseline_logit
        return abs(float(self.scores.sum()) - delta) / max(abs(delta), 1e-6)


def last_logits(model: CharRNN) -> LogitFn:
    """F for a CharRNN: embeddings (B, T, H) -> next-character logits after the last one (B, V)."""
    def fn(emb: torch.Tensor) -> torch.Tensor:
        out, _ = model.rnn(emb)  # (B, T, H)
        return model.head(out[:, -1])  # (B, V)
    return fn


def gradient_x_input(fn: LogitFn, emb: torch.Tensor, target: int) -> torch.Tensor:
    """<dF_target/de_j, e_j> for each position j of emb (T, E) -> (T,)."""
    x = emb.detach()[None].requires_grad_(True)  # (1, T, E)
    (grad,) = torch.autograd.grad(fn(x)[0, target], x)
    return (grad[0] * x[0].detach()).sum(-1)


def integrated_gradients(fn: LogitFn, emb: torch.Tensor, target: int, baseline: torch.Tensor | None = None,
                         steps: int = 24) -> tuple[torch.Tensor, float, float]:
    """IG attributions (T,) of F_target from baseline (default zeros) to emb (T, E); also F(emb) and F(baseline)."""
    if steps < 1:
        raise AttributionError("integrated gradients need at least one quadrature step")
    emb = emb.detach()
    base = torch.zeros_like(emb) if baseline is None else baseline.detach()
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
    alpha = torch.tensor((nodes + 1) / 2, dtype=emb.dtype)[:, None, None]  # (S, 1, 1) on [0, 1]
    w = torch.tensor(weights / 2, dtype=emb.dtype)  # (S,), sums to 1
    path = (base + alpha * (emb - base)).requires_grad_(True)  # (S, T, E)
    (grad,) = torch.autograd.grad(fn(path)[:, target].sum(), path)  # (S, T, E)
    avg = torch.einsum("s,ste->te", w, grad)  # (T, E)
    with torch.no_grad():
        ends = fn(torch.stack([emb, base]))[:, target]  # (2,)
    return ((emb - base) * avg).sum(-1), float(ends[0]), float(ends[1])


def attribute(model: CharRNN, vocab: Vocab, text: str, position: int, method: str = "ig", window: int = 200,
              target: str | None = None, steps: int = 24) -> Attribution:
    """Attribute the prediction after text[position] (of `target`, default the real next char, else the argmax)."""
    if not 0 <= position < len(text):
        raise AttributionError(f"position {position} is outside the text (0..{len(text) - 1})")
    if method not in ("ig", "grad_x_input"):
        raise AttributionError(f"method must be 'ig' or 'grad_x_input', not {method!r}")
    start = max(0, position - window + 1)
    chars = text[start:position + 1]
    emb = model.embed(torch.tensor(vocab.encode(chars))).detach()  # (T, H)
    fn = last_logits(model)
    if target is None and position + 1 < len(text):
        target = text[position + 1]
    if target is None:
        with torch.no_grad():
            target = vocab.itos[int(fn(emb[None])[0].argmax())]
    if len(target) != 1:
        raise AttributionError(f"the target must be one character, not {target!r}")
    tid = vocab.stoi.get(target, 0)
    if method == "ig":
        scores, f_x, f_b = integrated_gradients(fn, emb, tid, steps=steps)
    else:
        scores = gradient_x_input(fn, emb, tid)
        with torch.no_grad():
            f_x, f_b = (float(v) for v in fn(torch.stack([emb, torch.zeros_like(emb)]))[:, tid])
    return Attribution(start, chars, scores.detach().numpy(), target, f_x, f_b, method)


def reach(scores: np.ndarray, mass: float = 0.9) -> int:
    """How many characters back (from the last) hold `mass` of the total absolute attribution."""
    a = np.abs(scores[::-1])
    total = a.sum()
    return int(np.searchsorted(np.cumsum(a), mass * total) + 1) if total > 0 else 0


def main(argv: list[str] | None = None) -> int:
    from core.checkpoint import CheckpointError, load_checkpoint
    from core.corpus import CorpusError, load_corpus

    p = argparse.ArgumentParser(prog="python -m core.attribution", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--position", type=int, action="append", help="character index in the text (repeatable)")
    p.add_argument("--random", type=int, default=0,
                   help="summarise reach and completeness over this many random positions")
    p.add_argument("--method", choices=("ig", "grad_x_input"), default="ig")
    p.add_argument("--window", type=int, default=200)
    p.add_argument("--steps", type=int, default=24, help="quadrature nodes for integrated gradients")
    p.add_argument("--skip", type=int, default=0, help="start this far into the corpus val split")
    p.add_argument("--max-chars", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    try:
        ckpt = load_checkpoint(args.checkpoint)
        text = load_corpus(ckpt.card.get("corpus", "")).val[args.skip:args.skip + args.max_chars]
        for pos in args.position or []:
            a = attribute(ckpt.model, ckpt.vocab, text, pos, args.method, args.window, steps=args.steps)
            top = np.argsort(-np.abs(a.scores))[:8]
            print(f"position {pos}: target {a.target!r} logit {a.logit:.3f} (baseline {a.baseline_logit:.3f}), "
                  f"sum {a.scores.sum():.3f}; 90% of |attribution| within {reach(a.scores)} characters")
            print("  strongest: " + ", ".join(f"{a.chars[j]!r}@-{len(a.chars) - 1 - j} {a.scores[j]:+.3f}"
                                              for j in top))
        if args.random:
            rng = np.random.default_rng(args.seed)
            runs = [attribute(ckpt.model, ckpt.vocab, text, int(pos), args.method, args.window, steps=args.steps)
                    for pos in rng.integers(args.window, len(text) - 1, args.random)]
            e = np.array([a.completeness_error for a in runs])
            reaches = [reach(a.scores) for a in runs]
            print(f"{len(runs)} random positions ({args.method}): 90% of |attribution| within a median of "
                  f"{np.median(reaches):.0f} characters (quartiles {np.percentile(reaches, 25):.0f}-"
                  f"{np.percentile(reaches, 75):.0f}); completeness error median {np.median(e):.2e}, max "
                  f"{e.max():.2e}, within 1%: {np.mean(e <= 0.01):.0%}")
    except (AttributionError, CheckpointError, CorpusError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
