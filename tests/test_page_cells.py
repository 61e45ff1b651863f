"""AppTest of the Cells page on a tiny LSTM checkpoint made here: highlight, step, presets, search, paste."""
import html
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.cells import val_text
from tests.page_helpers import open_tab
from tests.tiny_checkpoint import make_checkpoint

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
CODE = ('static int f(int a)\n{\n\t/* add one */\n\tif (a > 0) {\n\t\tprintk("a=%d\\n", a);\n'
        '\t\treturn a + 1; // done\n\t}\n\treturn 0;\n}\n\n')


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    corpus = root / "tiny.c"
    corpus.write_text(CODE * 40)
    return str(make_checkpoint(root / "tiny-lstm", "lstm", n_layer=2, text=CODE, corpus=str(corpus)))


def shown_text(at: AppTest) -> str:
    """The highlighted text as a reader sees it (tags stripped)."""
    return html.unescape(re.sub(r"<[^>]+>", "", at.get("html")[0].proto.body))


def open_page(model_dir: str, monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tmp_path / "none"))
    monkeypatch.setenv("RNNLENS_RUNS", str(tmp_path / "none"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["model_dir"] = model_dir
    at.run()
    at.switch_page("../pages/cells.py")
    at.run()
    assert not at.exception, at.exception
    return at


def open_panel(at: AppTest, name: str) -> AppTest:
    return open_tab(at, "cells_panel", name)


@pytest.mark.slow
def test_first_render_runs_only_the_find_panel(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    assert at.button(key="cells_find") and not at.get("plotly_chart")  # no heatmap
    found = at.session_state["cells_found"]  # a model with no famous cell opens on a signal its text has, found
    assert found["signal"] == "line_position" and found["scores"] and len(at.dataframe) == 1
    at.selectbox(key="cells_signal").set_value("indentation").run()
    open_panel(at, "Heatmap")
    assert len(at.get("plotly_chart")) == 1 and "cells_find" not in [b.key for b in at.button]
    at.slider(key="cells_span").set_value((10, 60)).run()
    open_panel(at, "Export")  # the export writes the heatmap's span, kept while the heatmap is closed
    assert "characters 10 to 60" in at.get("download_button")[-1].proto.label
    assert open_panel(at, "Find cells").selectbox(key="cells_signal").value == "indentation"  # kept while closed


def test_highlight_and_step_through_neurons(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    page = at.get("html")[0].proto.body
    assert "<pre" in page and "title=" in page and "next: " in page
    assert "static int f(int a)\n{\n\t/* add one */" in shown_text(at)
    at.number_input(key="cells_unit").increment().run()
    assert not at.exception
    layer, unit = at.session_state["cells_layer"], at.session_state["cells_unit"]  # one past the found cell
    assert f"unit {unit}" in at.get("html")[0].proto.body
    at.selectbox(key="cells_kind").set_value("f").run()
    assert not at.exception and f"{layer}:f:{unit} (forget" in at.get("html")[0].proto.body
    at.toggle(key="cells_percentiles").set_value(True).run()
    body = at.get("html")[0].proto.body
    assert not at.exception and f"{layer}:f:{unit}" in body and "2nd percentile" in body
    assert "#d62728" in body and "#1f77b4" in body  # the page's low end full red, its high end full blue


@pytest.mark.slow
def test_discovery_preset_highlights_best_cell(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    at.button(key="cells_preset_comment").click().run()
    assert not at.exception
    found = at.session_state["cells_found"]
    assert found["signal"] == "comment" and len(found["scores"]) == 20
    best = found["scores"][0]
    assert best.metric == "auc" and 0.5 <= best.score <= 1
    assert (at.session_state["cells_kind"], at.session_state["cells_layer"], at.session_state["cells_unit"]) == \
        (best.kind, best.layer, best.unit)
    assert len(at.dataframe) >= 1
    # pick the second cell from the list
    at.selectbox(key=f"cells_pick_{found['run']}").set_value(1).run()
    at.button(key="cells_pick_go").click().run()
    assert at.session_state["cells_unit"] == found["scores"][1].unit and not at.exception
    at.button(key="cells_preset_depth").click().run()  # a second preset: the found list is the depth one at once
    depth = at.session_state["cells_found"]
    assert depth["signal"] == "brace_depth" and "(r " in at.selectbox(key=f"cells_pick_{depth['run']}").options[0]
    # graded signal and a bad regex
    at.selectbox(key="cells_signal").set_value("indentation").run()
    at.button(key="cells_find").click().run()
    graded = at.session_state["cells_found"]
    assert graded["scores"][0].metric == "r"
    pick = at.selectbox(key=f"cells_pick_{graded['run']}")  # the list of this find, not the comment one
    best = graded["scores"][0]
    assert pick.options[0].startswith(f"1. {best.layer}:{best.kind}:{best.unit} (r ")
    assert at.session_state["cells_percentiles"]  # a graded cell is coloured by its range on the page
    at.toggle(key="cells_monotone").set_value(True).run()
    at.button(key="cells_find").click().run()
    assert at.session_state["cells_found"]["scores"][0].metric == "rho" and "rho" in at.dataframe[0].value.columns
    at.selectbox(key="cells_signal").set_value("regex").run()
    at.text_input(key="cells_regex").set_value("(oops").run()
    at.button(key="cells_find").click().run()
    assert not at.exception and any("invalid regular expression" in e.value for e in at.error)


@pytest.mark.slow
def test_pasted_text_with_unknown_chars_and_paging(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    at.radio(key="cells_source").set_value("paste").run()
    at.text_area(key="cells_paste").set_value("int ☃ x;\n" * 700).run()
    assert not at.exception
    assert any("not in the model's vocabulary" in w.value for w in at.warning)
    assert "dashed" in at.get("html")[0].proto.body
    at.number_input(key="cells_page").set_value(2).run()  # 6,300 characters: two pages
    assert not at.exception
    # the heatmap, the saturation plot and the pattern search render for the second page
    for name in ("Heatmap", "Gate saturation"):
        assert len(open_panel(at, name).get("plotly_chart")) == 1, name
    assert open_panel(at, "Pattern search").slider(key="cells_search_span").value[1] <= 6_300 - 5_000


@pytest.mark.slow
def test_last_sample_source(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    at.session_state["sample_text"] = "if (a) {\n\treturn 1;\n}\n"
    at.radio(key="cells_source").set_value("sample").run()
    assert not at.exception and "if (a) {\n\treturn 1;" in shown_text(at)
    open_panel(at, "Heatmap")
    assert np.isfinite(at.session_state["cells_span"][1])


@pytest.mark.slow
def test_attribution_colours_the_characters_a_prediction_leans_on(tiny, monkeypatch, tmp_path):
    at = open_page(tiny, monkeypatch, tmp_path)
    open_panel(at, "Attribution")
    assert not any("back: " in h.proto.body for h in at.get("html"))  # nothing computed before it is asked for
    at.number_input(key="cells_attr_position").set_value(30).run()
    at.toggle(key="cells_attr_on").set_value(True).run()
    assert not at.exception and "Predicting" in " ".join(m.value for m in at.markdown)  # gradient x input
    at.radio(key="cells_attr_method").set_value("ig").run()
    assert not at.exception
    page = val_text(str(Path(tiny).parent / "tiny.c"))
    words = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert f"Predicting **{page[31]!r}**" in words and "Completeness" in words
    body = next(h.proto.body for h in at.get("html") if "back: " in h.proto.body)
    assert html.unescape(re.sub(r"<[^>]+>", "", body)).startswith(page[:31])  # the 31 characters read so far
