"""Transformer Explorer — entry point:  streamlit run app.py"""
from __future__ import annotations

import streamlit as st

from explorer import runtime
from explorer.ui import models as ui_models
from explorer.ui import presenter
from explorer.ui import queue
from explorer.ui import tour
from explorer.ui.errors import guard
from explorer.ui.nav import HOME, existing
from explorer.ui.state import UrlState

runtime.configure()          # torch threads: once per process, never per request
st.set_page_config(page_title="Transformer Explorer", page_icon="🔭", layout="wide",
                   initial_sidebar_state="collapsed" if st.query_params.get("present") == "1" else "auto")

# The default page is served at "/" (its own url_path is never shown); a hidden twin answers "/home", so a
# link to the home page by name works too. Paths are absolute: the entry script may be cloud/streamlit_app.py.
pages = [st.Page(HOME.path, title=HOME.title, icon=HOME.icon, url_path="index", default=True),
         st.Page(HOME.path, title=HOME.title, icon=HOME.icon, url_path=HOME.url_path, visibility="hidden")]
pages += [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in existing()]
nav = st.navigation(pages)
tour.bar(nav)   # a lesson tour's bar (and its step's view) when the link or the session runs one

url = UrlState()
with st.sidebar:
    url.flag(presenter.KEY, False)
    st.toggle("Presenter mode", key=presenter.KEY,
              help="Large type, light high-contrast look, explanations collapsed. Link: ?present=1")
    st.subheader("Models")
    for family in ui_models.URL_NAMES:
        ui_models.sidebar_choice(family, url)
    ui_models.custom_inputs()
presenter.apply()
url.sync()
try:
    with guard("this page", failures=False), queue.waiting_notice():   # never a traceback; a wait shows its place
        nav.run()
finally:
    runtime.settle()   # new modules' objects join the frozen heap; else a full collection when one is due
