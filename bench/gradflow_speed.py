"""||dL_T/dh_t|| for every t of a 1,000-step sequence: the explicit backward recurrence vs autograd, one run.

    python bench/gradflow_speed.py [--length 1000] [--hidden 64] [--repeats 5] [--threads 1] [--naive]

Ours: core.gradients.flow.gradient_flow (one fused forward, gates re-derived in batch, one backward recurrence
of a few vector ops per step, float64). Baselines, same weights and inputs, on nn.*Cell steps:
"autograd, one backward": one torch.autograd.grad call over all the retained per-step states;
with --naive also "autograd, one call per t": one torch.autograd.grad call per state (retain_graph), the
naive way, run once per cell: it is quadratic in the length (minutes at T=1000 on a busy CPU).
Medians over repeats.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.charlm.recurrent import CELLS  # noqa: E402
from core.gradients.flow import autograd_flow, gradient_flow, random_problem  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of fn() over repeats, and its last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--naive", action="store_true", help="also time one autograd.grad call per t (slow)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"T={a.length}, hidden {a.hidden}, {a.threads} thread(s), torch {torch.__version__}; "
          f"median seconds over {a.repeats} repeats")
    print(f"{'cell':5s} {'ours':>7s} {'autograd 1 backward':>20s} {'ratio':>6s} {'max rel diff':>12s}"
          + (f" {'autograd 1 call/t':>18s} {'ratio':>6s}" if a.naive else ""))
    for cell in CELLS:
        layers, x, u = random_problem(cell, a.length, a.hidden, sigma=1.0, forget_bias=1.0, input_scale=0.1)
        t_ours, ours = timed(lambda: gradient_flow(layers, x, u), a.repeats)
        t_one, ref = timed(lambda: autograd_flow(layers, x, u), a.repeats)
        ok = ref.h_norm > 1e-15  # float32 autograd loses tiny norms (their squares underflow)
        diff = np.max(np.abs(ours.h_norm[ok] - ref.h_norm[ok]) / ref.h_norm[ok])
        line = f"{cell:5s} {t_ours:7.3f} {t_one:20.3f} {t_one / t_ours:5.1f}x {diff:12.1e}"
        if a.naive:
            t_naive, _ = timed(lambda: autograd_flow(layers, x, u, per_step=True), 1)
            line += f" {t_naive:18.2f} {t_naive / t_ours:5.0f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
