"""VQA command line with the shipped checkpoint: ask answers easy-VQA test questions; bad images, empty and
over-long questions, unknown words and bad flags get plain messages (exit 2, no traceback)."""
import importlib
from types import SimpleNamespace

import pytest

from core.vqa.data import load_split
from tests.conftest import ROOT

MODEL = ROOT / "checkpoints" / "vqa-easy"
pytestmark = pytest.mark.slow  # the shipped VQA model


@pytest.fixture
def run(capsys):
    """Call `python -m MODULE ARGS` in-process: (returncode, stdout, stderr)."""
    def call(module: str, *args: str) -> SimpleNamespace:
        try:
            code = importlib.import_module(module).main(list(args))
        except SystemExit as e:                                   # argparse errors
            code = e.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
    return call


@pytest.fixture(scope="module")
def test_image() -> tuple[str, str, str]:
    """(path, question, true answer) of the first "what color" question in the test split."""
    split = load_split("test")
    from core.vqa.data import answer_list
    q = next(k for k, t in enumerate(split.questions) if t.startswith("what color"))
    return split.paths[split.image_index[q]], split.questions[q], answer_list()[split.answers[q]]


def test_shipped_checkpoint_is_small_and_carded():
    from core.vqa.checkpoint import load_vqa
    ckpt = load_vqa(MODEL)
    assert sum(f.stat().st_size for f in MODEL.iterdir()) < 25e6
    assert ckpt.card["test"]["accuracy"]["all"]["accuracy"] >= 0.97 and ckpt.card["test"]["mass_ratio"] >= 3
    assert ckpt.card["world"] == "easy-VQA" and ckpt.card["train_seconds"] > 0


def test_ask_answers_and_scores_candidates(run, test_image):
    path, question, truth = test_image
    proc = run("core.cli.ask", "--model", str(MODEL), "--image", path, "--question", question)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith(f"answer: {truth} (")
    assert "hop 2:" in proc.stdout and "top 5:" in proc.stdout
    proc = run("core.cli.ask", "--model", str(MODEL), "--image", path, "--question", question,
               "--candidates", "red", "blue", "green", truth)
    assert proc.returncode == 0 and f"answer: {truth}" in proc.stdout


def test_ask_messages(run, test_image, tmp_path):
    path = test_image[0]
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    cases = [(["--image", str(bad), "--question", "what shape?"], "not an image"),
             (["--image", str(tmp_path / "missing.png"), "--question", "what shape?"], "missing.png: No such file"),
             (["--image", path, "--question", "  "], "empty")]
    for args, phrase in cases:
        proc = run("core.cli.ask", "--model", str(MODEL), *args)
        assert proc.returncode == 2 and phrase in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = run("core.cli.ask", "--model", str(MODEL), "--image", path, "--question", "what hue " * 1000)
    assert proc.returncode == 0 and "cut to its first 30 words" in proc.stderr and "<unk>" in proc.stdout
    assert "Unknown word(s) read as <unk>: hue" in proc.stderr


def test_bad_checkpoint_and_flags(run, tmp_path):
    proc = run("core.cli.vqa_evaluate", "--model", str(tmp_path))
    assert proc.returncode == 2 and "missing" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("core.cli.vqa_train", "--hops", "0")
    assert proc.returncode == 2 and "argument --hops: must be between 1 and 16, not 0" in proc.stderr
    proc = run("core.cli.vqa_train", "--world", "photos", "--noun-evidence")
    assert proc.returncode == 2 and "add --concepts" in proc.stderr
    proc = run("core.cli.vqa_train", "--attend-objects", "0.5")
    assert proc.returncode == 2 and "for the photo world" in proc.stderr
    proc = run("core.cli.vqa_evaluate", "--model", str(MODEL), "--split", "val")
    assert proc.returncode == 2 and "--split val is the photo world's" in proc.stderr


def test_train_refuses_an_absent_gpu_and_an_occupied_out_before_reading_data(run, tmp_path, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cache = tmp_path / "cache"
    proc = run("core.cli.vqa_train", "--device", "cuda", "--out", str(tmp_path / "ck"), "--cache-dir", str(cache))
    assert proc.returncode == 2 and proc.stderr.startswith("error: --device cuda: no CUDA GPU")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "ck").exists()
    occupied = tmp_path / "shipped"
    occupied.mkdir()
    for f in MODEL.iterdir():
        (occupied / f.name).write_bytes(f.read_bytes())
    proc = run("core.cli.vqa_train", "--device", "cpu", "--out", str(occupied), "--cache-dir", str(cache))
    assert proc.returncode == 2 and "already holds a checkpoint; pass --overwrite to replace it" in proc.stderr
    assert "Traceback" not in proc.stderr and not cache.exists()


def test_ask_names_a_photo_models_object_answer_from_the_open_vocabulary(run, tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    from core.vqa.photo_questions import photo_answers
    path = tmp_path / "motorcycle.png"
    Image.fromarray(skimage_data.stereo_motorcycle()[0]).save(path)
    args = ("--image", str(path), "--question", "what is this?")                  # the photo model is the default
    named = run("core.cli.ask", *args)
    assert named.returncode == 0, named.stderr
    *_, line, answer = named.stdout.strip().splitlines()
    assert line.startswith("named: motorcycle <- moped") and answer.startswith("answer: motorcycle (open vocabulary")
    closed = run("core.cli.ask", *args, "--no-naming").stdout.strip().splitlines()
    assert "named:" not in "".join(closed) and closed[-1].split()[1] in photo_answers()
    counted = run("core.cli.ask", *args[:-1], "how many cars are there?").stdout
    assert "named:" not in counted                                                 # a count is no object answer
