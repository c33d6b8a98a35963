"""Make sure every page runs inside app.py's shell (sidebar, presenter mode, navigation).

Streamlit decides per process whether the app uses the old `pages/` folder mode; until app.py's
`st.navigation` has run once, a first visit straight to `/<page>` (a shared deep link opened right
after the server started) runs `pages/<page>.py` alone: no sidebar, no presenter mode. Each page
calls `ensure_app_shell()` first; in that case it switches Streamlit to `st.navigation` mode and
runs again, now through app.py, on the same page with the same link parameters.
"""
from __future__ import annotations

import streamlit as st


def ensure_app_shell() -> None:
    from streamlit.runtime.pages_manager import PagesManager
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
