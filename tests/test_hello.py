"""core.charlm.hello: the 3-unit vanilla RNN learns to spell "hello", seeded, with the lecture's shapes."""
import numpy as np
import pytest

from core.charlm.hello import train_hello


def test_it_learns_the_word_and_is_seeded():
    untrained, trained = train_hello(steps=0), train_hello(steps=100)
    assert trained.itos == ["h", "e", "l", "o"] and trained.inputs == "hell" and trained.targets == "ello"
    assert trained.predicted() == "ello" != untrained.predicted()  # the second 'l' needs the hidden state
    assert trained.losses[0] > 0.9 * np.log(4) and trained.losses[-1] < 0.05  # from about chance to near 0
    assert trained.scores.shape == (4, 4) and trained.hidden.shape == (4, 3)
    assert np.abs(trained.hidden).max() <= 1.0  # tanh
    assert np.array_equal(trained.one_hot(), np.eye(4)[[0, 1, 2, 2]])
    again = train_hello(steps=100)
    assert np.array_equal(again.scores, trained.scores) and np.array_equal(again.losses, trained.losses)
    assert not np.array_equal(train_hello(steps=100, seed=1).scores, trained.scores)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="two letters"):
        train_hello("h")
    with pytest.raises(ValueError, match="steps"):
        train_hello(steps=-1)
