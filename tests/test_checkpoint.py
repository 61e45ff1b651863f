"""Checkpoint round trip and the messages for damaged or mismatched checkpoints."""
import json
import shutil

import pytest
import torch

from core.charlm.checkpoint import (
    CheckpointError,
    export_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.vocab import Vocab
from core.common.io import atomic_directory


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    vocab = Vocab.from_text("abcdefg \n")
    model = CharRNN(CharRNNConfig(len(vocab), "gru", 2, 8)).eval()
    path = save_checkpoint(tmp_path / "m", model, vocab, {"name": "m"}, {"timeline": []})
    return path, model


def test_round_trip_gives_identical_logits(saved):
    path, model = saved
    ckpt = load_checkpoint(path)
    x = torch.randint(0, len(ckpt.vocab), (2, 9))
    assert torch.equal(ckpt.model(x)[0], model(x)[0])
    assert ckpt.card == {"name": "m"} and list_checkpoints(path.parent) == [path]


def test_export_halves_the_weights_and_drops_the_training_state(saved, tmp_path):
    path, model = saved
    shipped = export_checkpoint(path, tmp_path / "shipped")
    assert not (shipped / "train_state.json").exists()
    x = torch.randint(0, 9, (1, 5))
    torch.testing.assert_close(load_checkpoint(shipped).model(x)[0], model(x)[0], atol=2e-2, rtol=0)


def test_missing_file(saved):
    path, _ = saved
    (path / "vocab.json").unlink()
    with pytest.raises(CheckpointError, match="missing vocab.json"):
        load_checkpoint(path)


def test_truncated_weights(saved):
    path, _ = saved
    blob = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path)


def test_config_that_does_not_match_the_weights(saved):
    path, _ = saved
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "hidden_size": 16}))
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(path)


def test_vocab_that_does_not_match_the_config(saved):
    path, _ = saved
    (path / "vocab.json").write_text(json.dumps({"itos": ["\ufffd", "a"]}))
    with pytest.raises(CheckpointError, match="2 symbols"):
        load_checkpoint(path)


def test_garbage_config_and_not_a_directory(saved, tmp_path):
    path, _ = saved
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(path)
    shutil.rmtree(path)
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        load_checkpoint(path)


def test_a_write_that_fails_halfway_leaves_the_old_checkpoint_whole(saved):
    saved, _ = saved
    before = sorted(p.name for p in saved.parent.iterdir())
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_directory(saved) as staging:
            (staging / "model.safetensors").write_bytes(b"partial")
            raise RuntimeError("disk full")
    assert sorted(p.name for p in saved.parent.iterdir()) == before  # no staging directory is left behind
    load_checkpoint(saved)


def test_config_kind_tells_the_formats_apart(saved):
    path, _ = saved
    config = json.loads((path / "config.json").read_text())
    assert config["kind"] == "char-rnn"
    older = shutil.copytree(path, path.parent / "older")  # written before configs carried a kind
    (older / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "kind"}))
    other = shutil.copytree(path, path.parent / "vqa")
    (other / "config.json").write_text(json.dumps({**config, "kind": "vqa"}))
    assert list_checkpoints(path.parent) == [path, older]
    assert load_checkpoint(older).config == load_checkpoint(path).config
    with pytest.raises(CheckpointError, match="'vqa' model"):
        load_checkpoint(other)
