"""Browser test: Debian's chromium, driven by Playwright, clicks Generate and sees the gallery fill."""

import os
import shutil

import pytest
from conftest import ARTIFACTS

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["laptop", "phone"]
)
def test_generate_fills_the_gallery(browser, app_url, viewport):
    page = browser.new_page(viewport=viewport)
    page.goto(app_url, wait_until="networkidle")
    page.get_by_role("button", name="Generate", exact=True).click()
    gallery_images = page.locator("#component-0 ~ * img, .gallery img, [data-testid='gallery'] img, .grid-wrap img")
    gallery_images.first.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.grid-wrap img').length >= 8", timeout=60_000)
    assert page.locator(".grid-wrap img").count() >= 8
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"faces-tab-{viewport['width']}.png"), full_page=True)
    # The seed actually used is shown after the run.
    assert page.get_by_label("First seed used").input_value() == "42"
    page.close()


def test_example_and_morph(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url, wait_until="networkidle")
    page.get_by_text("4 clean faces (ψ = 0.3)").click()  # an example runs on click
    page.wait_for_function("document.querySelectorAll('.grid-wrap img').length == 4", timeout=60_000)
    assert page.get_by_label("First seed used").input_value() == "7"
    page.get_by_text("Morph between two seeds").click()
    page.get_by_role("button", name="Morph", exact=True).click()
    animation = page.locator("img[src*='morph-']").first
    animation.wait_for(state="visible", timeout=60_000)
    assert page.locator("img[src*='morph-strip']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "faces-morph.png"), full_page=True)
    page.close()
