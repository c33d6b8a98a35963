"""The home page in a real browser: title, page cards, no error, a screenshot at laptop and projector size."""
from tests.e2e.conftest import errors_on, shot


def test_home_page_opens_without_errors(open_page):
    page = open_page("")
    assert page.title() == "Transformer Explorer"
    assert "Transformer Explorer" in page.locator("h1").first.inner_text()
    assert errors_on(page) == []
    assert shot(page, "home-1280x800").stat().st_size > 10_000


def test_home_page_in_presenter_mode_at_projector_size(open_page):
    page = open_page("", query="present=1", size=(1920, 1080))
    assert errors_on(page) == []
    # presenter CSS enlarges the body text (fails by timeout if it never does)
    page.wait_for_function("""() => {
        const p = document.querySelector('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p');
        return p && parseFloat(getComputedStyle(p).fontSize) >= 20; }""", timeout=20_000)
    shot(page, "home-present-1920x1080")
