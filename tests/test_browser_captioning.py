"""Real-browser layout of the Captioning page at 1024 and 1440 px, as a new user meets it (default photo, then the
what-if box opened), for both captioners: no image or code block is wider than its column, the training command is
not cut off, and the per-word maps read in order (left to right, then the next row from the left)."""
from pathlib import Path

import pytest

from tests.browser_helpers import CHROMIUM, SPILLS, settle

if not Path(CHROMIUM).exists():
    pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api")

def boxes(page, key: str) -> list[dict]:
    """Bounding boxes of the thumbnails in the gallery made with `key`, in page order."""
    return page.locator(f".st-key-{key} img").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })")


def out_of_order(thumbs: list[dict]) -> list[int]:
    """Indexes of thumbnails that are neither right of the previous one on its row nor first on a row below it."""
    left = thumbs[0]["x"] if thumbs else 0
    return [i for i, (a, b) in enumerate(zip(thumbs, thumbs[1:]), 1)
            if not (abs(b["y"] - a["y"]) < 2 and b["x"] >= a["x"] + a["w"]
                    or b["y"] >= a["y"] + a["h"] and abs(b["x"] - left) < 2)]


def open_expander(page, label: str) -> None:
    details = page.locator("[data-testid=stExpander] details").filter(has_text=label)
    if details.get_attribute("open") is None:
        details.locator("summary").click()
        settle(page)


@pytest.mark.parametrize("width", [1024, 1440])
def test_captioning_fits_its_columns_and_reads_in_order(server, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 768})
    page.goto(server + "/captioning")
    settle(page)
    for captioner in ("Photos (real objects)", "Shapes (generated scenes)"):
        page.get_by_text(captioner, exact=True).click()
        settle(page)
        open_expander(page, "What if part of the image were hidden?")
        open_expander(page, "What this captioner knows")
        page.wait_for_function(  # the rerun is over: one map per word of the headline, and the masked maps
            "() => document.querySelectorAll('.st-key-cap_words img').length === document.querySelector("
            "'[data-testid=stMain] h3').innerText.split(' ').length && document.querySelectorAll("
            "'.st-key-cap_masked_words img').length >= 2", timeout=180_000)
        settle(page)
        thumbs, masked = boxes(page, "cap_words"), boxes(page, "cap_masked_words")
        assert out_of_order(thumbs) == [] and out_of_order(masked) == [], (captioner, thumbs, masked)
        assert page.evaluate(SPILLS) == [], (captioner, width)
    assert page.locator("pre").filter(has_text="--karpathy-json").count() == 1  # the command, checked above
    page.close()


def test_out_of_order_finds_a_word_wrapped_under_another():
    row = [{"x": 10 + 100 * i, "y": 0, "w": 90, "h": 50} for i in range(3)]
    assert out_of_order(row + [{"x": 10, "y": 60, "w": 90, "h": 50}]) == []
    assert out_of_order(row + [{"x": 10, "y": 60, "w": 90, "h": 50}, {"x": 110, "y": 20, "w": 90, "h": 50}]) == [4]
    assert out_of_order([row[0], {"x": 60, "y": 0, "w": 90, "h": 50}]) == [1]  # overlaps the one before
