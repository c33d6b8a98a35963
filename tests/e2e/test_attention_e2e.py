"""The attention page in a real browser: type, move layer and head, go side by side, click a head, bertviz offline."""
import re
import time

import pytest

from explorer import bertviz_view
from tests.e2e.conftest import errors_on, shot, wait_idle

PLOTS = '[data-testid="stMain"] .js-plotly-plot'


@pytest.fixture(scope="module", autouse=True)
def bertviz_js():
    """The test set-up fetches bertviz's JavaScript from the npm registry into the local cache."""
    return not bertviz_view.fetch_js()


def settle(page):
    wait_idle(page)
    page.wait_for_selector(PLOTS, timeout=60_000)


def slider_to(page, label: str, value: int):
    """Move a Streamlit slider with the keyboard (what a user without a mouse does)."""
    thumb = page.locator(f'[data-testid="stMain"] input[type="range"][aria-label="{label}"]').first
    thumb.focus()
    for _ in range(value - int(thumb.input_value())):
        page.keyboard.press("ArrowRight")
        time.sleep(0.2)
    wait_idle(page)
    assert int(thumb.input_value()) == value


def test_type_a_sentence_change_layer_and_head_then_go_side_by_side(open_page):
    page = open_page("attention", query="model=gpt2")
    settle(page)
    assert page.locator(PLOTS).count() == 1
    box = page.get_by_role("textbox", name="Text")
    box.fill("The quick brown fox jumps over the lazy dog.")
    box.press("Control+Enter")
    wait_idle(page)
    assert "␣dog" in page.locator(PLOTS).first.inner_text()      # the new text, tokenized
    slider_to(page, "Layer", 2)
    slider_to(page, "Head", 1)
    assert "layer 2, head 1" in page.locator(PLOTS).first.inner_text()
    assert re.search(r"layer=2", page.url) and re.search(r"head=1", page.url)
    page.get_by_text("Both, side by side").click()
    settle(page)
    assert page.locator(PLOTS).count() == 2
    assert "Causal mask" in page.inner_text("body") and "Bidirectional" in page.inner_text("body")
    assert errors_on(page) == []
    shot(page, "attention-1280x800")


def test_clicking_a_head_summary_square_opens_that_head(open_page):
    page = open_page("attention", query="model=gpt2&view=summary&stat=previous")
    settle(page)
    points = page.locator(f"{PLOTS} .scatterlayer .point")
    assert points.count() >= 16
    points.nth(6).click(force=True)            # layer 1, head 2 of a 4 x 4 model
    deadline = time.time() + 60
    while time.time() < deadline and "view=summary" in page.url:
        time.sleep(0.5)
    wait_idle(page)
    assert "view=summary" not in page.url and "layer=1" in page.url and "head=2" in page.url
    assert "layer 1, head 2" in page.locator(PLOTS).first.inner_text()
    assert errors_on(page) == []


def test_bertviz_views_draw_without_any_cdn(browser, server, bertviz_js):
    if not bertviz_js:
        pytest.skip("bertviz's JavaScript could not be fetched from the npm registry")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked = []
    ctx.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: (blocked.append(route.request.url), route.abort()))
    try:
        for kind in ["head", "model", "neuron"]:
            page = ctx.new_page()
            page.goto(f"{server}/attention?model=bert&view=bertviz&bv={kind}", wait_until="domcontentloaded", timeout=120_000)
            wait_idle(page)
            page.wait_for_selector('[data-testid="stMain"] iframe', timeout=240_000)
            frame = page.frame_locator('[data-testid="stMain"] iframe').first
            frame.locator("svg").first.wait_for(timeout=120_000)
            deadline = time.time() + 60        # d3 keeps drawing after the first svg appears
            while time.time() < deadline and frame.locator("svg text").count() < 10:
                time.sleep(0.5)
            assert frame.locator("svg text").count() >= 10, kind
            assert errors_on(page) == []
            if kind == "head":
                shot(page, "attention-bertviz-head-1280x900")
        assert not [u for u in blocked if "cdnjs" in u], blocked
    finally:
        ctx.close()


def test_presenter_mode_at_projector_size(open_page):
    page = open_page("attention", query="present=1", size=(1920, 1080))
    settle(page)
    assert page.locator(PLOTS).count() == 2
    assert errors_on(page) == []
    shot(page, "attention-present-1920x1080")
