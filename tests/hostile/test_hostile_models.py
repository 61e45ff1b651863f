"""Hostile captioner and VQA folders, special files, a full disk (issue 25): every row of the issue's table is a
clear one-line refusal naming the file, within seconds, never a traceback or a hang.

The FIFOs, /dev/zero links and sparse files are made here; C is a copy of checkpoints/captioner-scenes, V of
checkpoints/vqa-easy. Library entry points run in-process; the command lines run in a child process with a
memory cap and a timeout (a hang or an unbounded allocation is what they would show on today's main).
"""
import errno
import json
import math
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
from hostile_helpers import GB, ROOT, run_capped
from safetensors.torch import load_file, save_file

from core.caption.model import CaptionCheckpointError, load_captioner, save_captioner
from core.caption.pipeline import load_checked as load_checked_captioner
from core.charlm.checkpoint import (
    checkpoint_problem,
    export_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from core.common.io import OutputError
from core.vision.images import ImageError, load_image_file
from core.vqa.checkpoint import VQACheckpointError, load_vqa, save_vqa
from core.vqa.checkpoint import load_checked as load_checked_vqa
from core.vqa.data import QuestionError, prepare_question
from core.vqa.pipeline import choose
from dashboard.markdown import code_span
from tests.tiny_checkpoint import make_checkpoint

SHIPPED = ROOT / "checkpoints"
WITHIN_S = 10.0  # each case, in-process
CLI_TIMEOUT_S = 120  # a child process: imports torch first, on a machine shared with other jobs


@pytest.fixture
def C(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHIPPED / "captioner-scenes", tmp_path / "C"))


@pytest.fixture
def V(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHIPPED / "vqa-easy", tmp_path / "V"))


# ---- what a careless or hostile user puts in a folder ------------------------------------------------------

def fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def zero_link(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")


def sparse(path: Path, size: int = 2 * GB) -> None:
    """The file as it was, then zeros up to size bytes (`truncate -s`): no disk space taken."""
    os.truncate(path, size)


def edit_json(path: Path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def edit_weights(path: Path, change) -> None:
    save_file({k: v.contiguous() for k, v in change(load_file(path)).items()}, path)


def edit_header(path: Path, change) -> None:
    """Rewrite a safetensors header in place (the tensors' bytes stay as they were)."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(change(json.loads(data[8:8 + n]))).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(len(header).to_bytes(8, "little") + header + data[8 + n:])


def refused(call, error: type[Exception], *phrases: str) -> str:
    """Assert call() raises `error` within WITHIN_S with a one-line message holding every phrase; return it."""
    t0 = time.monotonic()
    with pytest.raises(error) as caught:
        call()
    elapsed, message = time.monotonic() - t0, str(caught.value)
    assert "\n" not in message and all(p in message for p in phrases), message
    assert elapsed < WITHIN_S, (elapsed, message)
    return message


def clear_cli_error(proc: subprocess.CompletedProcess, code: int, *phrases: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and all(p in proc.stderr for p in phrases), proc.stderr[-2000:]


# ---- rows 2-8 and 10: captioner folders --------------------------------------------------------------------

HEADER_2_40 = lambda h: {**h, next(k for k in h if k != "__metadata__"): {  # noqa: E731
    **h[next(k for k in h if k != "__metadata__")], "data_offsets": [0, 2**40]}}
CAPTIONER = {  # case -> (edit of the folder C, the words the message holds)
    "2: card.json -> /dev/zero": (lambda c: zero_link(c / "card.json"), ("card.json", "symbolic link")),
    "2: config.json -> /dev/zero": (lambda c: zero_link(c / "config.json"), ("config.json", "symbolic link")),
    "2: vocab.json -> /dev/zero": (lambda c: zero_link(c / "vocab.json"), ("vocab.json", "symbolic link")),
    "3: config.json a FIFO": (lambda c: fifo(c / "config.json"), ("config.json", "FIFO")),
    "3: card.json a FIFO": (lambda c: fifo(c / "card.json"), ("card.json", "FIFO")),
    "3: model.safetensors a FIFO": (lambda c: fifo(c / "model.safetensors"), ("model.safetensors", "FIFO")),
    "4: vocab.json 2 GB": (lambda c: sparse(c / "vocab.json"), ("vocab.json", "more than the")),
    "4: card.json 2 GB": (lambda c: sparse(c / "card.json"), ("card.json", "more than the")),
    "5: weights garbage": (lambda c: (c / "model.safetensors").write_bytes(os.urandom(4096)),
                           ("model.safetensors", "damaged")),
    "5: weights truncated": (lambda c: os.truncate(c / "model.safetensors", 600_000),
                             ("model.safetensors", "damaged")),
    "5: weights 2 GB": (lambda c: sparse(c / "model.safetensors"), ("model.safetensors", "it has 2,147,483,648 bytes")),
    "5: weights -> /dev/zero": (lambda c: zero_link(c / "model.safetensors"), ("model.safetensors", "symbolic link")),
    "5: header claims 2^40 bytes": (lambda c: edit_header(c / "model.safetensors", HEADER_2_40),
                                    ("model.safetensors", "damaged")),
    "6: hidden_size 12000": (lambda c: edit_json(c / "config.json", lambda r: {**r, "hidden_size": 12_000}),
                             ("config.json", "parameters; the limit is")),
    "6: hidden_size 10^6": (lambda c: edit_json(c / "config.json", lambda r: {**r, "hidden_size": 10**6}),
                            ("config.json", "'hidden_size' is 1000000, outside")),
    "7: encoder bogus": (lambda c: edit_json(c / "config.json", lambda r: {**r, "encoder": "bogus"}),
                         ("config.json", "encoder 'bogus' is not one of")),
    "7: grid 10^6": (lambda c: edit_json(c / "config.json", lambda r: {**r, "grid": 10**6}),
                     ("config.json", "'grid' is 1000000, outside")),
    "7: dropout NaN": (lambda c: edit_json(c / "config.json", lambda r: {**r, "dropout": math.nan}),
                       ("config.json", "'dropout' must be a finite number")),
    "8: vocab of integers": (lambda c: edit_json(c / "vocab.json", lambda v: v[:4] + list(range(len(v) - 4))),
                             ("vocab.json", "must hold words")),
    "10: NaN weights": (lambda c: edit_weights(c / "model.safetensors",
                                               lambda w: {**w, "head.bias": torch.full_like(w["head.bias"], math.nan)}),
                        ("model.safetensors", "NaN or infinite")),
    "10: Inf weights": (lambda c: edit_weights(c / "model.safetensors",
                                               lambda w: {**w, "embed.weight": w["embed.weight"] / 0}),
                        ("model.safetensors", "NaN or infinite")),
    "10: int64 weights": (lambda c: edit_weights(c / "model.safetensors",
                                                 lambda w: {**w, "head.bias": w["head.bias"].long()}),
                          ("model.safetensors", "stored as I64")),
    "10: bool weights": (lambda c: edit_weights(c / "model.safetensors",
                                                lambda w: {**w, "head.bias": w["head.bias"] > 0}),
                         ("model.safetensors", "stored as BOOL")),
    "10: F64 weights": (lambda c: edit_weights(c / "model.safetensors",
                                               lambda w: {k: v.double() for k, v in w.items()}),
                        ("model.safetensors", "stored as F64")),
}


@pytest.mark.parametrize("case", list(CAPTIONER))
def test_a_hostile_captioner_folder_is_refused_clearly(case, C):
    edit, phrases = CAPTIONER[case]
    edit(C)
    refused(lambda: load_captioner(C), CaptionCheckpointError, *phrases)


@pytest.mark.parametrize("change, phrase", [({"encoder": "late"}, "the 'late' encoder gives 12 x 12, 1280 wide"),
                                            ({"grid": 13}, "a 13 x 13 grid")])
def test_row_7_a_captioner_that_cannot_read_its_encoder_is_refused_before_inference(change, phrase, C):
    edit_json(C / "config.json", lambda r: {**r, **change})
    refused(lambda: load_checked_captioner(str(C)), CaptionCheckpointError, "config.json", phrase)


# ---- rows 2-8, 10 and 14: VQA folders ---------------------------------------------------------------------

def _extra_tensor(v: Path) -> None:
    """A 600 MB tensor the model does not have, appended (sparse) after the real ones."""
    path = v / "model.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    end = max(e["data_offsets"][1] for k, e in header.items() if k != "__metadata__")
    header["extra"] = {"dtype": "F32", "shape": [150_000_000], "data_offsets": [end, end + 600_000_000]}
    edit_header(path, lambda h: header)
    sparse(path, path.stat().st_size + 600_000_000)


def _model_config(change):
    return lambda v: edit_json(v / "config.json", lambda r: {**r, "model": {**r["model"], **change}})


VQA = {
    "2: card.json -> /dev/zero": (lambda v: zero_link(v / "card.json"), ("card.json", "symbolic link")),
    "3: card.json a FIFO": (lambda v: fifo(v / "card.json"), ("card.json", "FIFO")),
    "4: config.json 2 GB": (lambda v: sparse(v / "config.json"), ("config.json", "more than the")),
    "4: vocab.json 2 GB": (lambda v: sparse(v / "vocab.json"), ("vocab.json", "more than the")),
    "4: answers.json 2 GB": (lambda v: sparse(v / "answers.json"), ("answers.json", "more than the")),
    "4: card.json 2 GB": (lambda v: sparse(v / "card.json"), ("card.json", "more than the")),
    "5: weights garbage": (lambda v: (v / "question_only.safetensors").write_bytes(b"\x07" * 100),
                           ("question_only.safetensors", "damaged")),
    "6: hops 10^6": (_model_config({"hops": 10**6}), ("config.json model", "'hops' is 1000000, outside")),
    "6: a 600 MB extra tensor": (_extra_tensor, ("model.safetensors", "unexpected ['extra']")),
    "7: encoder bogus": (_model_config({"encoder": "bogus"}), ("config.json model", "encoder 'bogus'")),
    "7: dropout NaN": (_model_config({"dropout": math.nan}), ("config.json model", "'dropout' must be a finite")),
    "8: answers an object": (lambda v: edit_json(v / "answers.json", lambda a: {"answers": a}),
                             ("answers.json must be a list",)),
    "10: NaN weights": (lambda v: edit_weights(v / "model.safetensors",
                                               lambda w: {k: torch.full_like(t, math.nan) for k, t in w.items()}),
                        ("model.safetensors", "NaN or infinite")),
    "10: non-string answers": (lambda v: edit_json(v / "answers.json", lambda a: list(range(len(a)))),
                               ("answers.json must be a list of distinct answers",)),
    "14: config.json a FIFO": (lambda v: fifo(v / "config.json"), ("config.json", "FIFO")),
    "14: config.json -> /dev/zero": (lambda v: zero_link(v / "config.json"), ("config.json", "symbolic link")),
}


@pytest.mark.parametrize("case", list(VQA))
def test_a_hostile_vqa_folder_is_refused_clearly(case, V):
    edit, phrases = VQA[case]
    edit(V)
    message = refused(lambda: load_vqa(V), VQACheckpointError, *phrases)
    assert "missing" not in message  # row 14: a FIFO or a link is not "missing config.json"


def test_row_7_a_vqa_model_that_cannot_read_its_encoder_is_refused_before_inference(V):
    _model_config({"grid": 13})(V)
    refused(lambda: load_checked_vqa(V), VQACheckpointError, "config.json", "a 13 x 13 grid")


@pytest.fixture(scope="module")
def easy():
    return load_vqa(SHIPPED / "vqa-easy")


@pytest.mark.parametrize("question", ["ما هذا الشكل؟", "🔴🔺❓"])
def test_row_14_a_question_with_no_english_word_is_not_called_empty(question, easy):
    message = refused(lambda: prepare_question(question, easy.vocab), QuestionError, "has no word the model reads")
    assert "empty" not in message


def test_row_14_an_empty_candidate_is_named_not_the_question(easy):
    refused(lambda: choose(easy, None, "what shape is it?", ["circle", ""]), QuestionError, "Candidate 2 is empty")


# ---- row 1: image files ----------------------------------------------------------------------------------

def hostile_images(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    zero_link(folder / "zero.jpg")
    fifo(folder / "pipe.jpg")
    big = folder / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff\xe0")  # a JPEG's first bytes, then 3 GB of zeros
    sparse(big, 3 * GB)
    return {"device": folder / "zero.jpg", "FIFO": folder / "pipe.jpg", "more than the": big}


def test_row_1_special_and_huge_image_files_are_refused_before_reading(tmp_path):
    for phrase, path in hostile_images(tmp_path / "images").items():
        refused(lambda: load_image_file(path), ImageError, phrase)


def test_row_1_describe_refuses_special_and_huge_images_and_captions_the_rest(tmp_path):
    paths = hostile_images(tmp_path / "images")
    good = tmp_path / "shape.png"
    from PIL import Image
    Image.new("RGB", (64, 64), (200, 30, 30)).save(good)
    proc = run_capped(["-m", "core.cli.describe", "--model", str(SHIPPED / "captioner-scenes"), "--beam", "1",
                       *map(str, paths.values()), str(good)], timeout=CLI_TIMEOUT_S, memory=GB)
    clear_cli_error(proc, 1, *(f"{path}\terror:" for path in paths.values()), *paths)
    assert proc.stdout.startswith(f"{good}\t"), proc.stdout


# ---- rows 3 and 13: the command lines --------------------------------------------------------------------

def test_row_3_describe_and_vqa_ask_do_not_wait_on_a_fifo(C, V, tmp_path):
    fifo(C / "card.json")
    fifo(V / "card.json")
    image = tmp_path / "shape.png"
    from PIL import Image
    Image.new("RGB", (64, 64), (30, 30, 200)).save(image)
    proc = run_capped(["-m", "core.cli.describe", "--model", str(C), str(image)], timeout=CLI_TIMEOUT_S, memory=GB)
    clear_cli_error(proc, 2, "card.json", "FIFO")
    proc = run_capped(["-m", "core.cli.ask", "--model", str(V), "--image", str(image), "--question", "what shape?"],
                      timeout=CLI_TIMEOUT_S, memory=GB)
    clear_cli_error(proc, 2, str(V), "card.json", "FIFO")


def test_row_13_vqa_train_refuses_to_overwrite_a_captioner(C):
    before = {p.name: p.read_bytes() for p in C.iterdir()}
    proc = run_capped(["-m", "core.cli.vqa_train", "--out", str(C), "--overwrite"], timeout=CLI_TIMEOUT_S, memory=GB)
    clear_cli_error(proc, 2, str(C), "holds a captioner checkpoint, not a vqa one")
    assert {p.name: p.read_bytes() for p in C.iterdir()} == before


# ---- row 9: a full disk ----------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 64 kB tmpfs; where mounting is not allowed, the weights writers fail with ENOSPC instead."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True).returncode == 0
    if not mounted:
        def save_file(tensors, path, *args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        for module in ("core.charlm.checkpoint", "core.caption.model", "core.vqa.checkpoint"):
            monkeypatch.setattr(f"{module}.save_file", save_file)
    yield disk, mounted
    if mounted:
        subprocess.run(["umount", str(disk)], check=True)


def _full(path: Path) -> tuple[str, ...]:
    return (str(path), "the disk is full", "previous checkpoint there, if any, is intact")


def test_row_9_a_full_disk_leaves_the_previous_checkpoint_whole(small_disk, tmp_path):
    disk, _ = small_disk
    out = tmp_path / "previous"
    make_checkpoint(out)  # a few kB: fits the small disk
    out = Path(shutil.copytree(out, disk / "ckpt"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    big = load_checkpoint(SHIPPED / "austen-lstm")
    refused(lambda: save_checkpoint(out, big.model, big.vocab, big.card, big.samples), OutputError, *_full(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert os.listdir(disk) == ["ckpt"]  # no staging folder left behind
    refused(lambda: export_checkpoint(SHIPPED / "austen-lstm", disk / "shipped"), OutputError, *_full(disk / "shipped"))
    captioner = load_captioner(SHIPPED / "captioner-scenes")
    refused(lambda: save_captioner(disk / "cap", captioner.model, captioner.vocab, captioner.card), OutputError,
            *_full(disk / "cap"))
    vqa = load_vqa(SHIPPED / "vqa-easy")
    refused(lambda: save_vqa(disk / "vqa", vqa.model, vqa.question_only, vqa.vocab, vqa.answers, vqa.card),
            OutputError, *_full(disk / "vqa"))
    assert load_checkpoint(out).config.hidden_size == 16


def test_row_9_export_onto_a_full_disk_is_one_line(small_disk):
    disk, mounted = small_disk
    if not mounted:
        pytest.skip("mount -t tmpfs is not allowed here, and a child process cannot be monkeypatched")
    proc = run_capped(["-m", "core.cli.checkpoint", "export", str(SHIPPED / "austen-lstm"), str(disk / "x")],
                      timeout=CLI_TIMEOUT_S, memory=GB)
    clear_cli_error(proc, 2, *_full(disk / "x"))
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# ---- rows 15 and 16: the dashboard -----------------------------------------------------------------------

def test_row_15_a_run_with_2_gb_of_weights_is_listed_as_unusable(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    run = make_checkpoint(runs / "x")
    sparse(run / "model.safetensors")
    t0 = time.monotonic()
    assert "model.safetensors cannot be read: it has 2,147,483,648 bytes, more than the" in checkpoint_problem(run)
    assert time.monotonic() - t0 < WITHIN_S
    monkeypatch.setenv("RNNLENS_RUNS", str(runs))
    from dashboard import models
    assert models.model_label(str(run)) == "x (unusable)"


def _commonmark_code_text(span: str) -> str:
    """The text CommonMark shows for a string that must be one inline code span: the opening run of backticks
    closes only at the next run of the same length, which must end the string; then one space each side goes."""
    fence = len(span) - len(span.lstrip("`"))
    inner = span[fence:-fence]
    assert span.endswith("`" * fence) and not span.endswith("`" * (fence + 1)), span
    assert all(len(run) != fence for run in re.findall(r"`+", inner)), span  # nothing closes it early
    return inner[1:-1] if inner.startswith(" ") and inner.endswith(" ") and inner.strip() else inner


@pytest.mark.parametrize("name", ["plain", "a`b", "``x", "x`", "`", "a``b```c", " x "])
def test_row_16_a_run_name_with_backticks_stays_one_code_span(name):
    span = code_span(name)
    assert _commonmark_code_text(span) == name, span
