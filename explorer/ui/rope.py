"""Cached work for the RoPE page: the model's forward pass runs once per (model, text); sliders only re-draw."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import rope


@st.cache_data(max_entries=16, show_spinner="Running the model once and capturing q and k…")
def capture(model_id: str, text: str, max_tokens: int, _lm) -> tuple[rope.RopeCapture, rope.RopeCheck]:
    """model_id keys the cache (the model itself is not hashed); returns the capture and our reproduction."""
    cap = rope.capture(_lm, text, max_tokens)
    return cap, rope.reproduce(cap)


@st.cache_data(max_entries=4, show_spinner=False)
def position_cosines(model_id: str, _lm) -> np.ndarray:
    """Cosine similarity of every pair of GPT-2's learned position embeddings -> float32 [n_positions, n_positions]."""
    return rope.cosine_matrix(rope.learned_positions(_lm.model)).astype(np.float32)
