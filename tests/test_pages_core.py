"""AppTest of the dashboard shell and its Home, Sample, Train more and Train pages on tiny checkpoints made here."""
import html
import json
import re
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.charlm.sample import sample_batch, stream_sample
from core.charlm.settings import TrainConfig
from core.lens.intervene import Clamp, side_by_side
from dashboard import plots, training
from dashboard.models import get_checkpoint
from dashboard.streaming import code_html
from tests.page_helpers import svg_image
from tests.tiny_checkpoint import TEXT, TIMELINE, make_checkpoint

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
SONNETS = ROOT / "tests" / "data" / "sonnets.txt"


@pytest.fixture
def roots(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("RNNLENS_RUNS", str(tmp_path / "runs"))
    make_checkpoint(tmp_path / "checkpoints" / "tiny-lstm")
    return tmp_path


def shown_texts(at: AppTest) -> list[str]:
    """The generated texts on the page (code_html blocks: one <div> row per line, the text escaped)."""
    return ["\n".join(html.unescape(re.sub(r"<br>", "", row)) for row in re.findall(r"<div[^>]*>(.*?)</div>", h.value))
            for h in at.get("html")]


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py")
        at.run()
    assert not at.exception, at.exception
    return at


def test_shell_picks_a_model_and_shows_its_card(roots):
    at = open_page()
    assert at.session_state["model_dir"] == str(roots / "checkpoints" / "tiny-lstm")
    card = " ".join(m.value for m in at.sidebar.markdown)
    assert "corpus: **shakespeare**" in card and "layers x hidden: **1 x 16**" in card and "val bpc: **2.741**" in card
    assert at.title[0].value.startswith("rnnlens")
    # the sequence-types picture is an SVG: the first visit loads no plotly bundle (4.7 MB) for a static picture
    assert not at.get("plotly_chart") and len(at.get("image")) == 1
    picture = svg_image(at, 0)
    assert all(t in picture for t in ("<svg", "one to many", "many to one", "Gradients", "marker-end"))


def test_pages_say_what_to_do_without_any_checkpoint(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tmp_path / "none"))
    monkeypatch.setenv("RNNLENS_RUNS", str(tmp_path / "runs"))
    for page in ("sample", "train_more"):
        at = open_page(page)
        assert at.session_state["model_dir"] is None
        assert any("No model yet" in i.value for i in at.main.info)


@pytest.mark.slow
def test_sample_streams_the_requested_length_and_temperature_changes_it(roots):
    at = open_page("sample")
    at.text_area(key="sample_prime").set_value("First")
    at.number_input(key="sample_length").set_value(120)
    at.toggle(key="sample_fix_seed").set_value(True).run()
    at.number_input(key="sample_seed").set_value(3)
    at.button(key="sample_generate").click().run()
    assert not at.exception
    first = at.session_state["sample_text"]
    ckpt_dir = at.session_state["model_dir"]
    assert first.startswith("First") and len(first) == len("First") + 120
    at.button(key="sample_generate").click().run()
    assert at.session_state["sample_text"] == first  # same seed, same text
    at.slider(key="sample_temperature").set_value(0.3).run()
    at.button(key="sample_generate").click().run()
    assert at.session_state["sample_text"] != first
    assert shown_texts(at) == [at.session_state["sample_text"]]
    ckpt = get_checkpoint(ckpt_dir)
    expected = "".join(stream_sample(ckpt.model, ckpt.vocab, "First", 120, 0.3, seed=3))
    assert at.session_state["sample_text"] == "First" + expected


@pytest.mark.slow
def test_each_generate_is_a_new_sample_and_each_model_gets_its_own_prime(roots):
    make_checkpoint(roots / "checkpoints" / "tiny-linux", corpus="linux")
    at = open_page("sample")
    assert at.text_area(key="sample_prime").value == "static int "  # tiny-linux comes first
    at.number_input(key="sample_length").set_value(60)
    texts = [at.button(key="sample_generate").click().run().session_state["sample_text"] for _ in range(2)]
    assert texts[0] != texts[1]  # the seed is not fixed: a new seed on each press
    seed = at.session_state["sample_result"]["seed"]
    assert any(f"Seed {seed}" in c.value for c in at.caption)
    at.sidebar.selectbox[0].set_value(str(roots / "checkpoints" / "tiny-lstm")).run()
    assert at.text_area(key="sample_prime").value == "ROMEO.\n"


