"""Error analysis: kinds of characters and the error table on hand-made probabilities."""
from collections import Counter

import numpy as np
import pytest

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.ngram import NGram
from core.charlm.vocab import Vocab
from core.lens.error_analysis import (
    character_kinds,
    compare_with_ngram,
    error_table,
    long_range_closings,
    true_char_probs,
    word_mask,
)


def test_long_range_closings_in_prose_and_code():
    prose = 'He said "no" and then "a much longer reply" ok'
    out = long_range_closings(prose, code=False, min_distance=10)
    assert np.flatnonzero(out).tolist() == [prose.rindex('"')]
    code = "f(x) { if (a) { b(); } /* } */ }"
    out = long_range_closings(code, code=True, min_distance=10)
    assert np.flatnonzero(out).tolist() == [len(code) - 1]  # the outer brace; the one in the comment is skipped


def test_word_mask_and_kinds():
    text = 'the zyx "the"'
    assert word_mask(text, 2, Counter({"the": 9, "zyx": 1})).tolist() == [False] * 4 + [True] * 3 + [False] * 6
    kinds = character_kinds(text, Counter({"the": 9}), code=False, rare=2, long_range=3)
    assert np.flatnonzero(kinds["after space/newline"]).tolist() == [4, 8]
    assert np.flatnonzero(kinds["inside quotes"]).tolist() == [9, 10, 11, 12]  # predicted after the opening quote
    assert np.flatnonzero(kinds["long-range closing (>= 3 back)"]).tolist() == [12]
    assert kinds["within word"][1] and not kinds["within word"][4]


def test_error_table_counts_removed_and_added_errors():
    p_ngram = np.array([0.1, 0.2, 0.9, 0.3, 0.8])
    p_rnn = np.array([0.7, 0.1, 0.95, 0.6, 0.4])
    kinds = {"all": np.ones(5, dtype=bool), "odd": np.array([False, True, False, True, False])}
    rows = {r.kind: r for r in error_table(p_rnn, p_ngram, kinds)}
    assert (rows["all"].ngram_errors, rows["all"].rnn_errors, rows["all"].removed, rows["all"].added) == (3, 2, 2, 1)
    assert rows["all"].removed_fraction == 2 / 3 and rows["odd"].removed_fraction == 0.5
    assert rows["odd"].rnn_logp == pytest.approx(np.log([0.1, 0.6]).mean())


def test_true_char_probs_are_probabilities_of_the_next_character():
    text = "abab abba abab " * 4
    vocab = Vocab.from_text(text)
    model = CharRNN(CharRNNConfig(len(vocab), "gru", 1, 8)).eval()
    p_rnn, p_ngram = true_char_probs(model, vocab, NGram(text, 3), text)
    assert p_rnn.shape == p_ngram.shape == (len(text) - 1,)
    assert np.all((p_rnn > 0) & (p_rnn < 1))
    assert p_ngram[-1] == NGram(text, 3).prob(text[-3:-1], text[-1])


def test_compare_with_ngram_drops_the_first_character():
    text = 'ab "ab ba" ab\n' * 5
    vocab = Vocab.from_text(text)
    model = CharRNN(CharRNNConfig(len(vocab), "lstm", 1, 8)).eval()
    rows, p_rnn, p_ngram = compare_with_ngram(model, vocab, NGram(text, 2), Counter({"ab": 10}), text, code=False)
    assert rows[0].kind == "all" and rows[0].n == len(text) - 1 == len(p_rnn) == len(p_ngram)
    assert rows[0].ngram_errors == int((p_ngram < 0.5).sum())
