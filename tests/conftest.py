"""Shared fixtures: the repo root on sys.path and a tiny trained checkpoint (built in tests/tiny_checkpoint.py)."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tiny_checkpoint import train_tiny  # noqa: E402  (needs the root on sys.path)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A 2-layer, 16-unit LSTM trained for a few steps on the sonnets."""
    return train_tiny(tmp_path_factory.mktemp("ckpt") / "tiny")
