"""Error analysis of a char-RNN against an n-gram baseline, per character (Karpathy, Johnson & Fei-Fei 2015, sec. 4.3).

As in the paper, a model makes an error on a character when it gave that character probability below 0.5
at the previous step.  The table says, for each kind of character, how many of the n-gram's errors the
RNN removes (and how many new ones it makes): after a space or newline (the first letter of a word), within
a word, in a rare word (fewer than `rare` occurrences in the training text), inside brackets or quotes, and
long-range closings (a closing quote or bracket whose opening is at least `long_range` characters back),
which an n-gram with a short context cannot see.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from core.charlm.model import CharRNN
from core.charlm.ngram import NGram
from core.charlm.vocab import Vocab
from core.lens import signals
from core.lens.activations import extract

ERROR_P = 0.5
CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class ErrorRow:
    """One kind of character: counts of characters and of each model's errors."""
    kind: str
    n: int
    ngram_errors: int
    rnn_errors: int
    removed: int      # n-gram errors the RNN gets right
    added: int        # RNN errors the n-gram gets right
    ngram_logp: float  # mean log-probability of the true characters (nats)
    rnn_logp: float

    @property
    def removed_fraction(self) -> float:
        return self.removed / self.ngram_errors if self.ngram_errors else float("nan")


def word_mask(text: str, min_count: int, counts: Counter) -> np.ndarray:
    """True on the characters of words (runs of letters, digits, _) seen fewer than min_count times: (T,)."""
    out = np.zeros(len(text), dtype=bool)
    for m in re.finditer(r"\w+", text):
        if counts[m.group()] < min_count:
            out[m.start():m.end()] = True
    return out


def long_range_closings(text: str, code: bool, min_distance: int) -> np.ndarray:
    """True on closing quotes (prose) or code brackets (code) whose opening is >= min_distance back: (T,)."""
    out = np.zeros(len(text), dtype=bool)
    if code:
        _, is_code = signals.c_lex(text)
        stack: list[tuple[str, int]] = []
        for j, ch in enumerate(text):
            if not is_code[j]:
                continue
            if ch in "([{":
                stack.append((ch, j))
            elif ch in CLOSERS and stack and stack[-1][0] == CLOSERS[ch]:
                out[j] = j - stack.pop()[1] >= min_distance
    else:
        q = signals.quote(text)
        opened = 0
        for j in range(1, len(text)):
            if q[j] > q[j - 1]:
                opened = j
            elif q[j] < q[j - 1] and text[j] in "\"\u201d":
                out[j] = j - opened >= min_distance
    return out


def character_kinds(text: str, train_words: Counter, code: bool, rare: int = 5,
                    long_range: int = 20) -> dict[str, np.ndarray]:
    """Masks (T,) of the kinds of characters the table breaks errors down by; index j is the predicted char."""
    prev = np.array(["\0"] + list(text[:-1]))  # nothing before the first character
    chars = np.array(list(text))
    is_word = np.char.isalnum(chars) | (chars == "_")
    prev_word = np.char.isalnum(prev) | (prev == "_")
    inside = (signals.brackets(text) > 0) | (signals.string(text) > 0) if code else signals.quote(text) > 0
    inside_before = np.r_[False, inside[:-1]]  # the context the prediction is made in
    return {"all": np.ones(len(text), dtype=bool),
            "after space/newline": np.isin(prev, [" ", "\n", "\t"]),
            "within word": is_word & prev_word,
            "rare word": word_mask(text, rare, train_words),
            "inside brackets/quotes" if code else "inside quotes": inside_before,
            f"long-range closing (>= {long_range} back)": long_range_closings(text, code, long_range)}


def error_table(p_rnn: np.ndarray, p_ngram: np.ndarray, kinds: dict[str, np.ndarray]) -> list[ErrorRow]:
    """Per kind: n-gram and RNN errors (p < 0.5 on the true char) and how many the RNN removes; inputs (T,)."""
    e_rnn, e_ngram = p_rnn < ERROR_P, p_ngram < ERROR_P
    rows = []
    for kind, mask in kinds.items():
        mean_logp = (lambda p: float(np.log(p[mask]).mean()) if mask.any() else float("nan"))
        rows.append(ErrorRow(kind, int(mask.sum()), int((e_ngram & mask).sum()), int((e_rnn & mask).sum()),
                             int((e_ngram & ~e_rnn & mask).sum()), int((e_rnn & ~e_ngram & mask).sum()),
                             mean_logp(p_ngram), mean_logp(p_rnn)))
    return rows


def true_char_probs(model: CharRNN, vocab: Vocab, ngram: NGram, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Probability each model gave each character text[1:] from the characters before it: two (T-1,)."""
    acts = extract(model, vocab, text, kinds=("h",))
    k = ngram.order - 1
    p_ngram = np.array([ngram.prob(text[max(0, j - k):j], text[j]) for j in range(1, len(text))])
    return acts.p_next[:-1].astype(np.float64), p_ngram


def compare_with_ngram(model: CharRNN, vocab: Vocab, ngram: NGram, train_words: Counter, text: str, code: bool,
                       rare: int = 5, long_range: int = 20) -> tuple[list[ErrorRow], np.ndarray, np.ndarray]:
    """The error table over text[1:] and each model's probability of every true character there (T-1,)."""
    p_rnn, p_ngram = true_char_probs(model, vocab, ngram, text)
    kinds = character_kinds(text, train_words, code, rare, long_range)
    return error_table(p_rnn, p_ngram, {k: v[1:] for k, v in kinds.items()}), p_rnn, p_ngram
