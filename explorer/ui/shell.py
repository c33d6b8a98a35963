"""Make sure every page runs inside app.py's shell (sidebar, presenter mode, navigation).

Streamlit decides per process whether the app uses the old `pages/` folder mode; until app.py's
`st.navigation` has run once, a first visit straight to `/<page>` (a shared deep link opened right
after the server started) runs `pages/<page>.py` alone: no sidebar, no presenter mode. Each page
calls `ensure_app_shell()` first; in that case it switches Streamlit to `st.navigation` mode and
runs again, now through app.py, on the same page with the same link parameters.

This flips a private Streamlit attribute: there is no public switch in the pinned Streamlit. It is kept only
for the exact version it was checked against (STREAMLIT_CHECKED, equal to the pin in requirements.txt:
tests/unit/test_streamlit_shell.py fails when the pin moves) and proven by
tests/e2e/test_deep_link_first_visit_e2e.py. The cloud entry (cloud/streamlit_app.py) has no `pages/`
folder beside it, so it never takes the old mode.
"""
from __future__ import annotations

import streamlit as st

STREAMLIT_CHECKED = "1.67.0"


def ensure_app_shell() -> None:
    # Streamlit 1.67: PagesManager.uses_pages_directory is set per process from "a pages/ folder exists beside
    # the main script" and only st.navigation clears it; until then the first visit runs the page alone (MPA v1).
    from streamlit.runtime.pages_manager import PagesManager
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
