"""Corpora: user files, the document split rule, and a clear message when a system tool is missing."""
import pytest

from core.charlm import corpus
from core.charlm.corpus import (
    CorpusError,
    check_user_text,
    held_out_by_path,
    load_corpus,
    split_lines,
)
from tests.tiny_checkpoint import SONNETS


def test_a_user_file_splits_off_its_last_tenth_of_lines():
    c = load_corpus(str(SONNETS))
    lines = SONNETS.read_text().splitlines(keepends=True)
    assert c.train + c.val == "".join(lines)
    assert c.val == "".join(lines[len(lines) - len(lines) // 10:])
    assert split_lines("a\nb\n") == ("a\n", "b\n")


@pytest.mark.parametrize("raw,message", [
    (b"", "empty"), (b"  \n ", "empty"), (b"\xff\xfe\x00abc" * 400, "not UTF-8"), (b"short text", "at least")])
def test_bad_user_text_is_explained(raw, message):
    with pytest.raises(CorpusError, match=message):
        check_user_text(raw)


def test_unknown_name_or_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="neither a built-in corpus"):
        load_corpus(str(tmp_path / "nope.txt"))


def test_the_validation_pick_depends_on_the_path_alone():
    paths = [f"mm/file{i}.c" for i in range(2000)]
    picked = [p for p in paths if held_out_by_path(p)]
    assert 0.08 < len(picked) / len(paths) < 0.12
    assert picked == [p for p in reversed(paths) if held_out_by_path(p)][::-1]


def test_a_missing_system_tool_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLENS_DATA", str(tmp_path))
    monkeypatch.setattr(corpus.shutil, "which", lambda tool: None)
    with pytest.raises(CorpusError, match="needs `apt-get`"):
        corpus.build("austen")
    assert not (tmp_path / "austen").exists()
