"""A shared link opened as the very first visit after the server starts still gets the app's shell."""
from tests.e2e.conftest import errors_on, shot, start_server, wait_idle
from explorer.ui.nav import existing


def test_first_visit_to_a_page_link_runs_inside_the_app_shell(browser):
    page_info = next(p for p in existing() if p.url_path == "rope")
    with start_server() as url:     # a fresh server: no visit has gone through app.py yet
        ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = ctx.new_page()
        page.goto(f"{url}/{page_info.url_path}?present=1", wait_until="domcontentloaded", timeout=120_000)
        wait_idle(page)
        assert errors_on(page) == []
        # presenter mode from the link took effect: app.py ran (it injects the presenter stylesheet)
        page.wait_for_function("""() => Array.from(document.querySelectorAll('style'))
            .some(s => s.textContent.includes('font-size: 1.35rem'))""", timeout=30_000)
        assert page_info.title.split()[0].lower() in page.locator("h1").first.inner_text().lower()
        shot(page, f"first-visit-{page_info.url_path}-present-1920x1080")
        ctx.close()
