"""Real-browser test: the dashboard served by `streamlit run`, driven by Playwright with Debian's chromium.

Opens the Sample page, presses Generate and watches the text stream in; saves a screenshot of every page
under artifacts/screenshots/ (git-ignored) for a person to look at.
"""
from pathlib import Path

import pytest

from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, WATCH_OUTPUT, screenshot, settle, start_server

if not Path(CHROMIUM).exists():
    pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard over the shipped checkpoints, with an empty folder for models trained in the test."""
    tmp = tmp_path_factory.mktemp("browser")
    proc, url = start_server({"RNNLENS_RUNS": str(tmp / "runs")}, tmp / "server.log")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1440, "height": 900})
        browser.close()


def test_sample_page_streams_generated_text(server, page):
    page.goto(server + "/sample")
    settle(page)
    length = page.get_by_role("spinbutton", name="Length (characters)")
    length.fill("4000")
    length.press("Enter")
    settle(page)
    prime = page.get_by_role("textbox", name="Prime text").input_value()
    page.evaluate(WATCH_OUTPUT)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(f"(window.__lengths.at(-1) || [0, 0])[1] >= {len(prime) + 4000}", timeout=180_000)
    lengths = [n for _, n in page.evaluate("window.__lengths")]
    assert lengths[0] < lengths[-1] == len(prime) + 4000
    assert len(set(lengths)) >= 3, lengths  # it arrived in pieces, not all at once
    shown = page.locator(".st-key-sample_output pre.rnnlens-text").inner_text()
    assert shown.startswith(prime.rstrip("\n"))
    settle(page)
    length.fill("400")  # a shorter text for the screenshot
    length.press("Enter")
    settle(page)
    page.get_by_role("button", name="Generate", exact=True).click()
    settle(page)
    page.get_by_text("Show confidence and top-5 next characters").first.click()
    settle(page)
    page.get_by_role("button", name="Generate at").click()
    settle(page)
    assert page.locator("[data-testid=stPlotlyChart]").count() >= 2
    assert screenshot(page, "sample").stat().st_size > 10_000


def test_train_page_trains_an_upload_and_shows_it_live(server, page):
    page.goto(server + "/train")
    settle(page)
    page.get_by_text("Upload a text file", exact=True).click()
    settle(page)
    sonnets = (ROOT / "tests" / "data" / "sonnets.txt").read_bytes()
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(
        files=[{"name": "sonnets.txt", "mimeType": "text/plain", "buffer": sonnets}])
    page.wait_for_selector("text=the last 10% of the lines are held out", timeout=120_000)
    settle(page)
    page.get_by_text("More settings").click()
    for label, value in [("Max steps (0: no limit)", "80"), ("Batch size", "8"), ("Sequence length", "32"),
                         ("Val loss every N steps", "10"), ("Sample every N steps", "20")]:
        box = page.get_by_role("spinbutton", name=label)
        box.fill(value)
        box.press("Enter")
        settle(page)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector("text=Checkpoint saved in", timeout=300_000)
    settle(page)
    assert page.get_by_text("Sample at step").count() == 1
    screenshot(page, "train")


def test_every_page_renders_and_is_saved_as_a_screenshot(server, page):
    page.goto(server)
    settle(page)
    links = page.locator("[data-testid=stSidebarNav] a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) >= 4
    for href in hrefs:
        name = href.rstrip("/").rsplit("/", 1)[-1] if href.rstrip("/") != server else "home"
        if name in ("sample", "train"):
            continue  # shot while in use, above
        page.goto(href)
        settle(page)
        assert page.locator("[data-testid=stException]").count() == 0, name
        screenshot(page, name or "home")
