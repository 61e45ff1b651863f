"""Careless uploads on the Train page (issue 10): a 255-character file name, and a text named like a built-in
corpus (`austen.txt`), which must stay the user's own text wherever the model's corpus is read back."""
import pytest
from hostile_helpers import ROOT
from streamlit.testing.v1 import AppTest

from core.charlm.checkpoint import load_checkpoint
from core.charlm.corpus import BUILDERS, load_corpus, upload_file_name
from core.charlm.train import train
from dashboard import training
from tests.tiny_checkpoint import TEXT, make_checkpoint, tiny_config

USER_TEXT = "My own austen.txt, not Jane Austen's novels.\n" + TEXT * 30


@pytest.fixture
def train_page(monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("RNNLENS_RUNS", str(tmp_path / "runs"))
    make_checkpoint(tmp_path / "checkpoints" / "tiny-lstm")
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("../pages/train.py")
    at.run()
    at.button_group(key="train_source").set_value("upload").run()
    return at


def test_a_255_character_file_name_gets_a_run_directory(train_page, tmp_path):
    """The name used to reach the run directory (stem + '-lstm-2x128-<time>'), over 255 bytes: the run failed."""
    at = train_page
    at.file_uploader(key="train_upload").set_value(("n" * 251 + ".txt", USER_TEXT.encode(), "text/plain")).run()
    assert not at.exception and "characters" in at.success[0].value
    assert not at.button(key="train_start").disabled
    (stored,) = (tmp_path / "runs" / "_uploads").glob("*/*.txt")
    assert stored.read_text() == USER_TEXT and stored.name == "n" * 64 + ".txt"
    (tmp_path / "runs" / training.run_name(str(stored), "lstm", 3, 512)).mkdir()  # within the 255-byte name limit


@pytest.mark.parametrize("name, stored", [("austen.txt", "austen.txt"), ("../../etc/passwd", "passwd.txt"),
                                          ("é" * 300 + ".txt", "upload.txt"), ("x" * 300, "x" * 64 + ".txt")])
def test_upload_names_become_short_safe_file_names(name, stored):
    assert upload_file_name(name) == stored


@pytest.mark.slow
def test_a_corpus_file_named_like_a_built_in_keeps_its_own_text(tmp_path):
    """Train on austen.txt: the card's corpus reads back the user's text, never the built-in Austen."""
    user_file = tmp_path / "austen.txt"
    user_file.write_text(USER_TEXT)
    corpus = load_corpus(str(user_file))
    assert corpus.name not in BUILDERS
    ckpt = load_checkpoint(train(tiny_config(tmp_path / "run", corpus=str(user_file), max_steps=2)))
    assert ckpt.card["corpus"] not in BUILDERS
    assert load_corpus(ckpt.card["corpus"]).val == corpus.val  # what the Cells page and CLI read back
