"""Presenter mode: large type, a light high-contrast look, explanations tucked away.

Turned on by the sidebar toggle or `?present=1`; read anywhere with `presenting()`.
"""
from __future__ import annotations

import streamlit as st

KEY = "present"

_CSS = """
<style>
html, body, [data-testid="stApp"] { background: #ffffff !important; color: #000000 !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] { font-size: 1.35rem !important; }
[data-testid="stMain"] h1 { font-size: 3.0rem !important; }
[data-testid="stMain"] h2 { font-size: 2.3rem !important; }
[data-testid="stMain"] h3 { font-size: 1.9rem !important; }
[data-testid="stWidgetLabel"] p { font-size: 1.3rem !important; font-weight: 600; }
[data-testid="stMain"] button p { font-size: 1.3rem !important; }
[data-testid="stMain"] .block-container { max-width: 100% !important; padding-top: 2.5rem !important; }
[data-testid="stSidebar"] { background: #f2f2f2 !important; }
[data-testid="stMain"] [data-testid="stTable"] td, [data-testid="stMain"] [data-testid="stTable"] th { font-size: 1.25rem !important; }
[data-testid="stCaptionContainer"] { color: #222222 !important; font-size: 1.15rem !important; }
[data-testid="stMain"] [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMetricValue"] div { font-size: 2.8rem !important; line-height: 1.2; }
[data-testid="stMain"] [data-testid="stMetricDelta"], [data-testid="stMain"] [data-testid="stMetricDelta"] div,
[data-testid="stMain"] [data-testid="stMetricLabel"] p { font-size: 1.2rem !important; color: #111111 !important; }
/* inputs, selects, number inputs, text areas: what the teacher types must be readable from the back row */
[data-testid="stMain"] input, [data-testid="stMain"] textarea,
[data-testid="stMain"] [data-baseweb="select"] div, [data-testid="stMain"] [data-baseweb="select"] span {
  font-size: 1.25rem !important; color: #111111 !important; }
[data-testid="stMain"] [data-testid="stSliderThumbValue"], [data-testid="stMain"] [data-testid="stSliderTickBarMin"],
[data-testid="stMain"] [data-testid="stSliderTickBarMax"] { font-size: 1.15rem !important; color: #111111 !important; }
/* slider value above its thumb, not on the track */
[data-testid="stMain"] [data-testid="stSliderThumbValue"] { margin-top: -0.6rem; }
/* room for that value between the (larger) label and the track: it sat on the label's last line */
[data-testid="stMain"] [data-testid="stSlider"] [data-testid="stWidgetLabel"] { margin-bottom: 1.1rem; }
[data-testid="stMain"] [data-testid="stTable"] td, [data-testid="stMain"] [data-testid="stTable"] th,
[data-testid="stMain"] table td, [data-testid="stMain"] table th { font-size: 1.2rem !important; color: #111111 !important; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p, [data-testid="stMain"] small,
[data-testid="stMain"] [data-testid="stTooltipIcon"] + p { color: #222222 !important; font-size: 1.15rem !important; }
[data-testid="stMain"] [data-testid="stExpander"] summary p { font-size: 1.3rem !important; }
[data-testid="stMain"] [data-testid="stAlertContainer"] p { font-size: 1.25rem !important; }
/* Streamlit 1.67 fades captions with opacity 0.6 on the container: on a projector (and for axe) that is #7a7a7a */
[data-testid="stMain"] [data-testid="stCaptionContainer"] { opacity: 1 !important; }
</style>
"""


# Both modes: less empty space above the title (Streamlit's 6rem), so that the main figure reaches the first screen.
_LAYOUT_CSS = """
<style>
[data-testid="stMain"] .block-container { padding-top: 3rem !important; }
</style>
"""


def presenting() -> bool:
    return bool(st.session_state.get(KEY, False))


def apply() -> None:
    """Inject presenter CSS (our own static stylesheet; user text never goes through here)."""
    st.markdown(_CSS if presenting() else _LAYOUT_CSS, unsafe_allow_html=True)


def explain(markdown: str, title: str = "What am I looking at?") -> None:
    """A short explanation: shown under the figure normally, collapsed in presenter mode."""
    if presenting():
        with st.expander(title, expanded=False):
            st.markdown(markdown)
    else:
        st.caption(markdown)
