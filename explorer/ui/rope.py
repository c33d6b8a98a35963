"""Cached work for the RoPE page: the model's forward pass runs once per (model, text); sliders only re-draw."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from explorer import rope


@st.cache_data(max_entries=8, show_spinner="Running the model once and capturing q and k…")
def _capture(key: str, text: str, max_tokens: int, _lm) -> tuple[rope.RopeCapture, rope.RopeCheck]:
    """Keyed by lm.key (the model itself is not hashed); returns the capture and our check of it.

    Only the pre-rotary q and k and the check's errors are kept: the page rotates the one head it shows
    (cheap), and dropping the model's attention, cache keys and our rotated copies keeps a 135M-model
    entry at ~6 MB instead of ~17 MB.
    """
    cap = rope.capture(_lm, text, max_tokens)
    check = rope.reproduce(cap)
    return replace(cap, attn=None, k_model=None), replace(check, q_rot=None, k_rot=None)


def capture(lm, text: str, max_tokens: int) -> tuple[rope.RopeCapture, rope.RopeCheck]:
    return _capture(lm.key, text, max_tokens, lm)


@st.cache_data(max_entries=4, show_spinner=False)
def _position_cosines(key: str, _lm) -> np.ndarray:
    return rope.cosine_matrix(rope.learned_positions(_lm.model)).astype(np.float32)


def position_cosines(lm) -> np.ndarray:
    """Cosine similarity of every pair of GPT-2's learned position embeddings -> float32 [n_positions, n_positions]."""
    return _position_cosines(lm.key, lm)
