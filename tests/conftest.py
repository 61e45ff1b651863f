"""Shared fixtures: a tiny trained checkpoint (built in tests/tiny_checkpoint.py), and
for the real-browser tests a served dashboard and Debian's chromium (one of each per test module)."""
from pathlib import Path

import pytest

from tests.tiny_checkpoint import train_tiny

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A 2-layer, 16-unit LSTM trained for a few steps on the sonnets."""
    return train_tiny(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser") / "server.log"


@pytest.fixture(scope="module")
def server(server_log):
    """The dashboard over the shipped checkpoints, with an empty folder for models trained in the test."""
    from tests.browser_helpers import start_server

    proc, url = start_server({"RNNLENS_RUNS": str(server_log.parent / "runs")}, server_log)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def pytest_collection_modifyitems(items):
    """A test that serves the dashboard (a `server` or `browser` fixture) is a browser test; browser and DDP tests
    are slow too, so `pytest -m "not slow"` leaves them out."""
    for item in items:
        if {"server", "browser"} & set(item.fixturenames):
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("browser") or item.get_closest_marker("ddp"):
            item.add_marker(pytest.mark.slow)
