"""Cached work for the Pipeline page: one traced forward pass per (model, text); stages and sliders only re-draw."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import pipeline


@st.cache_data(max_entries=8, ttl=3600, show_spinner="Running the prompt through the model once, capturing every stage…")
def _trace(key: str, text: str, _lm) -> pipeline.Trace:
    return pipeline.trace(_lm, text)


def trace(lm, text: str) -> pipeline.Trace:
    """The prompt's trace (model key + text key the cache; the model object is not hashed)."""
    return _trace(lm.key, text, lm)


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def _lens(key: str, text: str, position: int, _lm) -> tuple[np.ndarray, np.ndarray]:
    return pipeline.lens_at(_lm.model, trace(_lm, text), position)


def lens_at(lm, text: str, position: int) -> tuple[np.ndarray, np.ndarray]:
    """Logit lens at one position: read from the trace (no forward pass; the unembedding only)."""
    return _lens(lm.key, text, position, lm)


@st.cache_resource(show_spinner=False)
def lesson_trace() -> pipeline.Trace:
    """The lessons' toy decoder run once per process (a few milliseconds, random weights)."""
    return pipeline.lesson_trace()
