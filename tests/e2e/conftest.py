"""Browser tests: `streamlit run` on a free local port, Debian's Chromium driven by Playwright."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("E2E_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (apt-get install -y chromium); CI must run the browser tests")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="session")
def server():
    with start_server() as url:
        yield url


@contextlib.contextmanager
def start_server(entry: str = "app.py"):
    """`streamlit run <entry>` from the repository root on a free loopback port; yields its URL, then stops it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", entry, "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", "--client.showErrorDetails=full"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        end = time.time() + 90
        while time.time() < end:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except Exception:
                if proc.poll() is not None:
                    pytest.fail("streamlit run exited early")
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not answer within 90 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    exe = _chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def wait_idle(page, timeout: float = 120) -> None:
    """Wait until Streamlit has finished running the script (its status widget disappears)."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout * 1000)
    try:   # every page starts with a title; its arrival means the script has begun drawing
        page.wait_for_selector('[data-testid="stMain"] h1', timeout=30_000)
    except Exception:
        pass
    time.sleep(1.5)   # the status widget appears only after a short delay
    end = time.time() + timeout
    while time.time() < end and page.locator('[data-testid="stStatusWidget"]').count():
        time.sleep(0.25)
    time.sleep(0.5)


def errors_on(page) -> list[str]:
    found = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    texts = [" ".join(t.split())[:200] for t in found.all_inner_texts()]
    body = page.inner_text("body")
    if "Traceback (most recent call last)" in body:
        texts.append("a traceback is shown")
    return texts


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def open_page(server, browser):
    """open_page(path, query="", size=(1280, 800)) -> a Playwright page that has settled."""
    contexts = []

    def _open(path: str = "", query: str = "", size=(1280, 800)):
        ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto(f"{server}/{path}" + (f"?{query}" if query else ""), wait_until="domcontentloaded",
                  timeout=120_000)
        wait_idle(page)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()
