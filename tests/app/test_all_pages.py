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


def _first_visit(page_file: str):
    """A script that runs a page the way Streamlit's pages/-folder mode does on a server's first visit."""
    import runpy

    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager
    if "_first_run" not in st.session_state:
        st.session_state["_first_run"] = True
        PagesManager.uses_pages_directory = True
        runpy.run_path(page_file)                      # a page that asks for the shell reruns from here
        st.session_state["_ran_without_shell"] = True
    else:
        st.session_state["_shell_mode_after_rerun"] = PagesManager.uses_pages_directory


@pytest.mark.parametrize("page", existing(), ids=lambda p: p.url_path)
def test_page_asks_for_the_app_shell_first(page):
    """A deep link opened as a server's first visit must still get the sidebar and presenter mode:
    the page switches Streamlit's pages/-folder mode off and reruns (through app.py's navigation)."""
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import ROOT
    at = AppTest.from_function(_first_visit, args=(str(ROOT / page.file),), default_timeout=180)
    at.run()
    assert "_ran_without_shell" not in at.session_state, f"{page.file} drew itself without asking for the app shell"
    assert at.session_state["_shell_mode_after_rerun"] is False
