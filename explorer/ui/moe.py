"""Cached work for the MoE page: the model runs once per (model, text); sliders only re-draw."""
from __future__ import annotations

import streamlit as st

from explorer import moe


@st.cache_data(max_entries=16, show_spinner="Running the model once and recording every router…")
def capture(model_id: str, text: str, max_tokens: int, _lm) -> moe.RoutingCapture:
    """model_id keys the cache (the model itself is not hashed)."""
    return moe.capture(_lm, text, max_tokens)
