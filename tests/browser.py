"""Headless Chromium for tests: a live server on loopback and a browser that dumps DOM and screenshots."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

from conftest import missing_tool

OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars",
]


def chromium_path() -> str:
    """The browser, or skip with the reason; under CI=true a missing browser is a failure."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    missing_tool("Debian's chromium is not installed (apt-get install chromium)")


def wait_for(driver, css: str, timeout: float = 15):
    """The first element matching `css` once it is visible (a click that loads a page returns before it has)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def webdriver_session():
    """A Selenium-driven headless Chromium (Debian's chromedriver; Selenium Manager never downloads one)."""
    binary = chromium_path()
    driver_path = shutil.which("chromedriver")
    if not driver_path:
        missing_tool("Debian's chromium-driver is not installed (apt-get install chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1280,1000")
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


class LiveServer:
    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()


class Browser:
    def __init__(self, binary: str):
        self.binary = binary

    def _run(self, url: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as profile:
            return subprocess.run(
                [self.binary, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                capture_output=True, text=True, timeout=timeout,
            )

    def dom(self, url: str) -> str:
        """The page's DOM after its scripts ran."""
        result = self._run(url, "--virtual-time-budget=3000", "--dump-dom")
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    def screenshot(self, url: str, name: str, size: str = "1200,900") -> Path:
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / name
        result = self._run(url, f"--screenshot={path}", f"--window-size={size}", "--virtual-time-budget=3000")
        assert result.returncode == 0 and path.exists() and path.stat().st_size > 5000, result.stderr[-2000:]
        return path
