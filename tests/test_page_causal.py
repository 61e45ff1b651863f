"""AppTest of the Cause & effect page: first render on a tiny LSTM, every panel's button, bad input, a shipped model."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.page_helpers import open_tab, svg_image
from tests.tiny_checkpoint import TIMELINE, make_checkpoint

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PROSE = ('"Come here," said she, "and sit down."\nHe did not answer; he stood by the door.\n'
         '"I will not," he said at last, "not today."\nThe rain (it had begun at noon) went on.\n')


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2 x 16 LSTM whose corpus (a file) has a validation split of over 20k characters, with probe scores."""
    root = tmp_path_factory.mktemp("causal")
    corpus = root / "prose.txt"
    corpus.write_text(PROSE * 1500)
    path = make_checkpoint(root / "tiny-lstm", "lstm", n_layer=2, text=PROSE, corpus=str(corpus))
    return str(path)


def open_page(model_dir: str, monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tmp_path / "none"))
    monkeypatch.setenv("RNNLENS_RUNS", str(tmp_path / "none"))
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["model_dir"] = model_dir
    at.run()
    at.switch_page("../pages/causal.py")
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return " ".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning])


def open_panel(at: AppTest, name: str) -> AppTest:
    return open_tab(at, "causal_panel", name)


@pytest.mark.slow
def test_first_render_shows_free_and_clamped_streams(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    bodies = [h.proto.body for h in at.get("html")]
    assert len(bodies) == 2 and all("<pre" in b for b in bodies)  # free and clamped; nothing attributed yet
    assert "Clamped `1:c:0 = +2.000`" in texts(at)  # the default cell, clamped to the default value
    at.text_input(key="causal_units").set_value("3").run()
    assert "no probe scores yet" in texts(open_panel(at, "Emerging in training"))  # the timeline predates the probe
    assert "Clamped `1:c:3 = +2.000`" in texts(open_panel(at, "Clamp & resample"))  # the units kept while closed


@pytest.mark.slow
def test_mean_and_value_clamps(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    at.radio(key="causal_mode").set_value("mean").run()
    assert not at.exception and "Clamped `1:c:0 = " in texts(at) and "+2.000" not in texts(at)  # the val mean
    at.radio(key="causal_mode").set_value("value").run()
    at.slider(key="causal_value").set_value(5.0).run()
    at.text_input(key="causal_units").set_value("0,1,2,3,4,5,6,7").run()
    assert not at.exception
    assert "+5.000" in texts(at) and "part at character" in texts(at)


def test_bad_units_get_a_message(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    at.text_input(key="causal_units").set_value("99").run()
    assert not at.exception
    assert "out of range" in " ".join(e.value for e in at.error)


@pytest.mark.slow
def test_causal_score_button(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    at.button(key="causal_score_btn").click().run()
    assert not at.exception
    score = at.session_state["causal_score"]
    assert score.n_events == 10 and len(score.control_effects) == 15  # 16 units: the cell and 15 others
    assert at.metric[0].value == f"{score.z:+.2f}"


def test_attribution_methods(tiny, monkeypatch, tmp_path):
    at = open_panel(open_page(tiny, monkeypatch, tmp_path), "Attribution")
    assert "90% of the attribution lies in" in texts(at)
    at.radio(key="causal_method").set_value("ig").run()
    assert not at.exception and "Completeness" in texts(at)


@pytest.mark.slow
def test_cell_checks_and_error_analysis_buttons(tiny, monkeypatch, tmp_path):
    at = open_panel(open_page(tiny, monkeypatch, tmp_path), "Is the cell real?")
    at.button(key="causal_check_btn").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 5 and set(table["verdict"]) <= {"real", "fails null", "fails held-out"}
    open_panel(at, "vs the n-gram").button(key="causal_errors_btn").click().run()
    assert not at.exception
    rows = at.session_state["causal_errors"][0]
    assert rows[0].kind == "all" and rows[0].n == 4_999


def test_matching_without_the_linux_models_says_so(tiny, monkeypatch, tmp_path):
    at = open_panel(open_page(tiny, monkeypatch, tmp_path), "Across models")
    at.button(key="causal_match_btn").click().run()
    assert not at.exception
    assert "are missing" in " ".join(e.value for e in at.error)


def test_emergence_chart_from_probe_scores(tmp_path, monkeypatch):
    timeline = [{**e, "probe": {"brace_depth": {"layer": 0, "kind": "c", "unit": 3, "metric": "auc", "score": s}}}
                for e, s in zip(TIMELINE, (0.6, 0.8, 0.95))]
    from core.charlm.checkpoint import load_checkpoint, save_checkpoint

    base = load_checkpoint(make_checkpoint(tmp_path / "base", "lstm", text=PROSE))
    path = save_checkpoint(tmp_path / "probed", base.model, base.vocab, base.card, {"timeline": timeline})
    at = open_panel(open_page(str(path), monkeypatch, tmp_path), "Emerging in training")
    chart = svg_image(at)
    assert chart.count("<circle") == 3  # one point per timeline step
    assert ">brace depth (code depth)</text>" in chart and "brace_depth" not in chart  # readable, not the id
    assert "Best cells at step 500: brace depth (code depth) 0:c:3 (auc) 0.95" in texts(at)
    assert "no probe scores yet" not in texts(at)


@pytest.mark.slow
def test_a_stored_retrain_is_drawn_for_a_model_without_probes_and_says_so(tmp_path, monkeypatch):
    from core.charlm.checkpoint import load_checkpoint
    from core.lens.emergence import attach_retrained

    path = make_checkpoint(tmp_path / "old", "lstm", text=PROSE)
    probe = {"comment": {"layer": 1, "kind": "c", "unit": 7, "metric": "auc", "score": 0.9}}
    attach_retrained(path, [{"step": s, "val_loss": 2.0, "probe": probe} for s in (100, 200)], "python -m X")
    assert load_checkpoint(path).samples["retrained"]["command"] == "python -m X"
    at = open_panel(open_page(str(path), monkeypatch, tmp_path), "Emerging in training")
    assert svg_image(at).count("<circle") == 2 and "1:c:7 (auc)" in texts(at) and "retrained from scratch" in texts(at)
