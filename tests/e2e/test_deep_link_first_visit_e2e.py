"""A shared link opened as the very first visit after the server starts lands on that page, inside the app's
frame: every page by its own name (and by its file's name where that differs, e.g. /kv_cache), one fresh server
each."""
from pathlib import Path

import pytest

from explorer.ui.nav import HOME, existing
from tests.e2e.conftest import errors_on, shot, start_server, wait_idle
from tests.e2e.test_entry_points_e2e import _in_shell


def addresses():
    out = []
    for p in [HOME] + existing():
        out.append((p, p.url_path))
        if Path(p.file).stem != p.url_path and p is not HOME:
            out.append((p, Path(p.file).stem))
    return out


@pytest.mark.parametrize("page_info,address", addresses(), ids=lambda v: v if isinstance(v, str) else "")
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
