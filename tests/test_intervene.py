"""Clamping cells: the step loop matches the model, a planted cell changes exactly what it should."""
import numpy as np
import pytest
import torch

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.sample import stream_sample
from core.cli.intervene import main
from core.lens.activations import extract
from core.lens.intervene import (
    Clamp,
    ClampedStepper,
    InterventionError,
    build_clamps,
    causal_score,
    char_diff,
    check_clamp,
    closing_events,
    first_divergence,
    parse_clamp,
    resolve,
    sample_streams,
    side_by_side,
)
from tests.planted import PAREN_VOCAB, paren_lstm, paren_text


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_unclamped_steps_match_the_model(cell):
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(7, cell, 2, 12)).eval()
    ids = torch.randint(0, 7, (3, 20))
    expected, _ = model(ids)
    got = ClampedStepper(model, [[], [], []]).run(ids)
    assert torch.allclose(got, expected, atol=1e-5)


def test_parse_clamp():
    assert parse_clamp("1:c:317=0.5") == Clamp(1, "c", (317,), (0.5,))
    assert parse_clamp("0:h:3,7=mean") == Clamp(0, "h", (3, 7), "mean")
    assert parse_clamp("0:h:3") == Clamp(0, "h", (3,), "mean")
    for bad in ("1:x:3=1", "c:3=1", "1:c:3=abc", "1:c:3=nan"):
        with pytest.raises(InterventionError):
            parse_clamp(bad)


def test_check_clamp_rejects_what_the_model_lacks():
    gru = CharRNN(CharRNNConfig(5, "gru", 1, 8))
    for bad in (Clamp(0, "c", (1,), (0.0,)), Clamp(1, "h", (1,), (0.0,)), Clamp(0, "h", (8,), (0.0,))):
        with pytest.raises(InterventionError):
            check_clamp(gru, bad)


def test_build_clamps_reads_the_reference_only_for_means():
    model = paren_lstm()
    text, _ = paren_text(300)
    calls = []

    def reference() -> str:
        calls.append(1)
        return text

    assert build_clamps(model, PAREN_VOCAB, ["0:c:0=1"], reference) == [Clamp(0, "c", (0,), (1.0,))]
    assert not calls
    (mean,) = build_clamps(model, PAREN_VOCAB, ["0:c:0"], reference)
    expected = extract(model, PAREN_VOCAB, text, kinds=("h", "c")).states["c"][0, 0].mean()
    assert calls and mean.values[0] == pytest.approx(float(expected), abs=1e-5)
    with pytest.raises(InterventionError):
        build_clamps(model, PAREN_VOCAB, ["0:c:99"], reference)


def test_resolve_fills_means():
    means = {"h": np.arange(6.0).reshape(2, 3), "c": -np.arange(6.0).reshape(2, 3)}
    assert resolve([Clamp(1, "c", (0, 2), "mean")], means) == [Clamp(1, "c", (0, 2), (-3.0, -5.0))]


def test_clamped_lstm_cell_sets_c_and_h_from_it():
    model = paren_lstm()
    stepper = ClampedStepper(model, [[], [Clamp(0, "c", (0,), (0.37,))]])
    logits = stepper.step(torch.tensor([1, 1]))
    assert stepper.c[0][1, 0] == pytest.approx(0.37)
    assert stepper.h[0][1, 0] == pytest.approx(np.tanh(0.37), abs=1e-6)  # output gate is open (sigmoid(20))
    assert torch.equal(stepper.c[0][1, 1:], stepper.c[0][0, 1:])  # first step: other units untouched
    assert not torch.allclose(logits[0], logits[1])
    for ch in "x(xy)x":
        stepper.step(torch.tensor(PAREN_VOCAB.encode(ch) * 2))
    assert stepper.c[0][1, 0] == pytest.approx(0.37)


