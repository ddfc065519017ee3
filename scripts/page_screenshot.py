"""The demo page's screenshot in the docs (docs/images/serve.png): `mirnet serve` on the
Quickstart's files, "Analyze the example" pressed in Debian's headless Chromium, the whole page
saved once the timeline is drawn. Run in the folder the Quickstart ran in:

    python scripts/page_screenshot.py OUT.png [--gallery team/] [--example meeting/conv000.wav]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--model", default="reference")
    p.add_argument("--gallery", default="team/")
    p.add_argument("--separator", default="upit")
    p.add_argument("--example", default="meeting/conv000.wav")
    a = p.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mirnet = Path(sys.executable).with_name("mirnet")
    argv = [str(mirnet), "-q", "serve", a.model, "--gallery", a.gallery, "--separator", a.separator]
    server = subprocess.Popen([*argv, "--examples", a.example, "--port", str(port)])
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        for _ in range(120):  # the models load before the server listens
            try:
                driver.get(f"http://127.0.0.1:{port}")
                break
            except Exception:
                time.sleep(1)
        WebDriverWait(driver, 60).until(lambda b: b.find_element(By.ID, "examples").get_attribute("value"))
        driver.find_element(By.ID, "example").click()
        WebDriverWait(driver, 600).until(lambda b: b.find_element(By.ID, "wave").get_attribute("data-lanes"))
        driver.set_window_size(1100, driver.execute_script("return document.body.scrollHeight") + 40)
        driver.save_screenshot(a.out)
        print(driver.find_element(By.ID, "result").text)
    finally:
        driver.quit()
        server.terminate()


if __name__ == "__main__":
    main()
