"""Cached work for the MoE page: the model runs once per (model, text); sliders only re-draw."""
from __future__ import annotations

import streamlit as st

from explorer import moe


@st.cache_data(max_entries=16, show_spinner="Running the model once and recording every router…")
def _capture(key: str, text: str, max_tokens: int, _lm) -> moe.RoutingCapture:
    return moe.capture(_lm, text, max_tokens)


def capture(lm, text: str, max_tokens: int) -> moe.RoutingCapture:
    """Keyed by lm.key (the model itself is not hashed)."""
    return _capture(lm.key, text, max_tokens, lm)
