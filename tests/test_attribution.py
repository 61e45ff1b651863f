"""Attribution: analytic answers on a linear model; integrated gradients complete on a tiny and a shipped LSTM."""
import numpy as np
import pytest
import torch

from core.charlm.checkpoint import load_checkpoint
from core.charlm.corpus import load_corpus
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.vocab import Vocab
from core.cli.attribution import main
from core.lens.attribution import (
    BASELINE_TRIES,
    AttributionError,
    attribute,
    gradient_x_input,
    integrated_gradients,
    last_logits,
    reach,
    shuffled_baseline,
    shuffled_order,
)
from tests.conftest import ROOT


def linear_fn(weights: torch.Tensor, bias: torch.Tensor):
    """F(e) = sum_t W_t e_t + bias: logits (B, V) from embeddings (B, T, E); weights (T, V, E)."""
    return lambda emb: torch.einsum("tve,bte->bv", weights, emb) + bias


def test_linear_model_attributions_are_the_analytic_ones():
    g = torch.Generator().manual_seed(0)
    W, b, emb = torch.randn(6, 4, 5, generator=g), torch.randn(4, generator=g), torch.randn(6, 5, generator=g)
    analytic = (W[:, 2] * emb).sum(-1)  # contribution of position t to logit 2: W_t[2] . e_t
    assert torch.allclose(gradient_x_input(linear_fn(W, b), emb, 2), analytic, atol=1e-5)
    ig, f_x, f_b, _ = integrated_gradients(linear_fn(W, b), emb, 2, steps=3)
    assert torch.allclose(ig, analytic, atol=1e-5)
    assert f_b == pytest.approx(float(b[2]), abs=1e-5) and ig.sum().item() == pytest.approx(f_x - f_b, abs=1e-4)
    base = torch.randn(6, 5, generator=g)  # another baseline: contributions of the difference
    ig_b, _, _, _ = integrated_gradients(linear_fn(W, b), emb, 2, baseline=base, steps=2)
    assert torch.allclose(ig_b, (W[:, 2] * (emb - base)).sum(-1), atol=1e-5)


def test_quadratic_model_needs_the_path_not_the_gradient():
    emb = torch.tensor([[2.0], [1.0]])
    fn = lambda e: (e[:, :, 0] ** 2).sum(1, keepdim=True)  # noqa: E731  F = e0^2 + e1^2
    ig, f_x, f_b, _ = integrated_gradients(fn, emb, 0, steps=2)
    assert ig.tolist() == pytest.approx([4.0, 1.0])  # integral of 2 alpha e^2: e^2
    assert gradient_x_input(fn, emb, 0).tolist() == pytest.approx([8.0, 2.0])  # 2 e^2


@pytest.mark.slow
def test_integrated_gradients_are_complete_on_100_random_positions():
    torch.manual_seed(0)
    text = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
            "must be in want of a wife.\n\"My dear Mr. Bennet,\" said his lady to him one day, \"have you heard "
            "that Netherfield Park is let at last?\"\n") * 2
    vocab = Vocab.from_text(text)
    model = CharRNN(CharRNNConfig(len(vocab), "lstm", 2, 16)).eval()
    rng = np.random.default_rng(0)
    errors = [attribute(model, vocab, text, int(p), "ig", window=40, steps=16).completeness_error
              for p in rng.integers(0, len(text) - 1, 100)]
    assert max(errors) < 0.01


def test_a_path_that_misses_the_tolerance_is_tried_again_from_another_shuffle():
    torch.manual_seed(2)
    text = "\"Oh!\" said she, \"how very dull.\" And she went to bed.\n" * 2
    vocab = Vocab.from_text(text)
    model = CharRNN(CharRNNConfig(len(vocab), "lstm", 1, 16)).eval()
    ids = vocab.encode(text[:41])
    emb = model.embed(torch.tensor(ids)).detach()
    tid = vocab.stoi[text[41]]
    tries = [integrated_gradients(last_logits(model), emb, tid, shuffled_baseline(emb, ids, k), 16, 1e-12)
             for k in range(BASELINE_TRIES)]
    errors = [abs(float(s.sum()) - (f_x - f_b)) / max(abs(f_x - f_b), 1e-2) for s, f_x, f_b, _ in tries]
    hopeless = attribute(model, vocab, text, 40, "ig", window=41, tol=1e-12)  # no quadrature gets this close
    assert hopeless.shuffle == int(np.argmin(errors)) and hopeless.nodes == sum(t[3] for t in tries)
    assert hopeless.completeness_error == pytest.approx(min(errors), rel=1e-4, abs=1e-9)
    first = attribute(model, vocab, text, 40, "ig", window=41)  # a smooth path: the first shuffle is kept
    assert first.shuffle == 0 and first.completeness_error <= 5e-3


def test_attribute_windows_targets_and_bad_input():
    torch.manual_seed(1)
    vocab = Vocab.from_text("abc ")
    model = CharRNN(CharRNNConfig(len(vocab), "gru", 1, 8)).eval()
    text = "abc abc cab"
    a = attribute(model, vocab, text, 6, "grad_x_input", window=4)
    assert (a.start, a.chars, a.target, a.scores.shape) == (3, " abc", " ", (4,))
    assert attribute(model, vocab, text, len(text) - 1, "ig").target in vocab.itos  # argmax at the end
    with pytest.raises(AttributionError):
        attribute(model, vocab, text, len(text), "ig")
    with pytest.raises(AttributionError):
        attribute(model, vocab, text, 2, "saliency")


def test_reach_counts_back_from_the_last_character():
    assert reach(np.array([0.0, 0.0, 5.0, 0.1, 0.1])) == 3
    assert reach(np.array([0.0, 0.0, 0.0, 0.0, 1.0])) == 1


def test_cli_rejects_a_missing_checkpoint(capsys, tmp_path):
    assert main(["--checkpoint", str(tmp_path / "none"), "--position", "3"]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_integrated_gradients_are_complete_on_the_shipped_austen_lstm():
    """Eight random validation positions, 200 characters back each: the trained LSTM, not only a tiny one,
    including val 6294, where the path from the window's average character jumped (core.lens.attribution)."""
    ckpt = load_checkpoint(ROOT / "checkpoints" / "austen-lstm")
    text = load_corpus("austen").val[:20_000]
    rng = np.random.default_rng(0)
    positions = [6294, *rng.integers(200, len(text) - 1, 7).tolist()]
    runs = [attribute(ckpt.model, ckpt.vocab, text, p, "ig") for p in positions]
    assert max(a.completeness_error for a in runs) < 0.01
    assert all(len(a.chars) == 200 and a.nodes >= 16 for a in runs)


def test_the_shuffled_baseline_moves_every_character_it_can():
    ids = [0] * 5 + [1, 2, 3, 4, 5, 6]                    # five of one character among eleven
    order = shuffled_order(ids, seed=3)
    assert sorted(order) == list(range(11)) and all(ids[order[j]] != ids[j] for j in range(11))
    assert shuffled_order(ids, seed=3) == order           # deterministic in its seed
    assert sorted(shuffled_order([7, 7, 7])) == [0, 1, 2]   # nothing to move: still a permutation
