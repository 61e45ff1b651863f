"""Ranking finds planted cells; exact AUC; LSTMVis pattern search; gate saturation."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from core.lens.activations import Activations
from core.lens.discovery import (
    DiscoveryError,
    auc,
    gate_saturation,
    pattern_search,
    rank_cells,
)


def synthetic(seed=0, T=3000, L=2, H=40):
    rng = np.random.default_rng(seed)
    states = {k: rng.normal(size=(L, H, T)).astype(np.float32) for k in ("h", "c")}
    states.update({g: rng.uniform(size=(L, H, T)).astype(np.float32) for g in ("i", "f", "g", "o")})
    return Activations("x" * T, np.zeros(T, np.int64), "lstm", states), rng


def test_graded_signal_finds_planted_cell():
    acts, rng = synthetic()
    y = rng.integers(0, 80, size=len(acts)).astype(np.float32)
    acts.states["c"][1, 17] = -0.05 * y + rng.normal(scale=0.3, size=len(acts))
    best = rank_cells(acts, y, top=5)
    assert (best[0].kind, best[0].layer, best[0].unit, best[0].sign) == ("c", 1, 17, -1)
    assert best[0].metric == "r" and best[0].score > 0.9 and best[1].score < 0.2


def test_monotone_ranking_prefers_a_saturating_cell_that_r_undervalues():
    acts, rng = synthetic(2)
    y = rng.integers(0, 6, size=len(acts)).astype(np.float32)                # a depth, 0..5
    saturating = 3 * np.exp(-2 * y) + rng.normal(scale=1e-5, size=len(acts))  # falls steeply, then flattens
    linear = y + rng.normal(scale=1.0, size=len(acts))
    acts.states["c"][0, 5], acts.states["h"][1, 9] = saturating, linear
    by_r = rank_cells(acts, y, top=2)
    by_rho = rank_cells(acts, y, top=2, monotone=True)
    assert [(s.kind, s.unit) for s in by_r] == [("h", 9), ("c", 5)]
    assert [(s.kind, s.unit, s.sign) for s in by_rho][0] == ("c", 5, -1)
    assert by_rho[0].metric == "rho" and by_rho[0].score > 0.95 > by_r[1].score
    assert by_rho[0].score == pytest.approx(-spearmanr(saturating, y).statistic, abs=1e-6)


def test_binary_signal_finds_planted_cell_by_auc():
    acts, rng = synthetic(1)
    y = (rng.uniform(size=len(acts)) < 0.2).astype(np.float32)
    # a threshold-like cell: nonlinear, with rare large outliers that hurt r but not the AUC
    v = np.where(y > 0, 0.9, 0.1) + rng.normal(scale=0.05, size=len(acts))
    v[rng.choice(len(acts), 15)] = -60
    acts.states["o"][0, 3] = v
    best = rank_cells(acts, y, top=3, candidates=20)  # 20 of 480 cells get an exact AUC
    assert (best[0].kind, best[0].layer, best[0].unit) == ("o", 0, 3)
    assert best[0].metric == "auc" and best[0].score > 0.98
    # the screened ranking agrees with scoring every cell exactly
    full = rank_cells(acts, y, top=3, candidates=10**6)
    assert [(s.kind, s.layer, s.unit) for s in full] == [(s.kind, s.layer, s.unit) for s in best]


def test_auc_exact_with_ties():
    x = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.4], np.float32)
    pos = np.array([0, 0, 1, 1, 1, 0], bool)
    # brute force over all (positive, negative) pairs
    want = np.mean([(p > n) + 0.5 * (p == n) for p in x[pos] for n in x[~pos]])
    assert auc(x, pos) == pytest.approx(want)
    assert auc(-x, pos) == pytest.approx(1 - want)
    assert auc(np.array([-2.0, -1.0, 0.0, 3.0], np.float32), np.array([0, 0, 1, 1], bool)) == 1.0
    rows = auc(np.stack([x, -x, np.zeros_like(x)]), pos)  # a batch of rows; a constant row scores 0.5
    np.testing.assert_allclose(rows, [want, 1 - want, 0.5])


def test_rank_cells_rejects_bad_signals():
    acts, _ = synthetic()
    with pytest.raises(DiscoveryError, match="constant"):
        rank_cells(acts, np.zeros(len(acts)))
    with pytest.raises(DiscoveryError, match="values"):
        rank_cells(acts, np.zeros(5))


def test_pattern_search_finds_the_same_cells_elsewhere():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 0.2, size=(16, 200)).astype(np.float32)          # (H, T)
    for s, e in [(20, 30), (100, 110), (150, 154)]:
        x[[2, 5, 9], s:e] = 0.9
    x[[2, 5], 60:70] = 0.9  # only part of the set
    units, matches = pattern_search(x, 20, 30, threshold=0.5)
    assert units.tolist() == [2, 5, 9]
    assert [(m.start, m.end) for m in matches] == [(100, 110), (150, 154)]
    assert matches[0].score == pytest.approx(1.0) and matches[1].score == pytest.approx(0.4)
    _, loose = pattern_search(x, 20, 30, threshold=0.5, min_fraction=0.6)
    assert (60, 70) in [(m.start, m.end) for m in loose]
    # a cell also on just before the span is not part of the set
    x[9, 19] = 0.9
    assert pattern_search(x, 20, 30, threshold=0.5)[0].tolist() == [2, 5]
    with pytest.raises(DiscoveryError):
        pattern_search(x, 30, 30, threshold=0.5)


def test_gate_saturation():
    acts, _ = synthetic()
    acts.states["f"][0, 0] = 0.95
    acts.states["i"][1, 1, :10] = 0.01
    sat = gate_saturation(acts)
    assert set(sat) == {"i", "f", "o"}
    left, right = sat["f"]
    assert left.shape == (2, 40) and right[0, 0] == 1.0 and left[0, 0] == 0.0
    assert sat["i"][0][1, 1] >= 10 / len(acts)


def test_cli_prints_top_cells_and_rejects_bad_input(tmp_path, capsys):
    import torch

    from core.charlm.checkpoint import save_checkpoint
    from core.charlm.model import CharRNN, CharRNNConfig
    from core.charlm.vocab import Vocab
    from core.cli.rank_cells import main

    text = "int f(void)\n{\n\t/* one */\n\treturn 1; // x\n}\n" * 40
    (tmp_path / "t.c").write_text(text)
    vocab = Vocab.from_text(text)
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m", CharRNN(CharRNNConfig(len(vocab), "gru", 1, 8)), vocab, {}, {})
    args = ["--checkpoint", str(ckpt), "--text", str(tmp_path / "t.c")]
    assert main([*args, "--signal", "comment", "--signal", "indentation", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "comment (binary, AUC" in out and "indentation (graded, Pearson r" in out
    assert out.count("layer 0 ") == 4
    assert main([*args, "--signal", "indentation", "--monotone"]) == 0
    assert "indentation (graded, Spearman rho" in capsys.readouterr().out
    assert main([*args, "--signal", "regex", "--regex", "(x"]) == 2
    assert "invalid regular expression" in capsys.readouterr().err
    assert main(["--checkpoint", str(tmp_path / "nope"), "--signal", "quote"]) == 2
