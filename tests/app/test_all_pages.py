"""Every page of the app runs with its defaults, without exception or error box, and has a title."""
import pytest

from explorer.ui.nav import existing
from tests.app.conftest import assert_clean, run_page


@pytest.mark.parametrize("page", existing(), ids=lambda p: p.url_path)
def test_page_runs_clean_with_defaults(page):
    at = run_page(page.file)
    assert_clean(at)
    assert at.title, f"{page.file} has no title"


@pytest.mark.parametrize("page", existing(), ids=lambda p: p.url_path)
def test_page_runs_clean_in_presenter_mode_with_junk_parameters(page):
    at = run_page(page.file, query={"present": "1", "layer": "-5", "head": "abc", "text": "<b>x</b>\x00",
                                    "zzz": "1" * 300})
    assert_clean(at)


@pytest.mark.parametrize("page", existing(), ids=lambda p: p.url_path)
def test_page_asks_for_the_app_shell_first(page):
    """A deep link opened as a server's first visit must still get the sidebar and presenter mode."""
    from tests.app.conftest import ROOT
    source = (ROOT / page.file).read_text()
    assert "ensure_app_shell()" in source.split("st.title(")[0], f"{page.file} must call ensure_app_shell() before drawing"
