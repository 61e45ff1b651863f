"""Command-line smoke test: train a few steps on a small text, sample, evaluate, n-gram; bad flags exit 2."""
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.tiny_checkpoint import SONNETS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


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


@pytest.mark.slow
def test_sample_prints_the_prime_and_the_asked_length(trained):
    proc = run("core.charlm.sample", "--checkpoint", str(trained), "--length", "50", "--prime", "From", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("From") and len(proc.stdout) == len("From") + 50 + 1
    beam = run("core.charlm.sample", "--checkpoint", str(trained), "--length", "20", "--beam", "3")
    assert beam.returncode == 0 and len(beam.stdout) == 21


@pytest.mark.slow
def test_evaluate_and_ngram_print_nats_and_bpc(trained):
    line = run("core.charlm.evaluate", "--checkpoint", str(trained), "--text", str(SONNETS)).stdout.strip()
    nats, bpc = map(float, re.search(NUMBERS, line).groups())
    assert 0 < nats < 5 and bpc == pytest.approx(nats / 0.6931, rel=1e-3)
    line = run("core.charlm.ngram", "--corpus", str(SONNETS), "--order", "3").stdout.strip()
    nats, _ = map(float, re.search(NUMBERS, line).groups())
    assert 1.5 < nats < 4.0


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--temperature", "0"], "temperature must be > 0"), (["--length", "-3"], "length must be"),
    (["--checkpoint", "/nonexistent"], "not a checkpoint directory")])
def test_bad_flags_get_one_clear_line(trained, args, message):
    proc = run("core.charlm.sample", "--checkpoint", str(trained), *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_training_on_a_file_that_is_not_text(tmp_path):
    bad = tmp_path / "blob.bin"
    bad.write_bytes(bytes(range(256)) * 20)
    proc = run("core.cli.train", "--corpus", str(bad), "--out", str(tmp_path / "x"), "--max-steps", "2")
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr
