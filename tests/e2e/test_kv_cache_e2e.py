"""The KV-cache page in a real browser: lesson numbers, a section switch kept in the URL, presenter mode."""
from tests.e2e.conftest import errors_on, shot, wait_idle


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_kv_cache_page_shows_the_lesson_and_switches_sections(open_page):
    page = open_page("kv-cache")
    assert errors_on(page) == []
    text = main_text(page)
    for value in ("32.00 GiB", "8.00 GiB", "1.00 GiB", "0.250 × MHA", "0.031 × MHA"):
        assert value in text
    assert page.locator(".js-plotly-plot").count() == 1
    assert shot(page, "kv-cache-1280x800").stat().st_size > 10_000
    page.get_by_role("button", name="② Sharing").click()
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('view=sharing')", timeout=30_000)
    assert "Which K/V head each query head reads" in page.inner_text("body")
    assert errors_on(page) == []
    shot(page, "kv-cache-sharing-1280x800")


def test_kv_cache_measured_section_from_a_deep_link(open_page):
    page = open_page("kv-cache", query="view=measured&ntok=16")
    assert errors_on(page) == []
    assert main_text(page).count("largest difference over all steps 0 bytes") == 2
    shot(page, "kv-cache-measured-1280x800")


def test_kv_cache_page_in_presenter_mode_at_projector_size(open_page):
    page = open_page("kv-cache", query="present=1", size=(1920, 1080))
    assert errors_on(page) == []
    page.wait_for_function("""() => {
        const p = document.querySelector('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p');
        return p && parseFloat(getComputedStyle(p).fontSize) >= 20; }""", timeout=20_000)
    # controls are tucked into an expander; the sizes and the growth figure are on the first screen
    assert page.get_by_text("Model and workload").count() == 1
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box is not None and box["y"] < 1080 * 0.6
    shot(page, "kv-cache-present-1920x1080")
