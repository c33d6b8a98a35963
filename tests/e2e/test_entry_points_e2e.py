"""Entry points as people open them: Community Cloud's main file path, and the home page's own name."""
from tests.e2e.conftest import errors_on, start_server, wait_idle
from explorer.ui.nav import existing


def _in_shell(page) -> bool:
    """The app's own sidebar (presenter toggle) is there, and Streamlit's 'Page not found' is not."""
    return page.get_by_text("Presenter mode").count() > 0 and page.get_by_text("Page not found").count() == 0


def test_cloud_entry_point_serves_every_page(browser):
    # as Community Cloud starts it: `streamlit run cloud/streamlit_app.py` from the repository root
    with start_server("cloud/streamlit_app.py") as url:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        for path in [""] + [p.url_path for p in existing()]:
            page = ctx.new_page()
            page.goto(f"{url}/{path}", wait_until="domcontentloaded", timeout=120_000)
            wait_idle(page)
            assert errors_on(page) == [], path
            assert page.locator("h1").count(), f"/{path} drew no title"
            assert _in_shell(page), path
            page.close()
        ctx.close()


def test_home_by_name_as_the_first_and_a_later_visit(browser):
    with start_server() as url:        # fresh server: /home is its very first visit
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        for _ in range(2):
            page = ctx.new_page()
            page.goto(f"{url}/home", wait_until="domcontentloaded", timeout=120_000)
            wait_idle(page)
            assert errors_on(page) == []
            assert "Transformer Explorer" in page.locator("h1").first.inner_text()
            assert _in_shell(page)
            page.close()
        ctx.close()
