"""Hostile and careless use of checkpoint directories (issue 10, part B): where a run may write, two writers,
a kill during a save, readers during saves, checkpoints that would blow up memory or hang, ill-typed files,
and a resume after the corpus changed."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import core.common.io
from core.charlm import checkpoint as ck
from core.charlm.checkpoint import (
    CheckpointError,
    claim_output,
    export_checkpoint,
    load_checkpoint,
)
from core.charlm.train import Trainer
from core.cli.checkpoint import main as checkpoint_main
from core.cli.train import main as train_main
from core.common.io import OutputError
from tests.tiny_checkpoint import SONNETS, make_checkpoint, tiny_config

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints"
FAST = ["--corpus", str(SONNETS), "--hidden-size", "8", "--n-layer", "1", "--batch-size", "2", "--seq-len", "8",
        "--max-steps", "2", "--max-minutes", "0", "--eval-every", "1", "--eval-chars", "50", "--threads", "1"]


def tree_hash(folder: Path) -> str:
    """One sha256 over every file's relative path and bytes."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def hidden_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


# ---- item 2: a run writes only into a new or empty directory, or its own checkpoint -------------------------

def test_out_holding_user_files_is_refused_before_training_and_the_files_stay(tmp_path, capsys):
    out = tmp_path / "thesis"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("my notes")
    (out / "sub" / "thesis.tex").write_text("\\documentclass{article}")
    before = tree_hash(out)
    assert train_main([*FAST, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a checkpoint" in err and "notes.txt" in err and "Traceback" not in err
    assert tree_hash(out) == before and hidden_leftovers(tmp_path) == []
    assert train_main([*FAST, "--out", str(out), "--overwrite"]) == 2  # no flag deletes a user's files
    assert tree_hash(out) == before


def test_out_that_is_a_file_is_refused_and_the_file_stays(tmp_path, capsys):
    target = tmp_path / "some_file.txt"
    target.write_text("keep me")
    assert train_main([*FAST, "--out", str(target), "--overwrite"]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "keep me"
    with pytest.raises(OutputError, match="cannot be written"):  # where no lock file can be made
        claim_output("/proc/no-such-dir/run")


@pytest.mark.parametrize("out", [".", "..", "/"])
def test_out_that_is_the_current_directory_or_above_is_refused(out, tmp_path, monkeypatch, capsys):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("x")
    monkeypatch.chdir(tmp_path / "work")
    assert train_main([*FAST, "--out", out]) == 2
    assert "current directory or one above it" in capsys.readouterr().err
    assert hidden_leftovers(tmp_path / "work") == [] and hidden_leftovers(tmp_path) == []


def test_shipped_checkpoints_are_not_overwritten_by_train_or_export(tmp_path, capsys):
    source = make_checkpoint(tmp_path / "mine")
    for name, argv in [("shakespeare-lstm", [*FAST, "--out", str(SHIPPED / "shakespeare-lstm")]),
                       ("shakespeare-lstm", [*FAST, "--out", str(SHIPPED / "shakespeare-lstm"), "--resume"])]:
        before = tree_hash(SHIPPED / name)
        assert train_main(argv) == 2
        assert tree_hash(SHIPPED / name) == before
    assert "--overwrite" in capsys.readouterr().err
    before = tree_hash(SHIPPED / "austen-lstm")
    assert checkpoint_main(["export", str(source), str(SHIPPED / "austen-lstm")]) == 2
    assert "--overwrite" in capsys.readouterr().err and tree_hash(SHIPPED / "austen-lstm") == before


def test_export_onto_itself_is_refused_and_keeps_the_training_state(tmp_path, tiny_checkpoint, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint, run)
    before = tree_hash(run)
    assert checkpoint_main(["export", str(run), str(run)]) == 2
    assert "onto itself" in capsys.readouterr().err and tree_hash(run) == before


def test_export_and_train_write_new_or_empty_directories_and_overwrite_on_request(tmp_path, tiny_checkpoint):
    (tmp_path / "empty").mkdir()
    assert export_checkpoint(tiny_checkpoint, tmp_path / "empty").name == "empty"
    with pytest.raises(OutputError, match="--overwrite"):
        export_checkpoint(tiny_checkpoint, tmp_path / "empty")
    export_checkpoint(tiny_checkpoint, tmp_path / "empty", overwrite=True)
    assert load_checkpoint(tmp_path / "empty").card["name"] == "empty"
    with pytest.raises(OutputError, match="--resume to continue it or --overwrite"):
        Trainer(tiny_config(tmp_path / "empty"))


# ---- item 3: two writers, one directory -------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_writer_is_refused_while_the_first_holds_the_directory_and_let_in_after_a_kill(tmp_path, capsys):
    out = tmp_path / "same"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from core.charlm.checkpoint import claim_output; "
                               f"claim_output({str(out)!r}); print('locked', flush=True); time.sleep(120)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert train_main([*FAST, "--out", str(out)]) == 2
        assert f"being written by process {holder.pid}" in capsys.readouterr().err
        from dashboard.training import JobError, JobRegistry
        with pytest.raises(JobError, match="being written by process"):
            JobRegistry().start(tiny_config(out))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    claim_output(out).release()  # the system released the killed writer's lock


def test_two_trainers_in_one_process_do_not_share_a_directory(tmp_path):
    first = Trainer(tiny_config(tmp_path / "run"))
    with pytest.raises(OutputError, match="being written"):
        Trainer(tiny_config(tmp_path / "run"))
    first.run(lambda e: None, lambda: False)
    Trainer(tiny_config(tmp_path / "run", resume=True)).lock.release()  # released when the run ended


# ---- item 4: a kill during a save, staging leftovers, readers during saves -----------------------------

def test_a_kill_between_the_two_renames_of_the_fallback_swap_is_recovered_on_the_next_start(tmp_path, monkeypatch):
    out = make_checkpoint(tmp_path / "gap")
    old = tree_hash(out)
    real_replace = os.replace
    monkeypatch.setattr(core.common.io, "_exchange", lambda a, b: False)  # a file system without renameat2

    def killed_after_first(src, dst):
        if Path(dst).name == "gap":
            raise KeyboardInterrupt  # stands for SIGKILL between the two renames
        real_replace(src, dst)

    monkeypatch.setattr(core.common.io.os, "replace", killed_after_first)
    with pytest.raises(KeyboardInterrupt):
        make_checkpoint(out, n_layer=2)
    monkeypatch.setattr(core.common.io.os, "replace", real_replace)
    assert not out.exists() and any(".gap-old-" in n for n in hidden_leftovers(tmp_path))
    claim_output(out, resume=True).release()  # the next start recovers the old checkpoint
    assert tree_hash(out) == old and hidden_leftovers(tmp_path) == []


def test_the_swap_is_atomic_and_leftover_staging_folders_are_cleaned_on_the_next_start(tmp_path, monkeypatch):
    out = make_checkpoint(tmp_path / "ck")
    monkeypatch.setattr(core.common.io.shutil, "rmtree", lambda p, **kw: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):  # killed after the swap, before the old copy is removed
        make_checkpoint(out, n_layer=2)
    monkeypatch.undo()
    assert load_checkpoint(out).config.n_layer == 2
    (tmp_path / ".ck-a1b2c3d4").mkdir()  # a save killed while writing
    (tmp_path / ".ck-a1b2c3d4" / "model.safetensors").write_bytes(b"half")
    (tmp_path / ".ck-notes").mkdir()  # not a staging folder's name: a user's
    (tmp_path / ".ck-settings").mkdir()  # a staging folder's name, but holding a user's file
    (tmp_path / ".ck-settings" / "prefs.ini").write_text("x")
    (tmp_path / ".cky-a1b2c3d4").mkdir()  # another directory's staging
    claim_output(out, overwrite=True).release()
    assert hidden_leftovers(tmp_path) == [".ck-notes", ".ck-settings", ".cky-a1b2c3d4"]
    assert load_checkpoint(out).config.n_layer == 2


@pytest.mark.slow
def test_readers_during_repeated_saves_see_the_old_or_the_new_checkpoint(tmp_path):
    out = make_checkpoint(tmp_path / "busy")
    versions = [load_checkpoint(make_checkpoint(tmp_path / f"v{n}", n_layer=n)) for n in (1, 2)]
    stop, saves = threading.Event(), [0]

    def writer():
        while not stop.is_set():
            v = versions[saves[0] % 2]
            ck.save_checkpoint(out, v.model, v.vocab, v.card, v.samples)
            saves[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    failures, loads = [], 0
    try:
        while loads < 300 or saves[0] < 50:
            try:
                got = load_checkpoint(out)
                assert len(got.model.state_dict()) == len(versions[got.config.n_layer - 1].model.state_dict())
            except Exception as e:  # every failure is counted, whatever it is
                failures.append(repr(e))
            loads += 1
    finally:
        stop.set()
        thread.join()
    assert failures == [] and saves[0] >= 50


# ---- item 5: sizes before allocation; only bounded regular files -----------------------------------------

HOSTILE_LOADS = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
from core.charlm.checkpoint import CheckpointError, checkpoint_problem, list_checkpoints, load_checkpoint
out = {}
for path in sys.argv[1:]:
    t = time.perf_counter()
    try:
        load_checkpoint(path)
        out[path] = "loaded"
    except CheckpointError as e:
        out[path] = str(e)
    out[path + " problem"] = checkpoint_problem(path)
out["listed"] = [str(p) for p in list_checkpoints(sys.argv[1].rsplit("/", 1)[0])]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_huge_fifo_and_dev_zero_checkpoints_are_refused_in_bounded_memory_and_time(tmp_path):
    root = tmp_path / "models"
    huge = make_checkpoint(root / "huge")
    symbols = ["\ufffd"] + [chr(c) for c in range(0x20000, 0x20000 + 199_999)]  # 200k one-character symbols
    (huge / "vocab.json").write_text(json.dumps({"itos": symbols}, ensure_ascii=False), encoding="utf-8")
    (huge / "config.json").write_text(json.dumps({"kind": "char-rnn", "vocab_size": 200_000, "cell": "lstm",
                                                  "n_layer": 3, "hidden_size": 4096}))
    cases = {"huge": "vocab_size 200000 is outside"}
    for name, target in [("card-zero", "card.json"), ("config-zero", "config.json")]:
        make_checkpoint(root / name)
        (root / name / target).unlink()
        (root / name / target).symlink_to("/dev/zero")
        cases[name] = "symbolic link"
    for name, target in [("card-fifo", "card.json"), ("config-fifo", "config.json")]:
        make_checkpoint(root / name)
        (root / name / target).unlink()
        os.mkfifo(root / name / target)
        cases[name] = "not a regular file"
    big = make_checkpoint(root / "big-weights")
    with open(big / "model.safetensors", "ab") as f:
        f.truncate(500 * 2**20)  # sparse: 500 MB where the config implies a few kB
    cases["big-weights"] = "bytes, more than"
    paths = [str(root / name) for name in cases]
    run = subprocess.run([sys.executable, "-c", HOSTILE_LOADS, *paths], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    for name, expected in cases.items():
        assert expected in result[str(root / name)], (name, result[str(root / name)])
        assert result[str(root / name) + " problem"] is not None or name == "big-weights"
    assert sorted(result["listed"]) == sorted(paths)  # unreadable configs are listed, to be shown unusable


def test_the_parameter_count_is_refused_from_the_config_alone(tmp_path):
    path = make_checkpoint(tmp_path / "wide")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "vocab_size": 60_000, "hidden_size": 4096}))
    with pytest.raises(CheckpointError, match="parameters; the limit is"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="parameters; checkpoints hold at most"):  # nor is such a model trained
        Trainer(tiny_config(tmp_path / "too-big", n_layer=3, hidden_size=4096))
    assert not (tmp_path / "too-big").exists()
    for cell in ("rnn", "gru", "lstm"):
        config = ck.CharRNNConfig(77, cell, 3, 40)
        model = ck.CharRNN(config)
        assert ck.weight_shapes(config) == {k: tuple(v.shape) for k, v in model.state_dict().items()}
        assert ck.n_params(config) == model.n_params()


# ---- types: every ill-typed file is a CheckpointError naming the file --------------------------------------

def _edit_json(name, change):
    def edit(path: Path):
        raw = json.loads((path / name).read_text())
        (path / name).write_text(json.dumps(change(raw)))
    return edit


def _weights(change):
    def edit(path: Path):
        from safetensors.torch import load_file
        save_file(change(load_file(path / "model.safetensors")), path / "model.safetensors")
    return edit


BAD = {
    "card is a list": (_edit_json("card.json", lambda c: [c]), "card.json must be a JSON object"),
    "card has string numbers": (_edit_json("card.json", lambda c: {**c, "steps": "500"}), "'steps' must be an integer"),
    "hidden_size 64.0": (_edit_json("config.json", lambda c: {**c, "hidden_size": 16.0}), "'hidden_size' must be"),
    "n_layer 1.5": (_edit_json("config.json", lambda c: {**c, "n_layer": 1.5}), "'n_layer' must be an integer"),
    "n_layer true": (_edit_json("config.json", lambda c: {**c, "n_layer": True}), "'n_layer' must be an integer"),
    "samples is a list": (_edit_json("samples.json", lambda s: [s]), "samples.json must be a JSON object"),
    "timeline entry without text": (_edit_json("samples.json", lambda s: {**s, "timeline": [{"step": 1}]}),
                                    "lacks 'text'"),
    "timeline step as text": (_edit_json("samples.json", lambda s: {**s, "timeline": [{"step": "x", "text": ""}]}),
                              "'step' must be an integer"),
    "curve is an object": (_edit_json("samples.json", lambda s: {**s, "curve": {"step": 1}}), "'curve' must be a list"),
    "integer vocab entries": (_edit_json("vocab.json", lambda v: {"itos": ["\ufffd", *range(1, len(v["itos"]))]}),
                              "must be one character"),
    "multi-character vocab entries": (_edit_json("vocab.json", lambda v: {"itos": [v["itos"][0], "ab",
                                                                                   *v["itos"][2:]]}),
                                      "must be one character"),
    "NaN weights": (_weights(lambda w: {**w, "head.bias": torch.full_like(w["head.bias"], float("nan"))}),
                    "NaN or infinite"),
    "int8 weights": (_weights(lambda w: {k: v.to(torch.int8) for k, v in w.items()}), "stored as I8"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_ill_typed_checkpoint_files_are_clear_checkpoint_errors(case, tmp_path):
    edit, message = BAD[case]
    path = make_checkpoint(tmp_path / "bad")
    edit(path)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_checkpoint(path)


# ---- pages survive a bad checkpoint in the list -----------------------------------------------------------

PAGES = ["home", "sample", "train_more", "train", "cells", "gradients"]


@pytest.fixture
def bad_roots(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("RNNLENS_RUNS", str(tmp_path / "runs"))
    make_checkpoint(tmp_path / "checkpoints" / "good-lstm")
    bad = make_checkpoint(tmp_path / "checkpoints" / "bad-card")
    _edit_json("card.json", lambda c: [c])(bad)
    fifo = make_checkpoint(tmp_path / "checkpoints" / "fifo-config")
    (fifo / "config.json").unlink()
    os.mkfifo(fifo / "config.json")
    return tmp_path / "checkpoints"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_a_bad_checkpoint_selected_in_the_list(page, bad_roots):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.session_state["picker_model"] = str(bad_roots / "bad-card")
    at.run()
    at.switch_page(f"../pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    picker = at.sidebar.selectbox[0]
    assert "bad-card (unusable)" in picker.options and "fifo-config (unusable)" in picker.options
    assert any("card.json must be a JSON object" in e.value for e in at.sidebar.error)


@pytest.mark.slow
def test_train_page_start_from_a_damaged_checkpoint_says_why(bad_roots):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("../pages/train.py")
    at.session_state["train_init_from"] = str(bad_roots / "fifo-config")
    at.run()
    assert not at.exception, at.exception
    assert any("Cannot fine-tune `fifo-config`" in e.value and "not a regular file" in e.value for e in at.error)


def test_the_model_list_is_scanned_again_only_when_a_root_changes(bad_roots, monkeypatch):
    from dashboard import models
    calls = []
    real = models.checkpoint_problem
    monkeypatch.setattr(models, "checkpoint_problem", lambda p: calls.append(p) or real(p))
    models._scan.clear()
    first = models.available_models()
    assert models.available_models() == first and len(calls) == 3
    make_checkpoint(bad_roots / "new-lstm")
    assert len(models.available_models()) == 4 and len(calls) == 7
    assert models.model_problem(str(bad_roots / "good-lstm")) is None


# ---- resuming after the corpus changed ----------------------------------------------------------------

def test_resume_after_the_corpus_file_changed_is_refused(tmp_path):
    text = tmp_path / "poems.txt"
    shutil.copy(SONNETS, text)
    Trainer(tiny_config(tmp_path / "run", corpus=str(text), max_steps=3)).run(lambda e: None, lambda: False)
    Trainer(tiny_config(tmp_path / "run", corpus=str(text), resume=True)).lock.release()  # unchanged: fine
    text.write_text(SONNETS.read_text().replace("thee", "you"))
    with pytest.raises(CheckpointError, match=r"poems\.txt has changed since .* --init-from"):
        Trainer(tiny_config(tmp_path / "run", corpus=str(text), resume=True))
