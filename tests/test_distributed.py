"""Data-parallel training under torchrun (gloo, 2 CPU processes) and the --device flag on a machine without a GPU."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from core.charlm.checkpoint import load_checkpoint, load_train_state
from core.charlm.train import train
from tests.conftest import ROOT
from tests.tiny_checkpoint import SONNETS, tiny_config

TINY = ["--corpus", str(SONNETS), "--n-layer", "2", "--hidden-size", "16", "--dropout", "0", "--batch-size", "4",
        "--seq-len", "16", "--lr", "1e-2", "--max-minutes", "0", "--eval-chars", "500", "--seed", "0", "--no-bf16",
        "--threads", "1"]


def torchrun(out, *flags: str, wait: bool = True):
    """`torchrun --nproc_per_node=2 -m core.cli.train` on the tiny settings; the finished process or a running one."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           "-m", "core.cli.train", *TINY, "--out", str(out), *flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def kill_job(launcher: subprocess.Popen) -> None:
    """SIGKILL a torchrun job: its workers (torchrun starts each in a session of its own) and then torchrun."""
    workers = [int(stat.split()[0]) for stat in (_read(f"/proc/{pid}/stat") for pid in os.listdir("/proc")
               if pid.isdigit()) if stat and int(stat.rsplit(")", 1)[1].split()[1]) == launcher.pid]
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # the process ended meanwhile
        return ""


def weights(path) -> dict:
    return load_checkpoint(path).model.state_dict()


@pytest.mark.ddp
def test_two_processes_train_the_same_weights_as_one_with_the_same_global_batch(tmp_path):
    one = train(tiny_config(tmp_path / "one", dropout=0.0, bf16=False, max_steps=6, eval_every=3))
    run = torchrun(tmp_path / "two", "--max-steps", "6", "--eval-every", "3", "--checkpoint-every", "3")
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = weights(one), weights(tmp_path / "two")
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5)  # seen: 4e-7 apart at most
    card = load_checkpoint(tmp_path / "two").card
    assert card["steps"] == 6 and "2 processes" in card["device"] and card["device"].startswith("cpu")
    assert card["command"].startswith("torchrun --nproc_per_node=2 -m core.cli.train --corpus")
    assert load_train_state(tmp_path / "two").rng.shape[0] == 2  # one RNG state per process


@pytest.mark.ddp
def test_a_killed_two_process_run_resumes_exactly_and_refuses_another_world_size(tmp_path):
    steps = ["--max-steps", "120", "--eval-every", "60", "--checkpoint-every", "10"]
    whole = torchrun(tmp_path / "whole", *steps)
    assert whole.returncode == 0, whole.stderr[:3000] + "\n...\n" + whole.stderr[-1500:]  # the worker's own error first
    cut = torchrun(tmp_path / "cut", *steps, wait=False)
    deadline = time.time() + 200
    while not (tmp_path / "cut" / "train_state.json").exists() and cut.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    kill_job(cut)  # killed right after its first checkpoint
    killed_at = load_checkpoint(tmp_path / "cut").card["steps"]
    assert killed_at < 120
    refused = subprocess.run([sys.executable, "-m", "core.cli.train", *TINY, "--out", str(tmp_path / "cut"), "--resume",
                              *steps], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "trained by 2 process(es), this run has 1" in refused.stderr
    resumed = torchrun(tmp_path / "cut", "--resume", *steps)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("module", ["core.cli.train", "core.cli.evaluate", "core.cli.sample"])
def test_asking_for_a_missing_gpu_gives_one_clear_line(tmp_path, tiny_checkpoint, module):
    flags = {"core.cli.train": TINY + ["--out", str(tmp_path / "x"), "--max-steps", "1"],
             "core.cli.evaluate": ["--checkpoint", str(tiny_checkpoint), "--text", str(SONNETS)],
             "core.cli.sample": ["--checkpoint", str(tiny_checkpoint), "--length", "5"]}[module]
    run = subprocess.run([sys.executable, "-m", module, *flags, "--device", "cuda"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("error: --device cuda: no CUDA GPU is visible")
