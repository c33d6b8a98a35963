"""Cached work for the KV-cache page: a model decodes once per (model, tokens, batch); sliders only re-draw."""
from __future__ import annotations

import streamlit as st

from explorer import kvcache


@st.cache_data(max_entries=16, show_spinner="Decoding token by token and reading the real cache…")
def measure(model_id: str, n_tokens: int, batch: int, _lm) -> kvcache.Measurement:
    """model_id keys the cache (the model itself is not hashed)."""
    return kvcache.measure(_lm.model, model_id, n_tokens, batch)
