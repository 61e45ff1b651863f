"""Shared fixtures: the repo root on sys.path, a small real text, and a tiny trained checkpoint."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SONNETS = ROOT / "tests" / "data" / "sonnets.txt"  # the first sonnets (public domain), 8 kB


def tiny_config(out, **overrides):
    """A TrainConfig small enough to run in about a second on one core."""
    from core.train import TrainConfig

    knobs = dict(corpus=str(SONNETS), out=str(out), cell="lstm", n_layer=2, hidden_size=16, batch_size=4,
                 seq_len=16, lr=1e-2, max_steps=6, max_minutes=None, eval_every=3, eval_chars=500,
                 checkpoint_every=3, seed=0)
    knobs.update(overrides)
    return TrainConfig(**knobs)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A 2-layer, 16-unit LSTM trained for a few steps on the sonnets."""
    from core.train import train

    return train(tiny_config(tmp_path_factory.mktemp("ckpt") / "tiny", max_steps=20, eval_every=10))
