"""A shared link opened as the very first visit after the server starts lands on that page, inside the app's
frame. One fresh server per address, so only one address of each kind: a page (/rope), a page whose name has a
dash (/kv-cache), the home page by name (/home).

Streamlit 1.67 serves the pages/ folder (its old multipage mode, page names = file names) until app.py's
st.navigation has run once, so a first visit works only when a page's file is named as its address: every
page file is (tests/unit/test_nav.py)."""
import pytest

from explorer.ui.nav import HOME, existing, page
from tests.e2e.conftest import errors_on, shot, start_server, wait_idle
from tests.e2e.test_entry_points_e2e import _in_shell


def addresses():
    out = [pytest.param(page("rope"), "rope", id="rope"), pytest.param(HOME, "home", id="home"),
           pytest.param(page("kv-cache"), "kv-cache", id="kv-cache")]
    return [p for p in out if p.values[0] is HOME or p.values[0] in existing()]


@pytest.mark.parametrize("page_info,address", addresses())
def test_first_visit_to_a_page_link_runs_inside_the_app_shell(browser, page_info, address):
    with start_server() as url:     # a fresh server: no visit has gone through app.py yet
        ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = ctx.new_page()
        page.goto(f"{url}/{address}?present=1", wait_until="domcontentloaded", timeout=120_000)
        wait_idle(page)
        assert errors_on(page) == []
        # presenter mode from the link took effect: app.py ran (it injects the presenter stylesheet)
        page.wait_for_function("""() => Array.from(document.querySelectorAll('style'))
            .some(s => s.textContent.includes('font-size: 1.35rem'))""", timeout=30_000)
        title = page.locator("h1").first.inner_text().lower()
        expected = "transformer explorer" if page_info is HOME else page_info.title.split()[0].lower()
        assert expected in title, f"/{address} showed {title!r}"
        assert _in_shell(page), f"/{address}: no app sidebar, or 'Page not found'"
        shot(page, f"first-visit-{address}-present-1920x1080")
        ctx.close()
