"""The home page in a real browser: title, page cards, no error, a screenshot at laptop and projector size."""
from tests.e2e.conftest import errors_on, shot


def test_home_page_opens_without_errors(open_page):
    page = open_page("")
    assert page.title() == "Transformer Explorer"
    assert page.get_by_text("Transformer Explorer").first.is_visible()
    assert errors_on(page) == []
    assert shot(page, "home-1280x800").stat().st_size > 10_000


def test_home_page_in_presenter_mode_at_projector_size(open_page):
    page = open_page("", query="present=1", size=(1920, 1080))
    assert errors_on(page) == []
    # presenter CSS enlarges the body text
    size = page.evaluate("""() => parseFloat(getComputedStyle(
        document.querySelector('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p')).fontSize)""")
    assert size >= 20
    shot(page, "home-present-1920x1080")