def test_planted_cell_controls_the_closing_bracket_and_nothing_else():
    model = paren_lstm()
    inside = Clamp(0, "c", (0,), (1.0,))
    free, clamped = side_by_side(model, PAREN_VOCAB, [inside], prime="x", length=300, temperature=1.0, seed=0)
    assert clamped.count(")") > 3 * max(free.count(")"), 1)  # always "inside": ')' everywhere
    # a unit whose value nothing reads (head weight, every gate weight from it set to zero) changes nothing
    with torch.no_grad():
        model.head.weight[:, 5] = 0.0
        model.rnn.weight_hh_l0[:, 5] = 0.0
    same, other = side_by_side(model, PAREN_VOCAB, [Clamp(0, "h", (5,), (0.9,))], "x", 300, 1.0, seed=0)
    assert same == other and first_divergence(same, other) is None


def test_causal_score_finds_the_planted_cell_and_not_a_random_one():
    model = paren_lstm(hidden=24)
    text, signal = paren_text(800)
    acts = extract(model, PAREN_VOCAB, text, kinds=("h", "c"))
    events = closing_events(text, signal, horizon=50)
    assert events and all(text[s] == "(" and text[e] == ")" for s, e in events)
    planted = causal_score(model, acts, signal, 0, "c", 0, n_control=12, seed=1)
    assert planted.effect < -1.0 and planted.z < -3.0  # clamped "outside": the ')' becomes unlikely
    assert len(planted.control_effects) == len(set(planted.control_units)) == 12 and 0 not in planted.control_units
    random_cell = causal_score(model, acts, signal, 0, "c", 9, n_control=12, seed=1)
    assert abs(random_cell.z) < abs(planted.z) / 5


@pytest.mark.parametrize("cell,top_k", [("lstm", 0), ("lstm", 3), ("gru", 0), ("rnn", 0)])
def test_each_stream_is_what_it_would_sample_alone(cell, top_k):
    torch.manual_seed(1)
    model = CharRNN(CharRNNConfig(len(PAREN_VOCAB), cell, 2, 16)).eval()
    clamp = [Clamp(1, "h", (2, 5), (0.8, -0.6))]
    free, clamped = sample_streams(model, PAREN_VOCAB, [[], clamp], "x(", 200, 1.2, seed=4, top_k=top_k)
    assert free == "".join(stream_sample(model, PAREN_VOCAB, "x(", 200, 1.2, top_k, seed=4))
    assert [clamped] == sample_streams(model, PAREN_VOCAB, [clamp], "x(", 200, 1.2, seed=4, top_k=top_k)
    assert free != clamped


def test_top_k_one_is_greedy_and_bad_settings_are_refused():
    model = paren_lstm()
    (greedy,) = sample_streams(model, PAREN_VOCAB, [[]], "x", 30, temperature=1.0, seed=0, top_k=1)
    assert len(set(sample_streams(model, PAREN_VOCAB, [[]], "x", 30, 1.0, seed=s, top_k=1)[0] for s in range(3))) == 1
    assert greedy == sample_streams(model, PAREN_VOCAB, [[]], "x", 30, 0.5, seed=9, top_k=1)[0]
    with pytest.raises(ValueError):
        sample_streams(model, PAREN_VOCAB, [[]], "x", 30, temperature=0.0)


def test_char_diff_round_trips():
    a, b = "the cat sat", "the hat sat!"
    runs = char_diff(a, b)
    assert "".join(x for _, x, _ in runs) == a and "".join(y for _, _, y in runs) == b
    assert first_divergence(a, b) == 4


def test_cli_sample_and_bad_spec(tmp_path, capsys):
    from core.charlm.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "paren", paren_lstm(), PAREN_VOCAB, {"corpus": ""}, {})
    assert main(["--checkpoint", str(path), "sample", "--clamp", "0:c:0=1", "--length", "40"]) == 0
    assert "---- clamped ----" in capsys.readouterr().out
    assert main(["--checkpoint", str(path), "sample", "--clamp", "3:c:0=1"]) == 2
    assert "layer 3 does not exist" in capsys.readouterr().err
