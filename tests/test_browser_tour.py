"""The Tour in a real browser (the dashboard served by `streamlit run`, Playwright with Debian's chromium): Next walks
every stop, each shows its figure (drawn, not empty) and no error or warning box, the address bar follows, and a
stop's URL opened afresh reopens it; presenter mode hides the sidebar. Screenshots go to artifacts/screenshots/."""
from pathlib import Path

import pytest

from dashboard.tour import STOPS
from tests.browser_helpers import CHROMIUM, SPILLS, TOUR_FIGURE_SIZE, screenshot, settle

if not Path(CHROMIUM).exists():
    pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


def heading(page) -> str:
    return page.locator("[data-testid=stMain] h2").first.inner_text()


def shows_its_figure(page, label: str) -> None:
    page.wait_for_function(f"({TOUR_FIGURE_SIZE})() > 20000", timeout=60_000)  # plotly draws after the script ends
    assert page.locator("[data-testid=stException]").count() == 0, label
    assert page.locator("[data-testid=stAlert]").count() == 0, label  # no error, warning or info box


def test_next_walks_every_stop_and_each_url_reopens_it(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server + "/tour")
    settle(page)
    urls = []
    for i, stop in enumerate(STOPS):
        if i:
            page.get_by_role("button", name="Next").click()
            page.wait_for_function("n => document.querySelector('[data-testid=stMain] h2')?.innerText"
                                   ".startsWith(n + '. ')", arg=i + 1, timeout=120_000)
            settle(page)
        assert heading(page) == f"{i + 1}. {stop.title}"
        shows_its_figure(page, stop.slug)
        page.wait_for_url(f"**stop={stop.slug}*")
        assert page.evaluate(SPILLS) == [], stop.slug  # nothing wider than its column
        urls.append(page.url)
        screenshot(page, f"tour-{i + 1:02d}-{stop.slug}")
    assert page.get_by_role("button", name="Next").is_disabled()
    page.close()
    fresh = browser.new_page(viewport={"width": 1440, "height": 900})  # a new session from each stop's address
    for i in (5, 7, 1):
        fresh.goto(urls[i])
        settle(fresh)
        assert heading(fresh) == f"{i + 1}. {STOPS[i].title}"
        shows_its_figure(fresh, STOPS[i].slug)
    fresh.close()


def test_presenter_mode_hides_the_sidebar_and_the_link_keeps_it(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server + "/tour?stop=hello&present=true")
    settle(page)
    assert heading(page) == f"2. {STOPS[1].title}"
    page.locator("[data-testid=stSidebar]").wait_for(state="hidden", timeout=30_000)  # the page's CSS hides it
    big = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.st-key-tour_text p')).fontSize)")
    assert big >= 24
    shows_its_figure(page, "hello presented")
    page.get_by_text("Presenter mode").click()
    settle(page)
    page.locator("[data-testid=stSidebar]").wait_for(state="visible", timeout=30_000)
    page.wait_for_url(lambda url: "stop=hello" in url and "present" not in url, timeout=30_000)
    page.close()
