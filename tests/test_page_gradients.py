"""The Gradients page under AppTest: renders, sliders change the figures, linux-* comparison present or not."""
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.charlm.checkpoint import save_checkpoint
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.vocab import Vocab
from core.gradients.memory_task import MemoryConfig, train_memory
from dashboard import gradients as G
from tests.page_helpers import open_tab, svg_image
from tests.tiny_checkpoint import TEXT, make_checkpoint


def _open(monkeypatch, root) -> AppTest:
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(root))
    monkeypatch.setenv("RNNLENS_RUNS", str(root / "runs"))
    at = AppTest.from_file("../dashboard/app.py", default_timeout=300)
    at.run()
    at.switch_page("../pages/gradients.py")
    at.run()
    assert not at.exception
    return at


def _spec(at: AppTest, key_part: str) -> dict:
    charts = [e for e in at.get("plotly_chart") if key_part in e.proto.id]
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def open_panel(at: AppTest, name: str) -> AppTest:
    return open_tab(at, "gradients_panel", name)


@pytest.mark.slow
def test_sliders_change_the_figures_without_checkpoints(monkeypatch, tmp_path):
    at = _open(monkeypatch, tmp_path)
    assert not at.get("plotly_chart") and len(at.get("image")) == 1  # one panel runs; its chart comes with the page
    assert [s.label for s in at.slider][:3] == ["Largest singular value σ of W_hh",
                                                "Forget-gate bias (LSTM f, GRU z)", "Sequence length T"]
    flow = svg_image(at)
    assert all(f">{name}</text>" in flow for name in ("rnn", "gru", "lstm", "lstm c", "σ^k (σ = 1.00)"))
    assert "10<tspan" in flow  # a log axis, labelled in powers of ten
    at.slider(key="gradients_sigma").set_value(1.5).run()
    assert not at.exception
    moved = svg_image(at)
    assert moved != flow and ">σ^k (σ = 1.50)</text>" in moved
    clip = _spec(open_panel(at, "Gradient clipping"), "gradients_clip")
    at.select_slider(key="gradients_tau").set_value(0.3).run()
    assert not at.exception
    assert _spec(at, "gradients_clip")["data"] != clip["data"]
    assert any("clipped 0.0" in c.value for c in at.caption)  # the clipped run learned the task
    open_panel(at, "Gradient flow back through time")
    assert at.slider(key="gradients_sigma").value == 1.5                   # kept while its panel was closed
    assert sum("is not there yet" in i.value for i in open_panel(at, "RNN vs GRU vs LSTM on real text").info) == 3


def page_texts(at: AppTest) -> list[str]:
    """Every text and axis title the page shows."""
    texts = [e.value for kind in ("markdown", "caption", "header", "title") for e in at.get(kind)]
    for chart in at.get("plotly_chart"):
        layout = json.loads(chart.proto.spec)["layout"]
        texts += [json.dumps(v) for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]
    return texts + [svg_image(at, i) for i in range(len(at.get("image")))]


def flow_chart(at: AppTest) -> str:
    """The page's gradient-flow chart (the SVG image with its k axis)."""
    charts = [svg_image(at, i) for i in range(len(at.get("image")))]
    return next(c for c in charts if "k = steps back" in c)


@pytest.mark.slow
def test_the_precomputed_first_view_matches_a_fresh_run():
    stored = G._precomputed()["memory"]
    assert set(stored) == {G.run_key(kw) for kw in G.slider_runs()}  # every run the sliders can ask for
    kw = dict(G.BPTT_RUN, bptt=G.BPTT_WINDOWS[0])
    fresh = G.result_to_json(train_memory(MemoryConfig(**kw)))
    np.testing.assert_allclose(stored[G.run_key(kw)]["loss"], fresh["loss"], rtol=1e-4, atol=1e-5)
    assert abs(stored[G.run_key(kw)]["eval_loss"] - fresh["eval_loss"]) < 1e-3


@pytest.mark.slow
def test_comparison_panel_with_tiny_checkpoints(monkeypatch, tmp_path):
    for cell in ("rnn", "lstm"):  # linux-gru missing
        make_checkpoint(tmp_path / f"linux-{cell}", cell)
    at = open_panel(_open(monkeypatch, tmp_path), "RNN vs GRU vs LSTM on real text")
    assert [i.value for i in at.info if "linux-gru" in i.value]
    assert {m.label for m in at.metric} == {"val loss (bits/char)"} and len(at.metric) == 2
    assert not [t for t in page_texts(at) if "nats" in t]  # one unit on the page: bits
    assert any("sample at 500" in h.proto.body for h in at.get("html"))
    text_flow = flow_chart(at)
    assert ">linux-rnn</text>" in text_flow and ">linux-lstm</text>" in text_flow
    at.slider(key="gradients_text_length").set_value(20).run()
    assert not at.exception
    assert flow_chart(at) != text_flow


def test_too_short_text_is_an_error_not_a_traceback(monkeypatch, tmp_path):
    vocab = Vocab.from_text(TEXT)
    model = CharRNN(CharRNNConfig(vocab_size=len(vocab), cell="lstm", n_layer=1, hidden_size=8))
    save_checkpoint(tmp_path / "linux-lstm", model, vocab, {}, {})
    at = open_panel(_open(monkeypatch, tmp_path), "RNN vs GRU vs LSTM on real text")
    assert any("n/a" == m.value for m in at.metric)  # an empty card still renders
    at.text_area[0].set_value("x").run()
    assert not at.exception
    assert any("at least two characters" in e.value for e in at.error)


@pytest.mark.slow
def test_the_real_text_references_stay_on_the_chart(monkeypatch):
    at = open_panel(_open(monkeypatch, G.models.checkpoints_dir()), "RNN vs GRU vs LSTM on real text")
    assert "ρ^k" in flow_chart(at) and not at.exception
    found, _ = G.comparison()  # the page's default view, drawn from the same curves
    text = G.real_text(G.TEXT_LENGTH)[:G.TEXT_LENGTH + 1]
    curves = G.text_curves(tuple(str(c.path) for c in found), text, tuple(c.card.get("steps") for c in found))
    rnn = next(name for name in curves if name.endswith("rnn"))
    lines, (lo, hi) = G.flow_lines({n: y for n, (y, _) in curves.items()}, curves[rnn][1], fit=rnn)
    refs = {name: np.array(line.points) for name, line in lines.items() if "^k" in name}
    k_max = max(max(x for x, _ in line.points) for line in lines.values())
    for name, points in refs.items():
        assert len(points) >= 2 and (points[:, 1] >= lo - 1e-9).all() and (points[:, 1] <= hi + 1e-9).all(), name
    assert max(points[:, 0].max() for points in refs.values()) >= k_max / 2  # across the chart, not off it at once
    assert {name[:3] for name in refs} == {"σ^k", "ρ^k"}
