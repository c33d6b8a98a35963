"""Cached work for the KV-cache page: a model decodes once per (model, tokens, batch); sliders only re-draw."""
from __future__ import annotations

import streamlit as st

from explorer import kvcache


@st.cache_data(max_entries=16, show_spinner="Decoding token by token and reading the real cache…")
def _measure(key: str, n_tokens: int, batch: int, _lm) -> kvcache.Measurement:
    return kvcache.measure(_lm, n_tokens, batch)


def measure(lm, n_tokens: int, batch: int) -> kvcache.Measurement:
    """Keyed by lm.key (the model itself is not hashed)."""
    return _measure(lm.key, n_tokens, batch, lm)
