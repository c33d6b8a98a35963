"""In Chromium: markdown/HTML payloads in every link parameter of every page and section, and typed into
the text boxes, create no link or image that points outside the app, and no request leaves the page
(every request the page makes is watched; anything not to this server is recorded and blocked)."""
from __future__ import annotations

import contextlib
import os
from urllib.parse import urlencode, urljoin, urlparse

import pytest

from explorer import bertviz_view
from explorer.ui.nav import existing
from tests.app.conftest import run_page
from tests.app.safety import EVIL, PAYLOAD, hostile_query, link_names
from tests.e2e.conftest import start_server, wait_idle

PAGES = [(p.file, p.url_path) for p in existing()] + [("pages/home.py", "home")]

# every element that can fetch or link somewhere, in the page and in every frame (plotly's SVG included)
_LINKS_JS = """() => [...document.querySelectorAll('[href], [src], [srcset], [poster], [data], [*|href]')]
  .flatMap(e => ['href', 'src', 'srcset', 'poster', 'data', 'xlink:href']
     .map(a => e.getAttribute(a)).filter(v => v).map(v => e.tagName + ' ' + v))"""


@pytest.fixture(scope="module", autouse=True)
def bertviz_js():
    """bertviz's JavaScript from the local cache (fetched from npm at set-up), so that no view needs a CDN."""
    return not bertviz_view.fetch_js()


@contextlib.contextmanager
def watched(browser, base: str):
    """A browser context whose every request is checked: not to `base` -> recorded and aborted."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    left: list[str] = []
    host = urlparse(base).netloc

    def route(r):
        u = urlparse(r.request.url)
        if u.scheme in ("data", "blob", "about") or u.netloc == host:
            return r.continue_()
        left.append(r.request.url)
        return r.abort()
    ctx.route("**/*", route)
    try:
        yield ctx, left
    finally:
        ctx.close()


def _points_outside(base: str, value: str) -> bool:
    """True when an attribute value (a srcset may hold several) leads anywhere but this app. A link back into
    the app may carry the payload in its query string (Pipeline's "open in Generation" passes the prompt on,
    URL-encoded): the next page reads it like any other link value, so it is not a way out."""
    host = urlparse(base).netloc
    for part in value.split(","):
        target = urljoin(base, part.strip().split(" ")[0]) if part.strip() else ""
        u = urlparse(target)
        if u.scheme in ("data", "blob", "about"):
            continue
        if u.scheme not in ("http", "https") or u.netloc != host:
            return True
    return False


def _foreign(page) -> list[str]:
    found = []
    for frame in page.frames:
        try:
            found += [v for v in frame.evaluate(_LINKS_JS)
                      if EVIL in v and _points_outside(page.url, v.split(" ", 1)[1])]
        except Exception:   # a frame that went away while we looked
            continue
    return found


def _visit(ctx, base: str, path: str, query: dict, type_payload: bool = False) -> list[str]:
    page = ctx.new_page()
    page.goto(f"{base}/{path}?{urlencode(query)}", wait_until="domcontentloaded", timeout=120_000)
    wait_idle(page)
    if type_payload:
        boxes = page.locator('[data-testid="stMain"] textarea, [data-testid="stMain"] input[type="text"]')
        if boxes.count():
            boxes.first.fill(PAYLOAD)
            boxes.first.press("Control+Enter")
            wait_idle(page)
    problems = _foreign(page)
    body = page.inner_text("body")
    if "Traceback (most recent call last)" in body:
        problems.append("a traceback is shown")
    page.close()
    return problems


@pytest.mark.parametrize("page_file, path", PAGES, ids=[p for _, p in PAGES])
def test_payloads_in_links_and_text_boxes_make_no_link_image_or_request(server, browser, page_file, path):
    names, options = link_names(page_file, run_page)
    sections = [None] + [(name, opt) for name, opts in options.items() for opt in opts]
    problems = []
    with watched(browser, server) as (ctx, left):
        for section in sections:
            where = f"/{path} {section or 'defaults'}"
            problems += [f"{where}: {p}" for p in _visit(ctx, server, path, hostile_query(names, section),
                                                            type_payload=section is None)]
        problems += [f"request left the page: {u}" for u in left]
    assert not problems, "\n".join(problems)


def test_a_custom_model_id_payload_makes_no_link_or_request(browser, monkeypatch):
    """Where the server allows other models, the link's model ids reach the error sentence: escaped."""
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")
    with start_server() as base, watched(browser, base) as (ctx, left):
        problems = _visit(ctx, base, "attention", {"model": "both", "encoder": PAYLOAD, "decoder": PAYLOAD})
        page = ctx.new_page()
        page.goto(f"{base}/attention?{urlencode({'decoder': PAYLOAD, 'model': 'gpt2'})}", timeout=120_000)
        wait_idle(page)
        assert "neither a folder on this server nor a hub id" in page.inner_text("body")
        problems += _foreign(page)
        problems += [f"request left the page: {u}" for u in left]
    assert not problems, "\n".join(problems)
    assert os.environ["EXPLORER_ALLOW_CUSTOM_MODELS"] == "1"


def test_the_watch_catches_an_image_and_a_request(server, browser):
    """The checks above can fail: an image pointing at the payload's host is seen, and its request is caught."""
    with watched(browser, server) as (ctx, left):
        page = ctx.new_page()
        page.goto(f"{server}/home", wait_until="domcontentloaded", timeout=120_000)
        wait_idle(page)
        page.evaluate("""() => { const i = document.createElement('img');
                                 i.src = 'http://evil.example/probe.png'; document.body.appendChild(i); }""")
        page.wait_for_timeout(1000)
        assert any(EVIL in v for v in _foreign(page))
        assert any(EVIL in u for u in left)
