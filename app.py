"""Transformer Explorer — entry point:  streamlit run app.py"""
from __future__ import annotations

import streamlit as st

from explorer.ui import models as ui_models
from explorer.ui import presenter
from explorer.ui.nav import existing
from explorer.ui.state import UrlState

st.set_page_config(page_title="Transformer Explorer", page_icon="🔭", layout="wide",
                   initial_sidebar_state="collapsed" if st.query_params.get("present") == "1" else "auto")

pages = [st.Page("pages/home.py", title="Home", icon="🏠", url_path="home", default=True)]
pages += [st.Page(p.file, title=p.title, icon=p.icon, url_path=p.url_path) for p in existing()]
nav = st.navigation(pages)

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
nav.run()
