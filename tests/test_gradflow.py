"""core.gradients.flow and rnnlens gradflow: the backward recurrence against autograd, the sigma^k law, the LSTM's cell highway, the CLI."""
import numpy as np
import pytest
import torch

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.recurrent import layer_weights
from core.cli.gradflow import main
from core.gradients import flow as gf


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_two_layers_match_autograd(cell):
    layers, x, u = gf.random_problem(cell, 25, 8, sigma=1.3, forget_bias=1.0, input_scale=0.7, seed=3)
    layers.append(gf.init_layer(cell, 8, 8, sigma=0.9, forget_bias=-0.5, seed=4))
    layers[1].b_ih.normal_(generator=torch.Generator().manual_seed(5))  # nonzero biases on every gate
    ours, ref = gf.gradient_flow(layers, x, u), gf.autograd_flow(layers, x, u)
    assert ours.h_norm.shape == (2, 25)
    np.testing.assert_allclose(ours.h_norm, ref.h_norm, rtol=1e-4, atol=1e-7)
    if cell == "lstm":
        np.testing.assert_allclose(ours.c_norm, ref.c_norm, rtol=1e-4, atol=1e-7)
    else:
        assert ours.c_norm is None


def test_one_autograd_call_per_step_agrees():
    layers, x, u = gf.random_problem("gru", 12, 6, seed=1)
    np.testing.assert_allclose(gf.autograd_flow(layers, x, u, per_step=True).h_norm,
                               gf.gradient_flow(layers, x, u).h_norm, rtol=1e-4)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_text_flow_matches_autograd_through_the_model(cell):
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=11, cell=cell, n_layer=2, hidden_size=8)).eval()
    idx = torch.randint(0, 11, (30,))
    x = model.embed(idx[:-1]).detach()  # (T, H)
    out, _ = model.rnn(x.unsqueeze(0))  # (1, T, H)
    out.retain_grad()
    torch.nn.functional.cross_entropy(model.head(out[0, -1]), idx[-1]).backward()
    ref = gf.autograd_flow(layer_weights(model.rnn), x, out.grad[0, -1])
    ours = gf.text_flow(model, idx)
    np.testing.assert_allclose(ours.h_norm, ref.h_norm, rtol=1e-4, atol=1e-8)
    assert ours.h_norm[-1, -1] == pytest.approx(out.grad[0, -1].norm().item(), rel=1e-5)


def test_init_sets_every_singular_value():
    w = gf.init_layer("lstm", 5, 16, sigma=1.7, forget_bias=3.0, seed=0)
    for block in w.w_hh.split(16):
        np.testing.assert_allclose(torch.linalg.svdvals(block).numpy(), 1.7, rtol=1e-5)
    assert torch.all(w.b_hh[16:32] == 3.0) and torch.all(w.b_hh[:16] == 0)


@pytest.mark.parametrize("sigma", [0.8, 1.25])
def test_rnn_norm_is_geometric_with_small_inputs(sigma):
    # tiny inputs keep tanh' ~ 1, and every singular value of W_hh is sigma: ||dL/dh_{T-k}|| = sigma^k
    flow = gf.random_flow("rnn", 40, 32, sigma=sigma, input_scale=1e-6, seed=2)
    d = flow.by_distance()
    np.testing.assert_allclose(d, sigma ** np.arange(40), rtol=1e-3)
    ratios = d[1:] / d[:-1]
    assert np.all(ratios > 1) if sigma > 1 else np.all(ratios < 1)
    assert flow.spectral_norm[0] == pytest.approx(sigma, rel=1e-5)


def test_tanh_saturation_only_shrinks_the_rnn_gradient():
    flow = gf.random_flow("rnn", 60, 32, sigma=1.5, input_scale=1.0, seed=0)
    assert np.all(flow.by_distance() <= 1.5 ** np.arange(60) * (1 + 1e-9))


def test_forget_bias_keeps_the_lstm_cell_gradient_alive():
    far = {b: gf.random_flow("lstm", 300, 32, forget_bias=b, input_scale=0.1).by_distance(state="c")[-1]
           for b in (0.0, 6.0)}
    assert far[6.0] > 1e-3 and far[0.0] < 1e-20


def test_a_thousand_steps_do_not_underflow():
    d = gf.random_flow("rnn", 1000, 16, sigma=0.5, input_scale=1e-9).by_distance()
    assert d[-1] == pytest.approx(0.5 ** 999, rel=1e-3)  # ~1e-301: float64 all the way


def test_cli(capsys):
    assert main(["--cell", "rnn", "--length", "50", "--sigma", "0.9", "--input-scale", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "rnn h" in out and "sigma^k (sigma=0.900)" in out
    with pytest.raises(SystemExit) as exit:
        main(["--length", "0"])
    assert exit.value.code == 2 and "--length: must be between 1 and 5,000" in capsys.readouterr().err
    assert main(["--checkpoint", "nowhere", "--text-file", __file__]) == 2
    assert "error:" in capsys.readouterr().err


def test_bad_layers():
    with pytest.raises(ValueError):
        gf.init_layer("transformer", 4, 4)
    with pytest.raises(ValueError):
        gf.gradient_flow([], torch.zeros(3, 4), torch.zeros(4))