@pytest.mark.slow
def test_sample_greedy_beam_inspect_and_batch(roots):
    at = open_page("sample")
    at.toggle(key="sample_fix_seed").set_value(True).run()
    at.number_input(key="sample_length").set_value(40)
    at.button_group(key="sample_mode").set_value("greedy").run()
    at.button(key="sample_generate").click().run()
    greedy = at.session_state["sample_text"]
    assert len(greedy) == len(at.text_area(key="sample_prime").value) + 40
    at.button_group(key="sample_mode").set_value("beam").run()
    at.button(key="sample_generate").click().run()
    assert not at.exception and len(at.session_state["sample_text"]) == len(greedy)

    at.toggle(key="sample_main_inspect").set_value(True).run()
    assert not at.exception
    at.slider(key="sample_main_pos").set_value(7).run()
    charts = [c for c in at.get("plotly_chart") if "sample_main" in c.proto.id]
    assert len(charts) == 2  # confidence band and top-5
    top = json.loads(next(c for c in charts if "sample_main_top" in c.proto.id).proto.spec)["data"][0]
    assert len(top["y"]) == 5 and abs(sum(top["x"])) <= 1.0 + 1e-6

    at.button_group(key="sample_mode").set_value("sample").run()
    at.button(key="sample_batch_go").click().run()
    assert not at.exception
    texts = at.session_state["sample_batch"]["texts"]
    ckpt = get_checkpoint(at.session_state["model_dir"])
    prime = at.session_state["sample_batch"]["prime"]
    assert texts == sample_batch(ckpt.model, ckpt.vocab, prime, 40, [0.2, 0.5, 1.0, 1.5], seed=0)
    assert shown_texts(at)[1:] == [prime + t for t in texts]
    assert at.get("download_button")


def test_train_more_lists_the_stored_steps_beside_the_curve(roots):
    at = open_page("train_more")
    heads = [m.value for m in at.markdown if "· val loss" in m.value]
    assert [h.split("**")[1] for h in heads] == ["step 100", "step 200", "step 500"]
    assert all("bits/char" in h for h in heads) and not [m for m in at.markdown if "nats" in m.value]
    shown = [h.proto.body for h in at.get("html") if "rnnlens-text" in h.proto.body]
    assert shown == [code_html(e["text"]) for e in TIMELINE]
    curve = svg_image(at, 0)
    assert ">train (raw)<" in curve and ">train<" in curve and ">val<" not in curve
    assert "loss (bits / char)" in curve  # one unit on the page
    assert "no probe scores yet" in at.info[0].value  # the cells-emerging panel, for a timeline without probes
    at.select_slider(key="train_more_step").set_value(200).run()
    assert not at.exception


@pytest.mark.slow
@pytest.mark.parametrize("raw, message", [
    (b"", "the file is empty"),
    ("é".encode("latin-1") * 2000, "not UTF-8"),
    (b"too short", "at least 1000"),
    (b"x" * 1_200_000, "the limit here is 1 MB"),
])
def test_bad_uploads_get_a_clear_message(roots, monkeypatch, raw, message):
    monkeypatch.setattr(training, "MAX_UPLOAD_MB", 1)
    at = open_page("train")
    at.button_group(key="train_source").set_value("upload").run()
    at.file_uploader(key="train_upload").set_value(("bad.txt", raw, "text/plain")).run()
    assert not at.exception
    assert message in at.error[0].value
    assert at.button(key="train_start").disabled


def upload_citizens(at: AppTest) -> None:
    """Pick an uploaded text as the Train page's data."""
    at.button_group(key="train_source").set_value("upload").run()
    at.file_uploader(key="train_upload").set_value(("citizens.txt", (TEXT * 30).encode(), "text/plain")).run()


