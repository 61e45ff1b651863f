"""Dashboard latency: generate-to-first-character and streaming rate in a real browser vs the core sampler,
each page's first render under AppTest with the models already cached, and each page's first visit (until its
main figure is drawn) beside Sample's, in chromium on a cold server (a fresh `streamlit run dashboard/serve.py` per
visit, or app.py in a checkout without serve.py) beside a bare one-title script served the same way.

`python bench/dashboard_latency.py [--checkpoint DIR] [--length 2000] [--repeats 5]`
`python bench/dashboard_latency.py --tour [--repeats 5]` (each Tour stop's render, reached with Next, beside the
Sample page's: under AppTest in one session, then in chromium on a served dashboard; the first walk fills the caches,
the medians are of the later walks)
`python bench/dashboard_latency.py --cold-only [--repeats 3] [--root CHECKOUT ...] [--pages /cells /gradients]` (the
cold visits only; --root serves another checkout of the app, e.g. an older commit, with this bench; given twice, the
two are visited in turn, page by page, and each gets its table beside the same baseline; --pages visits only those)

The model is checkpoints/shakespeare-lstm when it is there, else an untrained 2 x 512 LSTM built here (same
size and cost per character; it says which). The server runs with one torch thread, as the dashboard does.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.charlm.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from core.charlm.model import CharRNN, CharRNNConfig  # noqa: E402
from core.charlm.sample import stream_sample  # noqa: E402
from core.charlm.vocab import Vocab  # noqa: E402
from tests.browser_helpers import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    FINISHED,
    TOUR_FIGURE_SIZE,
    WATCH_OUTPUT,
    settle,
    start_server,
)

PRIME = "ROMEO.\n"


def model_dir(arg: str | None, tmp: Path) -> tuple[Path, str]:
    """The checkpoint to measure, inside a root of its own (so the sidebar picks it), and what it is."""
    src = Path(arg) if arg else ROOT / "checkpoints" / "shakespeare-lstm"
    root = tmp / "checkpoints"
    root.mkdir()
    if src.is_dir():
        (root / src.name).symlink_to(src.resolve())
        ckpt = load_checkpoint(src)
        return root / src.name, f"{src} ({ckpt.config.cell} {ckpt.config.n_layer} x {ckpt.config.hidden_size})"
    torch.manual_seed(0)
    vocab = Vocab.from_text("".join(chr(c) for c in range(32, 127)) + "\n")
    model = CharRNN(CharRNNConfig(len(vocab), "lstm", 2, 512)).eval()
    card = {"corpus": "shakespeare", "cell": "lstm", "n_layer": 2, "hidden_size": 512, "n_params": model.n_params()}
    path = save_checkpoint(root / "untrained-lstm-2x512", model, vocab, card, {})
    return path, "untrained LSTM 2 x 512 built here (no shipped checkpoints/shakespeare-lstm yet)"


def core_rates(path: Path, length: int, repeats: int) -> tuple[list[float], list[float]]:
    """The core sampler in this process: seconds to the first character, and characters per second."""
    torch.set_num_threads(1)
    ckpt = load_checkpoint(path)
    first, rates = [], []
    for seed in range(repeats):
        t0 = time.perf_counter()
        chars = stream_sample(ckpt.model, ckpt.vocab, PRIME, length, 1.0, seed=seed)
        next(chars)
        t1 = time.perf_counter()
        n = 1 + sum(1 for _ in chars)
        first.append(t1 - t0)
        rates.append((n - 1) / (time.perf_counter() - t1))
    return first, rates


def browser_rates(url: str, length: int, repeats: int) -> tuple[list[float], list[float]]:
    """In chromium: click Generate -> first character on screen (s), and characters per second on screen."""
    from playwright.sync_api import sync_playwright

    first, rates = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url + "/sample")
        settle(page)
        page.get_by_role("textbox", name="Prime text").fill(PRIME)
        box = page.get_by_role("spinbutton", name="Length (characters)")
        box.fill(str(length))
        box.press("Enter")
        settle(page)
        for run in range(repeats + 1):  # run 0 warms the server's caches
            page.evaluate(WATCH_OUTPUT)
            page.get_by_role("button", name="Generate", exact=True).click()
            page.wait_for_function(f"(window.__lengths.at(-1) || [0, 0])[1] >= {len(PRIME) + length}",
                                   timeout=300_000)
            marks = [(t, n - len(PRIME)) for t, n in page.evaluate("window.__lengths") if n > len(PRIME)]
            clicked = page.evaluate("window.__clicked")
            settle(page)
            if run == 0:
                continue
            (t_first, n_first), (t_last, n_last) = marks[0], marks[-1]
            first.append((t_first - clicked) / 1000)
            rates.append((n_last - n_first) / max((t_last - t_first) / 1000, 1e-9))
        browser.close()
    return first, rates


def page_renders(repeats: int) -> dict[str, list[float]]:
    """AppTest: seconds for each page's first render in a session, models already cached."""
    from streamlit.testing.v1 import AppTest

    app = str(ROOT / "dashboard" / "app.py")
    pages = sorted(f"../pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))
    bare = "import streamlit as st\nst.title('bare')\nst.sidebar.selectbox('m', ['a'])"
    times: dict[str, list[float]] = {}
    for page in ["(bare script, baseline)"] + pages:
        for run in range(repeats + 1):  # run 0 fills the caches
            if page.startswith("("):
                at = AppTest.from_string(bare, default_timeout=300)
                at.run()
            else:
                at = AppTest.from_file(app, default_timeout=300)
                at.run()
                at.switch_page(page)
            t0 = time.perf_counter()
            at.run()
            elapsed = time.perf_counter() - t0
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception[0].message}")
            if run:
                times.setdefault(page, []).append(elapsed)
    return times


