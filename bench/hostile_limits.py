"""Hostile inputs (issue 10): time and peak memory of the bounded paths beside the unbounded ones they replace.

Each case runs in a fresh child process (peak RSS is the child's own high-water mark, minus what it held
before the measured call):
  regex:  Python's backtracking `re` (killed after --timeout s) vs RE2 (core.lens.user_regex), the issue's patterns
  prime:  a --prime-chars prompt through shakespeare-lstm in one forward pass vs chunked (core.charlm.stepper.Stepper)
  image:  a 24 MP RGBA PNG converted at full size then shrunk vs shrunk first (core.vision.images.open_image)
Medians over --repeats runs.

    python bench/hostile_limits.py [--repeats 3] [--timeout 30] [--prime-chars 10000]

--health (issue 25): `streamlit run dashboard/app.py`, then /_stcore/health polled every 0.1 s while one
websocket session presses Generate on the Sample page --runs times, then while --sessions sessions do so at once;
prints the health answer's p50 / p99 / max for both loads, in the same run, and the load average.

    python bench/hostile_limits.py --health [--sessions 20] [--runs 5] [--slots 0]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
{setup}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
{call}
print(json.dumps([time.perf_counter() - t0, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024]))
"""
TEXTS = "a_run = 'a' * 3000 + 'b'; sonnets = open({sonnets!r}).read()[:5000]"
REGEX = {
    "(a+)+$, 3,000 a + b": ("a_run", "(a+)+$"),
    "(\\w+\\s?)+$, 5,000 chars of sonnets": ("sonnets", "(\\w+\\s?)+$"),
}
PRIME = """import torch
torch.set_num_threads(1)
from core.charlm.checkpoint import load_checkpoint
from core.charlm.stepper import Stepper
ck = load_checkpoint({ckpt!r})
text = (open({sonnets!r}).read() * 20)[:{n}]
idx = torch.tensor([ck.vocab.encode(text)])"""
IMAGE = """import io
from PIL import Image, ImageOps
from core.vision.images import _to_rgb, open_image
buf = io.BytesIO()
Image.new("RGBA", (6000, 4000), (10, 200, 30, 128)).save(buf, "PNG")
data = buf.getvalue()"""
IMAGE_FULL_SIZE = ("im = Image.open(io.BytesIO(data)); im.load(); im = _to_rgb(ImageOps.exif_transpose(im)); "
                   "im.thumbnail((448, 448), Image.BILINEAR)")


def child(setup: str, call: str, timeout: float) -> tuple[float, float] | None:
    """(seconds, MB above the pre-call peak) of one call in a fresh process; None when it ran past timeout."""
    code = MEASURE.format(root=str(ROOT), setup=setup, call=call)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                             check=True).stdout
    except subprocess.TimeoutExpired:
        return None
    return tuple(json.loads(out.strip().splitlines()[-1]))


def median(runs: list[tuple[float, float] | None], timeout: float) -> str:
    if any(r is None for r in runs):
        return f"> {timeout:g} s (killed)"
    return (f"{statistics.median(r[0] for r in runs):8.3f} s  "
            f"{statistics.median(r[1] for r in runs):6.0f} MB")


class HealthPoller(threading.Thread):
    """GET /_stcore/health every 0.1 s; the seconds each answer took (a failure counts as its 30 s timeout)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.seconds, self.done = url + "/_stcore/health", [], threading.Event()
        self.started, self.slowest_at = time.monotonic(), 0.0  # when the slowest poll began, from the start

    def run(self) -> None:
        while not self.done.is_set():
            t0 = time.monotonic()
            try:
                urllib.request.urlopen(self.url, timeout=30).read()
            except OSError:
                pass
            self.seconds.append(time.monotonic() - t0)
            if self.seconds[-1] == max(self.seconds):
                self.slowest_at = t0 - self.started
            self.done.wait(0.1)


def under_load(url: str, sessions: int, runs: int) -> tuple[HealthPoller, list[float]]:
    """Health polls while `sessions` sessions press Generate `runs` times each; and the runs' times."""
    sys.path.insert(0, str(ROOT / "bench"))
    from streamlit_client import run_sessions
    poller = HealthPoller(url)
    poller.start()
    try:
        run_seconds = run_sessions(url, sessions, runs)
    finally:
        poller.done.set()
        poller.join()
    return poller, run_seconds


