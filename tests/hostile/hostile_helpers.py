"""Run a command as a user would, in a child process with a memory cap and a wall-clock limit."""
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GB = 2**30


def run_capped(args: list[str], timeout: float = 120, memory: int = GB, **kwargs) -> subprocess.CompletedProcess:
    """`python *args` from the repo root with its heap capped (RLIMIT_DATA) and killed after timeout seconds."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))

    env = {**os.environ, "OMP_NUM_THREADS": "1", **kwargs.pop("env", {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=cap, env=env, **kwargs)


def clear_error(proc: subprocess.CompletedProcess, phrase: str) -> None:
    """Assert a CLI refused its input with exit code 2 and a one-line message containing phrase, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and phrase in proc.stderr, proc.stderr[-2000:]
