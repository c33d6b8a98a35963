"""The RoPE page in a real browser: the 2-D lesson, the animation, the real model, presenter mode at projector size."""
import time

from tests.e2e.conftest import errors_on, shot, wait_idle


def _settle_app(open_page):
    # a deep link that is the server's very first visit runs the page file without app.py's navigation
    # (Streamlit's pages/ folder discovery); a visit to the root first makes every test see the real app
    open_page("")


def test_rope_2d_lesson_shows_the_computed_score_and_animates(open_page):
    _settle_app(open_page)
    page = open_page("rope")
    assert errors_on(page) == []
    assert page.get_by_text("0.936998").first.is_visible()
    assert page.get_by_text("-0.794779").first.is_visible()
    # the animation runs in the browser (plotly frames): press play and the slider leaves frame 0
    page.get_by_text("▶ shift both positions").first.click()
    time.sleep(2.5)
    assert "shift +0" not in page.inner_text('[data-testid="stPlotlyChart"] >> nth=0')
    assert shot(page, "rope-1280x800").stat().st_size > 10_000


def test_rope_real_model_section_matches_the_model(open_page):
    _settle_app(open_page)
    page = open_page("rope", query="view=model&pairs=0,1,15")
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=120_000)
    wait_idle(page)
    assert errors_on(page) == []
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert float(values[0]) < 1e-5 and float(values[1]) < 1e-5
    shot(page, "rope-model-1280x800")


def test_rope_in_presenter_mode_at_projector_size(open_page):
    _settle_app(open_page)
    page = open_page("rope", query="present=1&view=extend", size=(1920, 1080))
    assert errors_on(page) == []
    size = page.evaluate("""() => parseFloat(getComputedStyle(
        document.querySelector('[data-testid="stMain"] h1')).fontSize)""")
    assert size >= 40
    shot(page, "rope-present-1920x1080")
