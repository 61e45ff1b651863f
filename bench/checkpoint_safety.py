"""Checkpoint safety figures: loads that fail while a writer saves the same directory again and again, and the
time and peak memory to refuse a checkpoint whose config claims a 200k-symbol, 3 x 4096 model.

`python bench/checkpoint_safety.py --loads 2000` prints each figure beside its baseline from the same run: a
reader with no writer, and loading a normal tiny checkpoint.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.charlm.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from tests.tiny_checkpoint import make_checkpoint  # noqa: E402

CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from core.charlm.checkpoint import load_checkpoint
t = time.perf_counter()
try:
    load_checkpoint(sys.argv[1])
    outcome = "loaded"
except Exception as e:
    outcome = type(e).__name__ + ": " + str(e)[:80]
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, outcome, sep="\\t")
"""


def reader_failures(out: Path, versions: list, loads: int, with_writer: bool) -> tuple[int, int, dict]:
    """Load out `loads` times, with a thread saving the versions in turn meanwhile or not; failures by kind."""
    stop, saves = threading.Event(), [0]

    def writer():
        while not stop.is_set():
            v = versions[saves[0] % len(versions)]
            save_checkpoint(out, v.model, v.vocab, v.card, v.samples)
            saves[0] += 1

    thread = threading.Thread(target=writer) if with_writer else None
    if thread:
        thread.start()
    kinds: dict[str, int] = {}
    try:
        for _ in range(loads):
            try:
                got = load_checkpoint(out)
                if len(got.model.state_dict()) != 3 + 4 * got.config.n_layer:
                    raise AssertionError("mixed versions")
            except Exception as e:
                kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
    finally:
        stop.set()
        if thread:
            thread.join()
    return sum(kinds.values()), saves[0], kinds


def refusal(path: Path, runs: int) -> tuple[float, float, str]:
    """Median seconds and MB peak RSS of a fresh process loading path (import time excluded), and the outcome."""
    rows = []
    for _ in range(runs):
        run = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), str(path)], capture_output=True,
                             text=True, timeout=600)
        seconds, mb, outcome = run.stdout.strip().split("\t")
        rows.append((float(seconds), float(mb), outcome))
    return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), rows[0][2]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loads", type=int, default=2000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        versions = [load_checkpoint(make_checkpoint(tmp / f"v{n}", n_layer=n)) for n in (1, 2)]
        out = make_checkpoint(tmp / "busy")
        base, _, _ = reader_failures(out, versions, args.loads, with_writer=False)
        failed, saves, kinds = reader_failures(out, versions, args.loads, with_writer=True)
        print(f"reader failures: {failed} in {args.loads} loads during {saves} saves {kinds} "
              f"(baseline without a writer: {base})")
        huge = make_checkpoint(tmp / "huge")
        symbols = ["\ufffd"] + [chr(c) for c in range(0x20000, 0x20000 + 199_999)]
        (huge / "vocab.json").write_text(json.dumps({"itos": symbols}, ensure_ascii=False), encoding="utf-8")
        (huge / "config.json").write_text(json.dumps({"kind": "char-rnn", "vocab_size": 200_000, "cell": "lstm",
                                                      "n_layer": 3, "hidden_size": 4096}))
        t_tiny, mb_tiny, _ = refusal(versions[0].path, args.runs)
        t_huge, mb_huge, outcome = refusal(huge, args.runs)
        print(f"200k x 4096 x 3 config: {t_huge:.3f} s, peak {mb_huge:.0f} MB -> {outcome}")
        print(f"baseline, tiny checkpoint load: {t_tiny:.3f} s, peak {mb_tiny:.0f} MB; ratio {t_huge / t_tiny:.1f}x, "
              f"{mb_huge / mb_tiny:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
