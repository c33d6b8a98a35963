"""The efficient-attention page in a real browser: the tiling animation played to its end, the real model's
window, presenter mode at projector size."""
import re

from playwright.sync_api import expect

from tests.e2e.conftest import errors_on, shot


def visit(open_page, query: str = "", size=(1280, 800)):
    page = open_page("efficient", query=query, size=size)
    page.set_default_timeout(120_000)    # on a busy shared machine the browser itself answers slowly
    return page


def test_tiling_animation_plays_to_the_end(open_page):
    page = visit(open_page, "view=tiles&tile=0&speed=8")
    assert errors_on(page) == []
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Step 0 of 10: nothing computed yet", timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    page.get_by_role("button", name="▶ Play").click()
    expect(page.get_by_role("button", name="⏸ Pause")).to_be_visible(timeout=60_000)
    expect(main).to_contain_text(re.compile(r"Step [1-9] of 10"), timeout=60_000)     # it moves on its own
    expect(main).to_contain_text("Step 10 of 10: query tile 3 × key tile 3", timeout=120_000)
    expect(page.get_by_role("button", name="▶ Play")).to_be_visible(timeout=60_000)    # stopped at the end
    expect(main).to_contain_text("max |tiled − standard|", timeout=60_000)
    assert "tile=" not in page.url                       # the end is the default view: the link is short again
    assert errors_on(page) == []
    shot(page, "efficient-tiles-end-1280x800")


def test_real_model_with_a_window_from_a_deep_link(open_page):
    page = visit(open_page, "view=model&mwin=3")
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("exactly zero", timeout=120_000)
    expect(main).to_contain_text("The KV cache stops growing at the window", timeout=120_000)
    assert errors_on(page) == []
    assert page.locator(".js-plotly-plot").count() == 3
    shot(page, "efficient-model-1280x800")


def test_presenter_mode_at_projector_size_keeps_the_figure_on_the_first_screen(open_page):
    page = visit(open_page, "present=1&view=tiles", size=(1920, 1080))
    assert errors_on(page) == []
    page.wait_for_function("""() => {
        const cap = document.querySelector('[data-testid="stMain"] [data-testid="stCaptionContainer"] p');
        const h1 = document.querySelector('[data-testid="stMain"] h1');
        return cap && h1 && parseFloat(getComputedStyle(cap).fontSize) >= 18
            && parseFloat(getComputedStyle(h1).fontSize) >= 40; }""", timeout=60_000)
    assert page.get_by_text("Settings").count() == 1      # the controls are tucked into an expander
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box is not None and box["y"] < 1080 * 0.6
    shot(page, "efficient-present-1920x1080")
