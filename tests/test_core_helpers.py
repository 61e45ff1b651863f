"""Small core helpers the dashboard calls instead of reading files or running models itself."""
import json

import numpy as np
import pytest
import torch

from core.charlm.corpus import corpus_info, val_head
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.next_char import next_char_probabilities
from core.charlm.sample import START
from core.charlm.vocab import Vocab
from core.common.io import decode_text
from core.lens.activations import neutral_value, shown_label, shown_values


def test_next_char_probabilities_match_a_full_forward_pass():
    vocab = Vocab.from_text("abc\n")
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(len(vocab), "gru", 1, 8)).eval()
    probs = next_char_probabilities(model, vocab, "", "abca")  # (4, V)
    assert probs.shape == (4, len(vocab)) and np.allclose(probs.sum(1), 1, atol=1e-5)
    logits, _ = model(torch.tensor([vocab.encode(START + "abc")]))
    assert np.allclose(probs[3], torch.softmax(logits[0, 3], -1).detach().numpy(), atol=1e-6)


def test_corpus_info_and_val_head_read_a_built_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLENS_DATA", str(tmp_path))
    assert corpus_info("shakespeare") is None and val_head("shakespeare", 5) is None
    (tmp_path / "shakespeare").mkdir()
    (tmp_path / "shakespeare" / "val.txt").write_text("To be, or not to be")
    (tmp_path / "shakespeare" / "manifest.json").write_text(json.dumps({
        "files": {"train.txt": {"bytes": 2_000_000}, "val.txt": {"bytes": 19}}, "rule": "two plays",
        "source": {"package": "shakespeare", "version": "0.6"}}))
    info = corpus_info("shakespeare")
    assert (info.train_mb, info.rule, info.source) == (2.0, "two plays", "shakespeare 0.6")
    assert val_head("shakespeare", 5) == "To be"


def test_decode_text_and_value_transforms():
    assert decode_text("a\r\nb".encode()) == "a\nb"
    with pytest.raises(ValueError, match="byte 1 cannot be decoded"):
        decode_text(b"a\xe9b")
    assert np.allclose(shown_values(np.array([2.0]), "c"), np.tanh(2.0)) and shown_values(np.array([2.0]), "h")[0] == 2
    assert shown_label("c") == "tanh(c)" and shown_label("f") == "f"
    assert [neutral_value(k) for k in ("f", "z", "g", "h", "c")] == [0.5, 0.5, 0.0, 0.0, 0.0]