def percentiles(poller: HealthPoller) -> str:
    xs = poller.seconds
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return (f"p50 {q[49]:6.3f} s  p99 {q[98]:6.3f} s  max {max(xs):6.3f} s (at {poller.slowest_at:.0f} s)  "
            f"({len(xs)} polls)")


def health(sessions: int, runs: int, slots: int) -> None:
    """The --health mode: one server, one session's load, then `sessions` sessions' load."""
    load = os.getloadavg()[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless",
                               "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "RNNLENS_MODEL_SLOTS": str(slots)})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        under_load(url, 1, 1)  # warm: the model loaded, the page's modules imported
        rows = [(n, *under_load(url, n, runs)) for n in (1, sessions)]
    finally:
        server.kill()
        server.wait()
    print(f"load average (1 min): {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; {os.cpu_count()} CPUs")
    for n, poller, run_seconds in rows:
        print(f"health, {n:2d} session(s) x {runs} Sample runs: {percentiles(poller)}; "
              f"a run: median {statistics.median(run_seconds):.2f} s, max {max(run_seconds):.2f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before a baseline run is killed")
    p.add_argument("--prime-chars", type=int, default=10_000)
    p.add_argument("--health", action="store_true", help="only the health-under-load measurement")
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--runs", type=int, default=5, help="Sample runs per session")
    p.add_argument("--slots", type=int, default=0, help="sessions that may run a model at once (0: the "
                   "dashboard's default; as many as --sessions: no turns, as before issue 25)")
    args = p.parse_args()
    if args.health:
        health(args.sessions, args.runs, args.slots)
        return
    sonnets = str(ROOT / "tests" / "data" / "sonnets.txt")
    texts = TEXTS.format(sonnets=sonnets)
    rows = []
    for name, (text, pattern) in REGEX.items():
        backtracking = f"import re; n = sum(1 for _ in re.finditer({pattern!r}, {text}, re.MULTILINE))"
        linear = f"from core.lens.user_regex import compile_user_regex, match_spans; " \
                 f"n = len(match_spans(compile_user_regex({pattern!r}), {text}))"
        rows.append((f"regex {name}", "re", [child(texts, backtracking, args.timeout)],
                     "RE2", [child(texts, linear, args.timeout) for _ in range(args.repeats)]))
    prime = PRIME.format(ckpt=str(ROOT / "checkpoints" / "shakespeare-lstm"), sonnets=sonnets, n=args.prime_chars)
    rows.append((f"prime {args.prime_chars:,} chars, shakespeare-lstm", "one pass",
                 [child(prime, "with torch.inference_mode(): ck.model(idx)", 600) for _ in range(args.repeats)],
                 "chunked", [child(prime, "Stepper(ck.model).prime(idx)", 600) for _ in range(args.repeats)]))
    rows.append(("image 24 MP RGBA PNG", "full size",
                 [child(IMAGE, IMAGE_FULL_SIZE, 120) for _ in range(args.repeats)],
                 "shrunk first", [child(IMAGE, "open_image(data)", 120) for _ in range(args.repeats)]))
    for name, base_name, base, new_name, new in rows:
        ratio = ""
        if None not in base and None not in new:
            speed = statistics.median(b[0] for b in base) / statistics.median(n[0] for n in new)
            memory = statistics.median(b[1] for b in base) / max(statistics.median(n[1] for n in new), 1)
            ratio = f"   time x{speed:.1f}, memory x{memory:.1f}"
        print(f"{name:45s} {base_name:>10s} {median(base, args.timeout):>22s}   "
              f"{new_name:>12s} {median(new, args.timeout):>22s}{ratio}")

if __name__ == "__main__":
    main()
