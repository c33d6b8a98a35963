"""The MoE page in a real browser: the toy router's numbers, the real model's routing, presenter mode at 1920x1080."""
from tests.e2e.conftest import errors_on, shot, wait_idle


def _settle_app(open_page):
    # a deep link that is the server's very first visit runs the page file without app.py's navigation
    # (Streamlit's pages/ folder discovery); a visit to the root first makes every test see the real app
    open_page("")


def test_moe_toy_router_shows_the_lesson_weights(open_page):
    _settle_app(open_page)
    page = open_page("moe")
    page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=300_000)
    assert errors_on(page) == []
    # the tables are drawn on a canvas; the Sankey's expert labels carry the weights as SVG text
    sankey = page.locator('[data-testid="stPlotlyChart"]').first.text_content()
    for label in ("returns: refund 0.87", "catalog: refund 0.13, delayed 0.182", "shipping: delayed 0.818"):
        assert label in sankey
    assert shot(page, "moe-1280x800").stat().st_size > 10_000


def test_moe_real_routing_and_presenter_mode_at_projector_size(open_page):
    _settle_app(open_page)
    page = open_page("moe", query="view=model&layer=1&cf=0.75", size=(1920, 1080))
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=300_000)
    wait_idle(page)
    assert errors_on(page) == []
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 4
    shot(page, "moe-model-1920x1080")
    page = open_page("moe", query="present=1&view=size", size=(1920, 1080))
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=300_000)
    assert errors_on(page) == []
    size = page.evaluate("""() => parseFloat(getComputedStyle(
        document.querySelector('[data-testid="stMain"] h1')).fontSize)""")
    assert size >= 40
    assert page.get_by_text("46.7B").first.is_visible()
    shot(page, "moe-present-1920x1080")
