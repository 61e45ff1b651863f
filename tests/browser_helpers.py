"""Helpers to serve the dashboard and drive it with Playwright + Debian's chromium (browser test and bench)."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# the text a dashboard.streaming.code_html block holds: its rows (one per line), joined by newlines
PRE_TEXT = "pre => [...pre.children].map(row => row.textContent).join('\\n')"
# records (ms since page load, length) each time the Sample page's output text changes
WATCH_OUTPUT = """() => {
  window.__lengths = []; window.__clicked = null;
  const text = %s;
  const read = () => {
    const pre = document.querySelector('.st-key-sample_output pre.rnnlens-text');
    return pre ? text(pre).length : 0;
  };
  document.addEventListener('click', () => { window.__clicked = performance.now(); }, true);
  new MutationObserver(() => {
    const n = read(), last = window.__lengths.at(-1);
    if (window.__clicked !== null && (!last || last[1] !== n)) window.__lengths.push([performance.now(), n]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}""" % PRE_TEXT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, log: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`streamlit run dashboard/serve.py` (of the checkout at root; dashboard/app.py where it has no serve.py) on a
    free localhost port; the process, its URL."""
    port = free_port()
    entry = "dashboard/serve.py" if (root / "dashboard" / "serve.py").is_file() else "dashboard/app.py"
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", entry, "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"],
                            cwd=root, env={**os.environ, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # serve.py imports and computes the first views before it answers
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"streamlit did not start; see {log}")


# every image, code block and element of the main area whose box leaves that of its column, expander or the main
# area (their content boxes), or a code block that must scroll
SPILLS = """() => {
  const main = document.querySelector('[data-testid=stMainBlockContainer]');
  const out = [];
  for (const el of main.querySelectorAll('img, pre, [data-testid=stElementContainer]')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const col = el.parentElement.closest('[data-testid=stColumn], [data-testid=stExpanderDetails]') || main;
    const c = col.getBoundingClientRect(), style = getComputedStyle(col);
    const left = c.left + parseFloat(style.paddingLeft), right = c.right - parseFloat(style.paddingRight);
    const label = el.tagName + ' ' + (el.closest('[data-testid=stImage]')?.innerText || el.innerText).slice(0, 40);
    if (r.left < left - 1 || r.right > right + 1) out.push(`${label}: ${r.left}-${r.right} in ${left}-${right}`);
    if (el.tagName === 'PRE' && el.scrollWidth > el.clientWidth + 1) out.push(`${label}: cut off`);
  }
  return out;
}"""

FINISHED = "[data-testid=stApp][data-test-script-state=notRunning]"  # the first script run is over

# the drawn size of what the Tour's figure area holds: images, plotly's drawing, highlighted or generated text
TOUR_FIGURE_SIZE = """() => {
  const area = document.querySelector('.st-key-tour_figure');
  if (!area) return 0;
  let size = 0;
  for (const el of area.querySelectorAll('img, .js-plotly-plot .main-svg, pre')) {
    const r = el.getBoundingClientRect();
    if (el.tagName === 'IMG' && !el.naturalWidth) continue;
    if (el.tagName === 'PRE' && !el.innerText.trim()) continue;
    size += r.width * r.height;
  }
  return size;
}"""


def settle(page, timeout_ms: int = 180_000) -> None:
    """Wait until the page has a title and the script has finished running."""
    page.wait_for_selector("[data-testid=stMain] h1", timeout=timeout_ms)
    page.wait_for_timeout(300)
    for _ in range(10):  # a slider sends its value after a pause, so a rerun may start while we wait
        page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=timeout_ms)
        page.wait_for_timeout(700)
        if page.locator("[data-testid=stStatusWidget]").count() == 0:
            return


def enter(field, value: str) -> None:
    """Type value into a text or number field, press Enter and wait for the rerun it starts."""
    field.fill(value)
    field.press("Enter")
    settle(field.page)


def screenshot(page, name: str) -> Path:
    """The whole main area (it scrolls inside the window, so grow the window to its height first)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(900, min(height, 6000))})
    page.wait_for_timeout(1200)  # plotly re-lays out on resize
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 900})
    return path
