"""Every shipped character-level checkpoint loads, samples, and carries its card and timeline."""
import pytest

from core.charlm.checkpoint import list_checkpoints, load_checkpoint
from core.charlm.sample import stream_sample
from tests.conftest import ROOT

SHIPPED = ["shakespeare-lstm", "linux-lstm", "austen-lstm", "linux-rnn", "linux-gru"]


def test_the_shipped_set_is_complete():
    names = {p.name for p in list_checkpoints(ROOT / "checkpoints")}
    assert set(SHIPPED) <= names


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_and_samples(name):
    path = ROOT / "checkpoints" / name
    ckpt = load_checkpoint(path)
    assert sum(f.stat().st_size for f in path.iterdir()) < 25e6
    assert not (path / "train_state.json").exists()
    card = ckpt.card
    assert card["corpus"] in name and card["cell"] == ckpt.config.cell and card["n_params"] == ckpt.model.n_params()
    assert 0 < card["val_loss"] < 2.5 and card["train_seconds"] > 0
    steps = [s["step"] for s in ckpt.samples["timeline"]]
    assert steps == sorted(steps) and len(steps) >= 5 and all(len(s["text"]) == 300 for s in ckpt.samples["timeline"])
    text = "".join(stream_sample(ckpt.model, ckpt.vocab, "The ", 200, 0.8, seed=0))
    assert len(text) == 200 and "\ufffd" not in text
