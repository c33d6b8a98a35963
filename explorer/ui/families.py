"""Cached work of the families page: one pass per (model, input), so sliders and selectors only re-draw.

Real attention of the encoder and the decoder comes from the attention page's cache
(explorer.ui.attention.compute) and fill-mask from the generation page's (explorer.ui.generation);
what is new here is the encoder-decoder run, one next-token step and the few-shot evaluation.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import families as F
from explorer import generation as G
from explorer.ui.attention import compute as attention   # noqa: F401  (re-exported for the page)
from explorer.ui.generation import fill_mask              # noqa: F401


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Running the encoder-decoder…")
def _seq2seq(key: str, text: str, max_input: int, max_new: int, _lm) -> F.Seq2SeqRun:
    return F.run_seq2seq(_lm.model, _lm.tokenizer, text, max_input, max_new)


def seq2seq(lm, text: str, max_input: int, max_new: int) -> F.Seq2SeqRun:
    return _seq2seq(lm.key, text, int(max_input), int(max_new), lm)


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Predicting the next token…")
def _next_token(key: str, ids: tuple[int, ...], _lm) -> tuple[list[str], np.ndarray]:
    trace = G.Generation(_lm, list(ids), G.Sampling(greedy=True), max_new_tokens=1).step(_lm)
    return trace.tokens, trace.p_model


def next_token(lm, ids: list[int]) -> tuple[list[str], np.ndarray]:
    """The decoder's top candidates (most likely first) and their probabilities after `ids`."""
    return _next_token(lm.key, tuple(ids), lm)


@st.cache_data(max_entries=8, ttl=3600, show_spinner="Classifying every test message after every order of the "
                                                     "examples…")
def _few_shot(key: str, set_text: str, _lm) -> F.FewShotReport:
    shots, test = F.parse_set(set_text)
    return F.few_shot_accuracy(_lm.model, _lm.tokenizer, shots, test)


def few_shot(lm, set_text: str) -> F.FewShotReport:
    return _few_shot(lm.key, set_text, lm)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def _classify(key: str, message: str, shots: tuple[F.Example, ...], _lm) -> F.LabelScores:
    return F.classify(_lm.model, _lm.tokenizer, message, shots)


def classify(lm, message: str, shots: tuple[F.Example, ...]) -> F.LabelScores:
    return _classify(lm.key, message, tuple(shots), lm)