def tour_renders(repeats: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """AppTest, one session: seconds to render each Tour stop on pressing Next (Sample: on switching to it from the
    last stop), `repeats` walks after a first one; and the first walk's times."""
    from streamlit.testing.v1 import AppTest

    from dashboard.tour import STOPS

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
    at.run()
    times: dict[str, list[float]] = {}
    first: dict[str, float] = {}

    def timed(name: str, render, walk: int) -> None:
        t0 = time.perf_counter()
        render()
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception[0].message}")
        if walk:
            times.setdefault(name, []).append(time.perf_counter() - t0)
        else:
            first[name] = time.perf_counter() - t0

    for walk in range(repeats + 1):
        at.switch_page("../pages/tour.py")
        at.session_state["tour_stop"] = 0
        for i, stop in enumerate(STOPS):
            timed(f"{i + 1}. {stop.slug}", (lambda: at.button(key="tour_next").click().run()) if i else at.run, walk)
        at.switch_page("../pages/sample.py")
        timed("Sample page", at.run, walk)
    return times, first


def browser_tour(url: str, repeats: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """In chromium on a served dashboard: seconds from clicking Next to the stop's figure drawn and its script run
    over (Sample: from clicking it in the sidebar to its script run over), `repeats` walks after a first one, each
    walk in a new session opened at the first stop; and the first walk's times."""
    from playwright.sync_api import sync_playwright

    from dashboard.tour import STOPS

    times: dict[str, list[float]] = {}
    first: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for walk in range(repeats + 1):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url + "/tour?stop=" + STOPS[0].slug)
            settle(page)
            steps = [(f"{i + 1}. {stop.slug}", lambda: page.get_by_role("button", name="Next").click(),
                      f"document.querySelector('[data-testid=stMain] h2')?.innerText.startsWith('{i + 1}. ') && "
                      f"({TOUR_FIGURE_SIZE})() > 20000") for i, stop in enumerate(STOPS) if i]
            steps.append(("Sample page", lambda: page.locator("[data-testid=stSidebarNav] a[href$='/sample']").click(),
                          "document.querySelector('[data-testid=stMain] h1')?.innerText === 'Sample'"))
            for name, click, drawn in steps:
                t0 = time.perf_counter()
                click()
                page.wait_for_function(drawn, timeout=300_000)
                page.wait_for_selector(FINISHED, timeout=300_000)
                if walk:
                    times.setdefault(name, []).append(time.perf_counter() - t0)
                else:
                    first[name] = time.perf_counter() - t0
            page.close()
        browser.close()
    return times, first


