"""The command lines: `rnnlens --help` and every command's --help; a tiny real run of several commands through
the dispatcher (train a few steps, sample, evaluate, n-gram, rank-cells, intervene, export, gradflow, memory-task,
dashboard); every int and float flag of every command bounded at parse time, with a message naming the flag."""
import argparse
import importlib
import os
import re
import subprocess
import sys
import time
import tomllib
import urllib.request

import pytest

from core.cli.__main__ import COMMANDS
from core.cli.__main__ import main as rnnlens
from core.common.config_args import Bounded
from tests.browser_helpers import free_port
from tests.conftest import ROOT
from tests.tiny_checkpoint import SONNETS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def run_rnnlens(*args: str) -> subprocess.CompletedProcess:
    """`rnnlens ARGS` in a fresh process (`python -m core.cli` is the console script's module)."""
    return run("core.cli", *args)


NUMBERS = r"nats=(\d+\.\d+) bpc=(\d+\.\d+)$"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    proc = run("core.cli.train", "--corpus", str(SONNETS), "--out", str(out), "--cell", "gru", "--n-layer", "1",
               "--hidden-size", "16", "--batch-size", "4", "--seq-len", "16", "--max-steps", "5",
               "--max-minutes", "0", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert "saved" in proc.stdout
    return out


def test_rnnlens_help_lists_every_command_and_refuses_an_unknown_one():
    proc = run_rnnlens("--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: rnnlens COMMAND")
    assert all(re.search(rf"^  {name} +\S", proc.stdout, re.M) for name in COMMANDS)
    proc = run_rnnlens("sampel")
    assert proc.returncode == 2 and "unknown command 'sampel'" in proc.stderr and "Traceback" not in proc.stderr


def test_the_console_script_is_the_dispatcher_and_every_cli_module_is_a_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, function = project["scripts"]["rnnlens"].split(":")
    assert getattr(importlib.import_module(module), function) is rnnlens
    modules = {p.stem for p in (ROOT / "core" / "cli").glob("*.py")} - {"__init__", "__main__", "args"}
    assert modules == {path.rsplit(".", 1)[1] for path, _ in COMMANDS.values()}


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit:
        rnnlens([name, "--help"])
    assert exit.value.code == 0 and capsys.readouterr().out.startswith(f"usage: rnnlens {name} ")


@pytest.mark.slow
def test_sample_prints_the_prime_and_the_asked_length(trained):
    proc = run_rnnlens("sample", "--checkpoint", str(trained), "--length", "50", "--prime", "From", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("From") and len(proc.stdout) == len("From") + 50 + 1
    beam = run_rnnlens("sample", "--checkpoint", str(trained), "--length", "20", "--beam", "3")
    assert beam.returncode == 0 and len(beam.stdout) == 21


@pytest.mark.slow
def test_evaluate_and_ngram_print_nats_and_bpc(trained):
    line = run_rnnlens("evaluate", "--checkpoint", str(trained), "--text", str(SONNETS)).stdout.strip()
    nats, bpc = map(float, re.search(NUMBERS, line).groups())
    assert 0 < nats < 5 and bpc == pytest.approx(nats / 0.6931, rel=1e-3)
    line = run_rnnlens("ngram", "--corpus", str(SONNETS), "--order", "3").stdout.strip()
    nats, _ = map(float, re.search(NUMBERS, line).groups())
    assert 1.5 < nats < 4.0


def test_more_commands_run_through_the_dispatcher(trained, tmp_path, capsys):
    assert rnnlens(["rank-cells", "--checkpoint", str(trained), "--text", str(SONNETS), "--signal", "line_position",
                    "--top", "2", "--max-chars", "2000"]) == 0
    assert len(re.findall(r"^  layer 0 \w unit +\d+  r ", capsys.readouterr().out, re.M)) == 2
    assert rnnlens(["intervene", "--checkpoint", str(trained), "sample", "--clamp", "0:h:3=0.5", "--length", "30",
                    "--prime", "From"]) == 0
    assert "---- clamped ----" in capsys.readouterr().out
    assert rnnlens(["checkpoint", "export", str(trained), str(tmp_path / "shipped")]) == 0
    assert f"-> {tmp_path / 'shipped'}" in capsys.readouterr().out
    assert rnnlens(["gradflow", "--cell", "lstm", "--length", "20", "--hidden", "8"]) == 0
    assert "lstm c (top)" in capsys.readouterr().out
    assert rnnlens(["memory-task", "--cell", "gru", "--gap", "3", "--steps", "2", "--hidden-size", "4"]) == 0
    assert " gru clip=None" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--temperature", "0"], "argument --temperature: must be between 0.001 and 10.0, not 0"),
    (["--length", "-3"], "argument --length: must be between 1 and 100,000, not -3"),
    (["--top-k", "x"], "argument --top-k: 'x' is not an integer"),
    (["--checkpoint", "/nonexistent"], "not a checkpoint directory")])
def test_bad_flags_get_one_clear_line(trained, args, message):
    proc = run_rnnlens("sample", "--checkpoint", str(trained), *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_training_on_a_file_that_is_not_text(tmp_path):
    bad = tmp_path / "blob.bin"
    bad.write_bytes(bytes(range(256)) * 20)
    proc = run("core.cli.train", "--corpus", str(bad), "--out", str(tmp_path / "x"), "--max-steps", "2")
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr


def options(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(subcommand path, action) for every option of parser and of its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from options(sub, (*prefix, name))
        elif action.option_strings:
            yield prefix, action


def is_numeric(kind) -> bool:
    """Whether an argparse type= turns "7" into a number."""
    try:
        value = kind("7")
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        return False
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_numeric_flag_is_bounded_at_parse_time(name, capsys):
    """0, -1 and 10^9 where out of range: exit 2 with the flag and its range in the message (issue 25 rows 11-12).
    A seed may be any number up to 2**63 - 1: only its lower end is tried."""
    module = importlib.import_module(COMMANDS[name][0])
    checked = 0
    for prefix, action in options(module.parser()):
        if action.type is None or not is_numeric(action.type):
            continue
        flag = action.option_strings[-1]
        assert isinstance(action.type, Bounded), f"rnnlens {name} {flag} has no range"
        lo, hi = action.type.lo, action.type.hi
        assert flag == "--seed" or hi < 10**9, f"rnnlens {name} {flag} allows {hi:,}"
        for value in (0, -1, 10**9):
            if lo <= value <= hi:
                continue
            with pytest.raises(SystemExit) as exit:
                module.parser().parse_args([*prefix, flag, str(value)])
            err = capsys.readouterr().err
            assert exit.value.code == 2 and "Traceback" not in err
            assert re.search(rf"argument {'/'.join(action.option_strings)}: must be between .+, not {value}$",
                             err.strip()), err
            checked += 1
    assert checked or name in ("corpus", "evaluate", "checkpoint", "photos", "dashboard", "open-vocabulary")


@pytest.mark.slow  # serve.py computes the pages' first views before it answers: minutes on a loaded 2-core machine
def test_the_dashboard_command_serves_the_dashboard(tmp_path):
    """From another folder, as an installed `rnnlens` runs (PYTHONPATH stands for `pip install -e .`)."""
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "dashboard", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline, healthy = time.monotonic() + 300, False
        while not healthy and time.monotonic() < deadline and proc.poll() is None:
            try:
                healthy = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200
            except OSError:
                time.sleep(0.5)
        assert healthy, log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
