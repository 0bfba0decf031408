"""Rendering a self-contained HTML page in headless Chromium (Debian's package) with a fresh profile, for the
report and comparison tests: what a person sees, with the console errors and network requests it caused."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Rendered:
    screenshot: bytes
    title: str
    images: list  # [complete, naturalWidth] per <img>
    console: list  # console errors and page errors
    requests: list[str]  # every URL the page asked for
    table_text: str  # the text of the report's table of every cell as drawn ('' where the page has none)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")


def render(page_path: Path, height: int = 1600) -> Rendered:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    console, requests = [], []
    with sync_playwright() as playwright:
        # headless, and a fresh temporary profile per launch (Playwright's default)
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": height})
        page.on("console", lambda message: console.append(message) if message.type == "error" else None)
        page.on("pageerror", lambda error: console.append(error))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        # images below the fold load lazily, as a reader scrolls: load them all, as scrolling would
        page.evaluate(
            "() => Promise.all(Array.from(document.images).map(i => { i.loading = 'eager'; return i.complete ? null"
            " : new Promise(done => { i.onload = done; i.onerror = done; }); }))"
        )
        shot = page.screenshot(full_page=True)
        title = page.title()
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        table = page.evaluate("(document.querySelector('#cells-table tbody') || {textContent: ''}).textContent")
        browser.close()
    return Rendered(shot, title, images, console, requests, table)


def assert_renders(rendered: Rendered, title_start: str, min_height: int) -> None:
    """No console errors, no network, images loaded, and a page with content (not blank)."""
    from io import BytesIO

    import numpy as np
    from PIL import Image

    assert not rendered.console, rendered.console
    assert [url for url in rendered.requests if not url.startswith(("file:", "data:"))] == []
    assert rendered.title.startswith(title_start), rendered.title
    assert rendered.images and all(ok and width > 0 for ok, width in rendered.images)
    pixels = np.asarray(Image.open(BytesIO(rendered.screenshot)).convert("L"), dtype=float)
    assert pixels.shape[0] > min_height and pixels.std() > 10
