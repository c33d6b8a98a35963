"""Cached work of the families page (one pass per (model, input), so sliders and selectors only re-draw) and the
controls its sections share (layer and head, the few-shot set from the link and its editor).

Real attention of the encoder and the decoder comes from the attention page's cache
(explorer.ui.attention.compute) and fill-mask from the generation page's (explorer.ui.generation);
what is new here is the encoder-decoder run, one next-token step and the few-shot evaluation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer import families as F
from explorer import generation as G
from explorer.ui.editor import url_table
from explorer.ui.state import UrlState, notice
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


# ------------------------------------------------------------------ controls the page's sections share
def layer_head(url: UrlState, n_layers: int, n_heads: int, cols) -> tuple[int, int | None]:
    """Layer slider and head select (both in the link) in two given columns; head None = the mean of the heads."""
    url.int("layer", n_layers - 1, lo=0, hi=max(0, n_layers - 1))
    heads = ["mean"] + [str(h) for h in range(n_heads)]
    url.choice("head", "mean", heads)
    with cols[0]:
        layer = st.slider("Layer", 0, max(1, n_layers - 1), key=url.key("layer"), disabled=n_layers == 1)
    with cols[1]:
        head = st.selectbox("Head", heads, key=url.key("head"),
                            format_func=lambda h: "mean of all heads" if h == "mean" else f"head {h}")
    return min(layer, n_layers - 1), (None if head == "mean" else int(head))


def labelled_set(url: UrlState) -> tuple[tuple[F.Example, ...], tuple[F.Example, ...], str]:
    """(shots, test messages, the set as text) from the link's `set`; a bad value falls back with a notice."""
    url.text("set", F.DEFAULT_SET, max_chars=(F.MAX_MESSAGE_CHARS + 12) * (F.MAX_SHOTS_IN_SET + F.MAX_TEST_IN_SET))
    try:
        shots, test = F.parse_set(st.session_state[url.key("set")])
    except ValueError as e:
        notice(f"Ignored the link's `set` value ({e}); using the lessons' set.")
        url.set("set", F.DEFAULT_SET)
        shots, test = F.parse_set(F.DEFAULT_SET)
    return shots, test, F.format_set(shots, test)


def set_editor(url: UrlState, set_text: str) -> None:
    """The labelled set as an editable table (its text in the link) and a button back to the lessons' set."""
    rows = F.set_table(set_text)

    def fold(edits: dict) -> str | None:
        text, notes = F.set_from_table(rows, edits)
        for n in notes:
            notice(n)
        return text

    col = st.column_config
    url_table(url, "set", pd.DataFrame(rows), fold, what="your edit of the set", num_rows="dynamic",
              hide_index=True, width="stretch", column_config={
                  "use as": col.SelectboxColumn("use as", options=["example", "test"], required=True),
                  "label": col.SelectboxColumn("label", options=list(F.LABELS), required=True),
                  "message": col.TextColumn("message", max_chars=F.MAX_MESSAGE_CHARS, required=True)})
    st.button("↺ The lessons' set", key="fam_set_reset", on_click=lambda: url.set("set", F.DEFAULT_SET),
              disabled=set_text == F.DEFAULT_SET)
