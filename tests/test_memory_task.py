"""core.gradients.memory_task: the copy problem, clipping bounds the step, truncated BPTT shorter than the gap fails."""
import math

import numpy as np
import pytest
import torch

from core.cli.memory_task import main
from core.gradients.memory_task import MemoryConfig, make_batch, train_memory

TINY = dict(hidden_size=16, alphabet=4)


def test_batch_layout():
    cfg = MemoryConfig(gap=5, n_symbols=2, alphabet=3)
    x, y = make_batch(cfg, 4, torch.Generator().manual_seed(0))
    assert x.shape == (4, 7, 5) and y.shape == (4, 2)
    tokens = x.argmax(-1)  # (B, T)
    assert torch.equal(tokens[:, :2], y)
    assert (tokens[:, 2:5] == 3).all() and (tokens[:, 5:] == 4).all()  # blanks, then the recall cue


def test_clipping_bounds_the_update():
    run = dict(cell="rnn", optimizer="sgd", lr=0.3, sigma=1.0, gap=10, steps=30, seed=0, **TINY)
    clipped, free = train_memory(MemoryConfig(clip=0.5, **run)), train_memory(MemoryConfig(**run))
    assert clipped.grad_norm.max() > 1.0  # the raw gradient did spike past the threshold...
    assert clipped.update_norm.max() <= 0.3 * 0.5 * (1 + 1e-4)  # ...but no step was longer than lr * tau
    assert free.update_norm.max() > 0.3 * 0.5 * 2  # without clipping, steps follow the spikes


@pytest.mark.slow
def test_truncated_bptt_shorter_than_the_gap_cannot_learn():
    run = dict(cell="gru", optimizer="adam", lr=0.03, clip=1.0, gap=12, steps=80, seed=0, **TINY)
    short, full = train_memory(MemoryConfig(bptt=4, **run)), train_memory(MemoryConfig(bptt=13, **run))
    assert short.chance_loss == pytest.approx(math.log(4))
    assert short.eval_loss > 1.2  # about ln 4: guessing
    assert full.eval_loss < 0.1 and full.eval_accuracy > 0.95
    assert full.loss[-10:].mean() < 0.1 < short.loss[-10:].mean()


def test_seeded_and_window_as_long_as_the_sequence_is_full_bptt():
    run = dict(cell="lstm", gap=6, steps=8, **TINY)
    rng = torch.get_rng_state()
    a, b = train_memory(MemoryConfig(seed=3, **run)), train_memory(MemoryConfig(seed=3, bptt=7, **run))
    assert torch.equal(rng, torch.get_rng_state())  # a local generator only
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5)
    assert not np.allclose(a.loss, train_memory(MemoryConfig(seed=4, **run)).loss)
    assert a.loss.shape == a.grad_norm.shape == a.update_norm.shape == (8,)


@pytest.mark.parametrize("bad", [dict(cell="tcn"), dict(gap=0), dict(n_symbols=5, gap=3), dict(clip=0.0),
                                 dict(bptt=0), dict(optimizer="lbfgs"), dict(lr=-1.0)])
def test_bad_config(bad):
    with pytest.raises(ValueError):
        MemoryConfig(**bad)


def test_cli(capsys):
    assert main(["--cells", "rnn,gru", "--gap", "4", "--steps", "3", "--hidden-size", "8", "--clip", "1"]) == 0
    out = capsys.readouterr().out
    assert "chance loss 1.386" in out and " rnn clip=1.0" in out and " gru clip=1.0" in out
    with pytest.raises(SystemExit) as exit:
        main(["--gap", "0"])
    assert exit.value.code == 2 and "--gap: must be between 1 and 1,000" in capsys.readouterr().err
    assert main(["--batch-size", "4096", "--gap", "1000", "--hidden-size", "512"]) == 2
    assert capsys.readouterr().err.startswith("error: batch_size x (gap + n_symbols) x hidden_size")