def print_tour(title: str, times: dict[str, list[float]], first: dict[str, float]) -> None:
    """Median seconds per Tour stop and for the Sample page, beside each first time."""
    print(title)
    for name, t in times.items():
        print(f"  {name:<16} {statistics.median(t):6.3f} s   (first {first[name]:6.3f} s)")


def tour_tables(repeats: int, tmp: Path) -> None:
    """Each Tour stop's render beside the Sample page's: under AppTest, then in chromium on a served dashboard."""
    torch.set_num_threads(1)  # as the dashboard
    print_tour(f"each Tour stop on pressing Next, and the Sample page, under AppTest in one session without serve.py's "
               f"warm-up (target < 2 s after the first); medians of {repeats} walks, and the first walk:",
               *tour_renders(repeats))
    proc, url = start_server({"RNNLENS_RUNS": str(tmp / "tour-runs")}, tmp / "tour-server.log")
    try:
        times, first = browser_tour(url, repeats)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print_tour(f"the same in chromium, served warm (Next -> figure drawn and script done; Sample: sidebar click -> "
               f"script done); medians of {repeats} walks, each a new session, and the first walk:", times, first)


FIGURES = {"": "img", "sample": "textarea", "train_more": "img", "cells": "pre",
           "gradients": "img", "causal": "pre", "captioning": "img", "vqa": "img"}
COLD_PAGES = ["", "/sample", "/train_more", "/train", "/cells", "/gradients", "/causal", "/captioning", "/vqa"]


def cold_visit(root: Path, path: str, env: dict, log: Path, figure: str = "h1") -> tuple[float, float]:
    """Opening root's app at path on a freshly started server: seconds from the server's start until it answers
    its health check (dashboard/serve.py imports its libraries then), and from opening the page to the end of its
    first script run with `figure` (a CSS selector in the main area) drawn."""
    from playwright.sync_api import sync_playwright

    t_start = time.perf_counter()
    proc, url = start_server(env, log, root)
    ready = time.perf_counter() - t_start
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            t0 = time.perf_counter()
            page.goto(url + path)
            page.wait_for_selector("[data-testid=stMain] h1", timeout=600_000)
            page.wait_for_selector(FINISHED, timeout=600_000)
            page.wait_for_selector(f"[data-testid=stMain] {figure}", timeout=600_000)
            elapsed = time.perf_counter() - t0  # the script has run and the page's main figure is drawn
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return ready, elapsed


def cold_renders(roots: list[Path], tmp: Path, repeats: int,
                 pages: list[str]) -> tuple[list[dict[str, list[float]]], list[list[float]]]:
    """cold_visit of every page of each root's app, and of a bare one-title script (the baseline), `repeats` times
    each, interleaved (so a change of machine load hits every checkout alike); per root, the times and the seconds
    each of its servers took to start."""
    bare = tmp / "bare"
    (bare / "dashboard").mkdir(parents=True)
    (bare / "dashboard" / "app.py").write_text("import streamlit as st\nst.title('bare')\n")
    times: list[dict[str, list[float]]] = [{} for _ in roots]
    starts: list[list[float]] = [[] for _ in roots]
    for _ in range(repeats):
        base = cold_visit(bare, "", {}, tmp / "server.log")[1]
        for path in pages:
            for root, t, s in zip(roots, times, starts):
                env = {"RNNLENS_CHECKPOINTS": str(root / "checkpoints"), "RNNLENS_RUNS": str(tmp / "cold-runs")}
                ready, elapsed = cold_visit(root, path, env, tmp / "server.log", FIGURES.get(path.strip("/"), "h1"))
                t.setdefault(path or "/", []).append(elapsed)
                s.append(ready)
        for t in times:
            t.setdefault("(bare script, baseline)", []).append(base)
    return times, starts


