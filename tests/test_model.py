"""CharRNN shapes, a gradient step, the vocabulary, and the incremental Stepper against the full forward."""
import pytest
import torch
import torch.nn.functional as F

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.stepper import Stepper
from core.charlm.vocab import UNK, Vocab


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_shapes_and_a_gradient_step_lowers_the_loss(cell):
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=11, cell=cell, n_layer=2, hidden_size=8))
    x = torch.randint(0, 11, (3, 7))
    logits, state = model(x)
    assert logits.shape == (3, 7, 11)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = F.cross_entropy(model(x)[0].reshape(-1, 11), x.roll(-1, 1).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("bad", [dict(cell="transformer"), dict(n_layer=4), dict(hidden_size=0),
                                 dict(dropout=1.0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        CharRNNConfig(vocab_size=5, **bad)


def test_vocab_maps_unseen_characters_to_unknown():
    vocab = Vocab.from_text("hello")
    assert vocab.itos[0] == UNK and len(vocab) == 5
    assert vocab.encode("hex!") == [vocab.stoi["h"], vocab.stoi["e"], 0, 0]
    assert vocab.decode(vocab.encode("hello")) == "hello"
    assert vocab.unknown_mask("hz") == [False, True]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("n_layer", [1, 3])
def test_stepper_matches_the_full_forward(cell, n_layer):
    torch.manual_seed(1)
    model = CharRNN(CharRNNConfig(vocab_size=9, cell=cell, n_layer=n_layer, hidden_size=12)).eval()
    ids = torch.randint(0, 9, (2, 10))
    full, _ = model(ids)  # (B, T, V)
    stepper = Stepper(model)
    logits = [stepper.prime(ids[:, :3])]
    for t in range(3, 10):
        logits.append(stepper.step(ids[:, t]))
    torch.testing.assert_close(torch.stack(logits[:-1], 1), full[:, 2:9], atol=1e-5, rtol=1e-5)


def test_forget_bias_starts_the_lstm_forget_gates_open_and_is_off_by_default():
    torch.manual_seed(0)
    plain = CharRNN(CharRNNConfig(10, "lstm", 2, 8))
    torch.manual_seed(0)
    biased = CharRNN(CharRNNConfig(10, "lstm", 2, 8, forget_bias=1.0))
    assert CharRNNConfig(10).forget_bias is None  # a config.json without the key builds the old model
    def bias(model, k):  # (4H,): blocks i, f, g, o
        return getattr(model.rnn, f"bias_ih_l{k}") + getattr(model.rnn, f"bias_hh_l{k}")
    for k in range(2):
        assert torch.allclose(bias(biased, k)[8:16], torch.ones(8))
        torch.testing.assert_close(bias(biased, k)[:8], bias(plain, k)[:8])