def start_small_run(at: AppTest, steps: int) -> training.JobSnapshot:
    """Start a run of `steps` tiny batches from the Train page and wait until it is over."""
    at.number_input(key="train_max_steps").set_value(steps)
    at.number_input(key="train_batch").set_value(4)
    at.number_input(key="train_seq_len").set_value(16)
    at.button(key="train_start").click().run()
    assert not at.exception
    return wait_until_over(training.registry().get(at.session_state["train_job"]))


@pytest.mark.slow
def test_a_tiny_run_from_the_train_page_makes_a_checkpoint_in_the_picker(roots):
    at = open_page("train")
    upload_citizens(at)
    assert "characters" in at.success[0].value
    if not torch.cuda.is_available():  # the device is shown, and offered as a choice only beside a GPU
        assert "train_device" not in [w.key for w in at.button_group]
        assert any(c.value.startswith("Trains on cpu: ") for c in at.caption)
    at.button_group(key="train_layers").set_value(1)
    at.select_slider(key="train_hidden").set_value(32)
    at.number_input(key="train_eval_every").set_value(10)
    at.number_input(key="train_sample_every").set_value(10)
    snap = start_small_run(at, 30)
    name = snap.name
    assert snap.status == "done", snap.error
    assert snap.step == 30 and len(snap.samples) >= 3 and any(p["val_loss"] for p in snap.curve)
    at.run()
    assert any("settings: 1 x 32 lstm, dropout" in c.value for c in at.caption)  # what the run chose, and why
    labels = {m.label for m in at.metric if "loss" in m.label}  # the running slice and the final whole split, named
    assert labels == {"Train loss (bits/char)", f"Val loss, first {snap.cfg.eval_chars:,} chars (bits/char)",
                      "Final val loss, whole split (bits/char)"}, labels
    out = roots / "runs" / name
    card = json.loads((out / "card.json").read_text())
    assert (out / "model.safetensors").is_file() and card["steps"] == 30
    at.run()
    assert not at.exception
    assert f"{name} (trained here)" in at.sidebar.selectbox[0].options
    at.button(key="train_use").click().run()
    assert at.session_state["model_dir"] == str(out)
    assert "citizens" in " ".join(m.value for m in at.sidebar.markdown)
    assert card["device"].startswith("cpu: ")  # (its thread count is the training thread's own)
    assert f"trained on: **{card['device'].replace(':', '', 1)}**" in " ".join(m.value for m in at.sidebar.markdown)


@pytest.mark.slow
def test_fine_tuning_from_the_train_page_keeps_the_parent_architecture(roots):
    parent = get_checkpoint(str(roots / "checkpoints" / "tiny-lstm"))
    at = open_page("train")
    upload_citizens(at)
    at.selectbox(key="train_init_from").set_value(str(parent.path)).run()
    assert "train_layers" not in [w.key for w in at.button_group]  # the architecture is the parent's
    assert any("from `tiny-lstm`" in c.value for c in at.caption)
    at.number_input(key="train_dropout").set_value(0.2)
    snap = start_small_run(at, 5)
    assert snap.status == "done", snap.error
    child = get_checkpoint(snap.path)
    assert child.config.hidden_size == parent.config.hidden_size and child.config.dropout == 0.2
    assert child.card["steps"] == parent.card["steps"] + 5


def wait_until_over(job: training.Job, seconds: float = 180) -> training.JobSnapshot:
    deadline = time.monotonic() + seconds
    while job.snapshot().active and time.monotonic() < deadline:
        time.sleep(0.3)
    return job.snapshot()


@pytest.mark.slow
def test_a_job_stops_with_a_checkpoint_and_resumes_where_it_stopped(tmp_path):
    jobs = training.JobRegistry()
    cfg = TrainConfig(corpus=str(SONNETS), out=str(tmp_path / "sonnets"), n_layer=1, hidden_size=16, batch_size=4,
                      seq_len=16, max_steps=None, max_minutes=10, eval_every=5, eval_chars=500, checkpoint_every=5,
                      sample_every=5)
    job = jobs.start(cfg)
    deadline = time.monotonic() + 180
    while job.snapshot().step < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    job.stop()
    stopped = wait_until_over(job)
    assert stopped.status == "stopped" and stopped.path == cfg.out
    with pytest.raises(training.JobError, match="the limit is 0"):
        training.JobRegistry(max_running=0).start(cfg)
    resumed = wait_until_over(jobs.resume(job.name, minutes=0.02))
    assert resumed.status == "done", resumed.error
    assert resumed.step > stopped.step
    assert resumed.curve[:len(stopped.curve)] == stopped.curve  # one curve across the two runs
    assert json.loads((tmp_path / "sonnets" / "card.json").read_text())["steps"] == resumed.step