def print_table(title: str, times: dict[str, list[float]]) -> None:
    """Median seconds per page, its ratio to the baseline row and, where Sample was visited, to Sample's."""
    base = statistics.median(times.pop("(bare script, baseline)"))
    sample = statistics.median(times["/sample"]) if "/sample" in times else None
    print(f"{title}; bare-script baseline {base:.3f} s" + (f", Sample {sample:.3f} s" if sample else "") + ":")
    for name, t in times.items():
        vs_sample = f", {statistics.median(t) / sample:.1f}x Sample" if sample else ""
        print(f"  {name:<26} {statistics.median(t):6.3f} s  ({statistics.median(t) / base:.1f}x baseline{vs_sample})")


def server_rate(length: int, repeats: int) -> list[float]:
    """AppTest, no browser: characters per second of one Generate rerun of the Sample page (the page's own cost)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
    at.run()
    at.switch_page("../pages/sample.py")
    at.run()
    at.text_area(key="sample_prime").set_value(PRIME)
    at.number_input(key="sample_length").set_value(length)
    rates = []
    for run in range(repeats + 1):
        at.number_input(key="sample_seed").set_value(run)
        t0 = time.perf_counter()
        at.button(key="sample_generate").click().run()
        if run:
            rates.append(length / (time.perf_counter() - t0))
    return rates


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", help="a 2 x 512 LSTM checkpoint (default: checkpoints/shakespeare-lstm)")
    p.add_argument("--length", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cold-only", action="store_true", help="only the first visit of each page on a cold server")
    p.add_argument("--tour", action="store_true", help="only each Tour stop's render beside the Sample page's")
    p.add_argument("--pages", nargs="+", choices=[p or "/" for p in COLD_PAGES], metavar="PATH",
                   help=f"the pages to visit cold (default: all of {' '.join(p or '/' for p in COLD_PAGES)})")
    p.add_argument("--root", type=Path, action="append",
                   help="a checkout whose app the cold visits serve (default: this one); repeat it to compare")
    args = p.parse_args()
    args.root = args.root or [ROOT]
    med = statistics.median
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the start")
    if args.tour:
        with tempfile.TemporaryDirectory() as tmp:
            tour_tables(args.repeats, Path(tmp))
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pages = [p.rstrip("/") for p in args.pages] if args.pages else COLD_PAGES  # "/" is Home
        colds, starts = cold_renders(args.root, tmp, args.repeats, pages)
        for root, cold, start in zip(args.root, colds, starts):
            print_table(f"first visit of each page on a cold server, in chromium ({root}; target < 3 s), "
                        f"medians of {args.repeats}", cold)
            print(f"  (the server itself: {statistics.median(start):.3f} s from start to answering, median)")
        if args.cold_only:
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
            return 0
        path, what = model_dir(args.checkpoint, tmp)
        env = {"RNNLENS_CHECKPOINTS": str(path.parent), "RNNLENS_RUNS": str(tmp / "runs")}
        print(f"model: {what}; {args.length} characters, {args.repeats} runs each, medians")
        proc, url = start_server(env, tmp / "server.log")
        try:
            ui_first, ui_rate = browser_rates(url, args.length, args.repeats)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        core_first, core_rate = core_rates(path, args.length, args.repeats)
        tour_tables(args.repeats, tmp)  # over the shipped checkpoints, before the environment names the bench's root
        os.environ.update(env)
        page_rate = server_rate(args.length, args.repeats)
        renders = page_renders(args.repeats)
    print(f"first character: browser {med(ui_first):.3f} s (click -> on screen) vs core sampler "
          f"{med(core_first):.3f} s (call -> first char); target < 0.3 s")
    print(f"streaming rate: browser {med(ui_rate):,.0f} chars/s vs core sampler {med(core_rate):,.0f} chars/s; "
          f"ratio {med(ui_rate) / med(core_rate):.2f} (target >= 0.80)")
    print(f"  the page alone (AppTest rerun, no browser): {med(page_rate):,.0f} chars/s; "
          f"ratio {med(page_rate) / med(core_rate):.2f}")
    print_table("first render of each page under AppTest, models cached (target < 3 s)", renders)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
