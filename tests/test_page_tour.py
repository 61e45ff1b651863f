"""The Tour page under AppTest: Next walks every stop, each drawing its figure; the URL names the stop and reopens
it; presenter mode; each stop's link opens its full page with the stop's settings, and bad link values get a
one-line warning; the five famous cells track their signals on the text shown, and their stored choice is what a
fresh ranking picks."""
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import models, tour, tour_cells
from dashboard.streaming import code_html

PREFIXES = {"sample": "sample_", "train_more": "train_more_", "train": "train_", "cells": "cells_",
            "gradients": "gradients_", "captioning": "cap_", "vqa": "vqa_"}  # each page's widget keys


def _tour(**query) -> AppTest:
    at = AppTest.from_file("../dashboard/app.py", default_timeout=600)
    at.switch_page("../pages/tour.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def _nodes(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _nodes(child)


def _figure_content(at: AppTest) -> int:
    """How much the stop's figure area (the container keyed tour_figure) holds: characters of its HTML, a thousand
    per plotly trace and per image."""
    area = next(n for n in _nodes(at.main) if str(getattr(n.proto, "id", "")).endswith("-tour_figure"))
    n = 0
    for node in _nodes(area):
        if node.type == "html":
            n += len(node.proto.body)
        elif node.type == "plotly_chart":
            n += 1000 * len(json.loads(node.proto.spec)["data"])
        elif node.type == "image":
            n += 1000 * sum(bool(img.url) for img in node.proto.imgs)
    return n


def test_next_walks_every_stop_and_the_url_follows():
    at = _tour()
    links = []
    for i, stop in enumerate(tour.STOPS):
        if i:
            at.button(key="tour_next").click().run()
        assert not at.exception, (stop.slug, at.exception)
        assert at.header[0].value == f"{i + 1}. {stop.title}"
        assert at.query_params["stop"] == stop.slug
        assert _figure_content(at) > 500, stop.slug
        assert not at.error and not at.warning, (stop.slug, at.error, at.warning)
        links.append(at.get("link_button")[0].proto.url)
    assert at.button(key="tour_next").disabled
    at.button(key="tour_back").click().run()
    assert at.header[0].value.startswith(f"{len(tour.STOPS) - 1}.") and at.query_params["stop"] == tour.STOPS[-2].slug
    assert len(set(links)) == len(links)  # every stop links somewhere of its own


def test_without_the_shipped_models_each_stop_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tmp_path / "none"))
    monkeypatch.setenv("RNNLENS_RUNS", str(tmp_path / "runs"))
    for stop in tour.STOPS:
        at = _tour(stop=stop.slug)  # no exception
        if stop.slug == "progress":
            assert "cannot be read here" in at.error[0].value and not at.get("link_button")


def test_a_stops_url_reopens_it_and_a_bad_one_says_so():
    assert _tour(stop="cells").header[0].value == "6. Cells that mean something"
    at = _tour(stop="7")
    assert at.header[0].value.startswith("7. ") and at.query_params["stop"] == "captioning"
    at = _tour(stop="nine")
    assert at.header[0].value.startswith("1. ")
    assert len(at.warning) == 1 and "not a stop" in at.warning[0].value


def test_presenter_mode_comes_from_the_url_and_goes_into_it():
    at = _tour(stop="hello", present="true")
    assert at.toggle(key="tour_present").value
    assert any("stSidebar" in h.proto.body for h in at.get("html"))
    at.toggle(key="tour_present").set_value(False).run()
    assert "present" not in at.query_params and not any("stSidebar" in h.proto.body for h in at.get("html"))


@pytest.mark.parametrize("slug", [s.slug for s in tour.STOPS])
def test_each_stops_link_opens_its_page_with_the_same_settings(slug):
    at = _tour(stop=slug)
    link = urlsplit(at.get("link_button")[0].proto.url)
    settings = dict(parse_qsl(link.query))
    page = AppTest.from_file("../dashboard/app.py", default_timeout=600)
    page.switch_page(f"../pages/{link.path}.py")
    page.query_params.update(settings)
    page.run()
    assert not page.exception and not page.warning, (slug, page.exception, page.warning)
    for name, value in settings.items():
        got = page.session_state["model_dir"].rsplit("/", 1)[-1] if name == "checkpoint" else \
            page.session_state[PREFIXES[link.path] + name]
        assert str(got).lower() == value.lower(), (slug, name)


def test_the_sample_link_writes_the_tours_text():
    at = _tour(stop="temperature")
    shown = next(h.proto.body for h in at.get("html") if "rnnlens-text" in h.proto.body)
    page = AppTest.from_file("../dashboard/app.py", default_timeout=600)
    page.switch_page("../pages/sample.py")
    page.query_params.update(dict(parse_qsl(urlsplit(at.get("link_button")[0].proto.url).query)))
    page.run()
    page.button(key="sample_generate").click().run()
    written = page.session_state["sample_result"]["text"]
    assert len(written) == tour.SAMPLE_LENGTH and shown == code_html(models.DEFAULT_PRIMES["shakespeare"] + written)


def test_bad_link_values_are_named_and_skipped():
    page = AppTest.from_file("../dashboard/app.py", default_timeout=600)
    page.switch_page("../pages/gradients.py")
    page.query_params.update({"sigma": "9", "panel": "<script>", "fbias": "x", "checkpoint": "../../etc"})
    page.run()
    assert not page.exception
    assert len(page.warning) == 4 and all(w.value.startswith("The link's") for w in page.warning)
    assert page.slider(key="gradients_sigma").value == 1.0
    page = AppTest.from_file("../dashboard/app.py", default_timeout=600)
    page.switch_page("../pages/captioning.py")
    page.query_params.update({"model": "photos", "source": "Sample photo", "sample": "cat (chelsea)", "word": "50"})
    page.run()  # a word beyond this caption's length
    assert not page.exception and [w.value for w in page.warning] == ["The link's word='50' is ignored: outside 1 to 5."]


def test_the_famous_cells_track_their_signals_on_the_shown_text():
    for name, (signal, _) in tour_cells.FAMOUS.items():
        cell = tour_cells.famous_cell(name)
        assert cell.score >= (0.6 if cell.graded else 0.8), (name, cell.score)
        assert cell.choice.page != cell.choice.start // tour_cells.dc.PAGE_CHARS  # not chosen on what is shown
        assert cell.html.count("<span") >= tour_cells.EXCERPT


def test_the_stored_choices_are_what_a_fresh_ranking_picks():
    stored = json.loads(tour_cells.PRECOMPUTED.read_text())
    fresh = tour_cells.stored_choices()
    assert stored.keys() == fresh.keys()
    for key, choice in fresh.items():
        score = choice.pop("score")
        assert stored[key].pop("score") == pytest.approx(score, abs=1e-4) and stored[key] == choice
