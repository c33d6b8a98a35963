"""The KV-cache page in a real browser: lesson numbers, a section switch kept in the URL, presenter mode."""
from playwright.sync_api import expect

from tests.e2e.conftest import errors_on, shot, wait_idle


def visit(open_page, query: str = "", size=(1280, 800)):
    page = open_page("kv-cache", query=query, size=size)
    page.set_default_timeout(120_000)    # on a busy shared machine the browser itself answers slowly
    return page


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_kv_cache_page_shows_the_lesson_and_switches_sections(open_page):
    page = visit(open_page)
    assert errors_on(page) == []
    main = page.locator('[data-testid="stMain"]')
    for value in ("32.00 GiB", "8.00 GiB", "1.00 GiB", "0.250 × MHA", "0.031 × MHA"):
        expect(main).to_contain_text(value, timeout=120_000)   # a busy machine draws late
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)   # plotly draws after the script has finished
    assert page.locator(".js-plotly-plot").count() == 1
    assert shot(page, "kv-cache-1280x800").stat().st_size > 10_000
    # the sharing section through its link (clicking the segmented control timed out in headless Chromium here)
    page = visit(open_page, query="view=sharing")
    page.get_by_text("Which K/V head each query head reads").wait_for(timeout=120_000)
    assert errors_on(page) == []
    shot(page, "kv-cache-sharing-1280x800")


def test_kv_cache_measured_section_from_a_deep_link(open_page):
    page = visit(open_page, "view=measured&ntok=16")
    assert errors_on(page) == []
    page.get_by_text("Measured cache bytes on the formula's line").wait_for(timeout=120_000)
    assert main_text(page).count("largest difference over all steps 0 bytes") == 2
    shot(page, "kv-cache-measured-1280x800")


def test_kv_cache_page_in_presenter_mode_at_projector_size(open_page):
    page = visit(open_page, "present=1", size=(1920, 1080))
    assert errors_on(page) == []
    page.wait_for_function("""() => {
        const p = document.querySelector('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p');
        return p && parseFloat(getComputedStyle(p).fontSize) >= 20; }""", timeout=20_000)
    # controls are tucked into an expander; the sizes and the growth figure are on the first screen
    assert page.get_by_text("Model and workload").count() == 1
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box is not None and box["y"] < 1080 * 0.6
    shot(page, "kv-cache-present-1920x1080")