@pytest.mark.slow
def test_sample_clamps_cells_beside_the_free_stream_and_attributes_a_choice(roots):
    at = open_page("sample")
    at.toggle(key="sample_fix_seed").set_value(True).run()
    at.number_input(key="sample_seed").set_value(3)
    at.number_input(key="sample_length").set_value(60)
    at.button(key="sample_generate").click().run()
    at.text_input(key="sample_clamp_units").set_value("0,1,2,3").run()
    at.slider(key="sample_clamp_value").set_value(5.0).run()
    at.button(key="sample_clamp_go").click().run()
    assert not at.exception
    shown, free, clamped = at.session_state["sample_clamped"]["shown"]
    ckpt = get_checkpoint(at.session_state["model_dir"])
    prime = at.text_area(key="sample_prime").value
    clamp = Clamp(0, "c", (0, 1, 2, 3), (5.0,) * 4)
    assert (free, clamped) == side_by_side(ckpt.model, ckpt.vocab, [clamp], prime, 60, 1.0, 3)
    assert free != clamped and "Clamped `0:c:0 = +5.000`" in " ".join(m.value for m in at.markdown)
    diff = [h.value for h in at.get("html") if "#c6ecc6" in h.value or "#f8c9c9" in h.value]
    assert len(diff) == 2  # the free and the clamped text, their differences marked

    at.toggle(key="sample_main_inspect").set_value(True).run()
    at.slider(key="sample_main_pos").set_value(7).run()
    at.toggle(key="sample_main_attr").set_value(True).run()
    at.radio(key="sample_main_method").set_value("ig").run()
    assert not at.exception
    words = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert f"Predicting **{at.session_state['sample_result']['text'][7]!r}**" in words and "Completeness" in words
    assert any("back: " in h.value for h in at.get("html"))  # the attributed characters carry their scores


def test_svg_bars_scale_to_their_full_value_and_escape_labels():
    svg = plots.bars_svg(["a<b", "yes"], [0.5, 0.25], full=1.0, title="probability")
    widths = [float(w) for w in re.findall(r'<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)"', svg)]
    assert widths == [130.0, 65.0] and "a&lt;b" in svg and ">0.500<" in svg and ">probability<" in svg
    assert 'width="260.0"' in plots.bars_svg(["x"], [3.0])                 # default: the largest bar is full


def test_svg_bars_show_a_long_class_name_whole_in_a_wider_label_column():
    short, long = plots.bars_svg(["cat"], [0.5]), plots.bars_svg(["German short-haired pointer", "cat"], [0.5, 0.1])
    assert ">German short-haired pointer<" in long
    x = [float(re.search(r'<rect x="([0-9.]+)"', svg).group(1)) for svg in (short, long)]
    assert x[1] > x[0] + 100


def test_svg_lines_on_a_log_axis_label_powers_of_ten_and_survive_a_flat_line():
    svg = plots.lines_svg({"fall": plots.Line([(0, 0.0), (10, -4.0)], dash="6,4")}, "k", "norm", log_y=True)
    exponents = re.findall(r"10<tspan[^>]*>(-?\d+)</tspan>", svg)
    assert exponents == ["-4", "-3", "-2", "-1", "0"] and 'stroke-dasharray="6,4"' in svg
    y = [float(v) for v in re.findall(r'<polyline points="[0-9.]+,([0-9.]+) [0-9.]+,([0-9.]+)"', svg)[0]]
    assert y[0] < y[1]                                                      # 10^0 above 10^-4
    flat = plots.lines_svg({"flat": plots.Line([(0, 0.2), (5, 0.2)])}, "k", "norm", log_y=True)
    assert "nan" not in flat and "inf" not in flat and flat.count("<circle") == 2
