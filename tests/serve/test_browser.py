"""The demo page in a real browser: Debian's headless Chromium (installed by make test, driven by
selenium through Debian's chromedriver; nothing downloads a browser) loads the page, uploads a
mixture and waits for its identities."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from matplotlib.image import imread
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from mirnet.apps.verification import Gallery
from mirnet.serve.server import Limits, Service, create_app

from .conftest import serving

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def server(embedder, clips):
    out, _ = clips
    gallery = Gallery.open(out / "gallery", embedder.fingerprint, embedder.embed_dim)
    with serving(create_app(Service(embedder, None, gallery, {"mix.wav": out / "mix.wav"}, Limits()))) as url:
        yield url


@pytest.fixture
def browser():
    assert CHROMIUM and DRIVER, (
        "chromium and chromedriver are missing: make test installs them (scripts/install_browser.sh)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=DriverService(DRIVER))
    yield driver
    driver.quit()


def test_the_page_uploads_a_mixture_and_shows_its_named_identities(server, browser, clips, tmp_path):
    out, speakers = clips
    browser.get(server)
    wait = WebDriverWait(browser, 60)
    wait.until(ec.text_to_be_present_in_element((By.ID, "about"), "2 identities per clip"))
    browser.find_element(By.ID, "file").send_keys(str(out / "mix.wav"))
    browser.find_element(By.ID, "upload").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "result"), "2 identities"))
    text = browser.find_element(By.ID, "result").text
    assert text.startswith("mix.wav: ") and "s, 2 identities" in text
    assert all(f"voice-{s}" in text for s in speakers) and browser.find_element(By.ID, "error").text == ""
    shot = imread(io.BytesIO(browser.get_screenshot_as_png()), format="png")
    assert shot.shape[0] > 300 and shot.shape[1] > 300 and shot[..., :3].std() > 0.05  # drawn, not blank
    # a bad upload shows its message in the page
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    browser.find_element(By.ID, "upload").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "error"), "415: notes.wav: not an audio file"))


@pytest.fixture
def long_server(embedder, clips):
    """The 12-s clip of both voices as an example, diarized (over 5 s), with the gallery of both."""
    out, _ = clips
    gallery = Gallery.open(out / "gallery", embedder.fingerprint, embedder.embed_dim)
    service = Service(embedder, None, gallery, {"long.wav": out / "long.wav"}, Limits(long_seconds=5.0))
    with serving(create_app(service)) as url:
        yield url


def test_the_example_button_gives_a_timeline_and_a_table_naming_the_same_speakers(long_server, browser):
    browser.get(long_server)
    wait = WebDriverWait(browser, 120)
    wait.until(ec.text_to_be_present_in_element((By.ID, "about"), "gallery of 2 names"))
    browser.find_element(By.ID, "example").click()
    wait.until(ec.presence_of_element_located((By.ID, "wave")))
    wait.until(lambda b: b.find_element(By.ID, "wave").get_attribute("data-lanes"))
    canvas = browser.find_element(By.ID, "wave")
    lanes = json.loads(canvas.get_attribute("data-lanes"))
    rows = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#speakers td.who")]
    assert lanes and [name for name, _ in lanes] == rows  # one name per speaker, in both
    assert "speakers found" in browser.find_element(By.ID, "summary").text
    # every lane's colour is drawn in the timeline (a screenshot of the canvas, not the DOM)
    shot = imread(io.BytesIO(canvas.screenshot_as_png), format="png")[..., :3]
    for _, colour in lanes:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        assert (np.abs(shot - rgb).max(-1) < 0.02).sum() > 50, colour


def test_a_server_without_examples_says_how_to_give_some(server_without_examples, browser):
    browser.get(server_without_examples)
    wait = WebDriverWait(browser, 60)
    wait.until(ec.text_to_be_present_in_element((By.ID, "example-note"), "--examples"))
    assert not browser.find_element(By.ID, "example").is_enabled()


@pytest.fixture
def server_without_examples(embedder):
    with serving(create_app(Service(embedder))) as url:
        yield url
