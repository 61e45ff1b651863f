"""Smoothed character n-gram language model: the baseline of Karpathy, Johnson & Fei-Fei (2015).

`rnnlens ngram --corpus shakespeare --order 5` fits on train and prints `nats=... bpc=...` on val.
Interpolated Kneser-Ney-style absolute discounting (discount 0.75) down to a uniform distribution.
"""
import math
from collections import Counter, defaultdict

DISCOUNT = 0.75


class NGram:
    """Interpolated absolute-discounting character n-gram model."""

    def __init__(self, text: str, order: int):
        if order < 1:
            raise ValueError("order must be at least 1")
        self.order = order
        self.vocab = sorted(set(text)) + ["<unk>"]
        self.counts: list[dict[str, Counter]] = [defaultdict(Counter) for _ in range(order)]
        for n in range(order):  # n = context length
            table = self.counts[n]
            for i in range(n, len(text)):
                table[text[i - n:i]][text[i]] += 1
        self.totals = [{ctx: sum(c.values()) for ctx, c in table.items()} for table in self.counts]

    def prob(self, context: str, ch: str) -> float:
        """P(ch | the last order-1 characters of context)."""
        p = 1.0 / len(self.vocab)
        for n in range(self.order):
            if n > len(context):
                break
            ctx = context[len(context) - n:] if n else ""
            seen = self.counts[n].get(ctx)
            if not seen:
                continue
            total = self.totals[n][ctx]
            p = (max(seen.get(ch, 0) - DISCOUNT, 0) + DISCOUNT * len(seen) * p) / total
        return p

    def loss(self, text: str) -> float:
        """Mean negative log-likelihood in nats per character."""
        k = self.order - 1
        return -sum(math.log(self.prob(text[max(0, i - k):i], text[i])) for i in range(len(text))) / len(text)
