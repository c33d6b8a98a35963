"""Cached work of the families page (one pass per (model, input), so sliders and selectors only re-draw), the
controls its sections share (layer and head, the few-shot set from the link and its editor) and two of its blocks
(each objective's prediction, the lesson's example, the few-shot report).

Real attention of the encoder and the decoder comes from the attention page's cache
(explorer.ui.attention.compute) and fill-mask from the generation page's (explorer.ui.generation);
what is new here is the encoder-decoder run, one next-token step and the few-shot evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from explorer import families as F
from explorer import generation as G
from explorer.charts import families as charts
from explorer.charts.generation import mask_candidates
from explorer.text import md
from explorer.ui import models
from explorer.ui.editor import url_table
from explorer.ui.figures import show, table
from explorer.ui.presenter import presenting
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


@dataclass
class Prediction:
    """What the encoder or the decoder predicts for the sentence's blank."""
    candidates: list[str]      # most likely first
    probs: np.ndarray
    what: str                  # the figure's title: "the first [MASK]", "next token (left side only)"
    notice: str | None = None  # what was cut from the text, if anything


def blank_prediction(lm, family: str, text: str, k: int) -> Prediction | str:
    """The encoder fills the first [MASK] from both sides; the decoder predicts the next token after the words before
    it. Returns the prediction, or a sentence saying what to change in the text."""
    if family == "encoder":
        if G.MASK_IN_TEXT not in text:
            return "Put `[MASK]` in the sentence: the encoder predicts the hidden word from both sides."
        fm = fill_mask(lm, text, k)
        if not fm.masks:
            return "The [MASK] was cut off with the end of the text; put it earlier."
        return Prediction(fm.masks[0].candidates, fm.masks[0].probs, "the first [MASK]")
    enc = F.left_of_mask(lm, text, G.MASK_IN_TEXT)
    if enc is None:
        return "The decoder reads only what comes before `[MASK]`, and nothing does: put some words before it."
    tokens, probs = next_token(lm, enc.ids)
    return Prediction(tokens[:k], probs[:k], "next token (left side only)", enc.notice)


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


# ------------------------------------------------------------------ blocks of the page
def model_note(family: str) -> None:
    """Which model of the family the sidebar chose (its name escaped: a custom model's id is a visitor's text)."""
    st.caption(f"Model: {md(models.label(models.chosen(family)), 80)} (change it in the sidebar)")


OBJECTIVES = {     # family: its heading, its figure's name, why it cannot do the other's job
    "encoder": ("**Encoder: fill the blank** (both sides)", "families fill mask",
                "Why it cannot write left to right: it was trained to fill blanks with the whole sentence in view, "
                "never to continue a text whose end does not exist yet."),
    "decoder": ("**Decoder: the next token** (left side only)", "families next token",
                "Why it cannot look ahead: its mask hides every later token, so the words after [MASK] do not "
                "exist for it — compare its guesses with the encoder's.")}


def objective(page, family: str, text: str, k: int) -> None:
    """The encoder's or the decoder's guesses for the blank (its k most likely), and why it cannot do the other's
    job; `page`: the page's scaffold (its sidebar model, its notes)."""
    heading, name, why = OBJECTIVES[family]
    st.markdown(heading)
    lm = page.model(family)
    if lm is None:
        return
    pred = blank_prediction(lm, family, text, k)
    if isinstance(pred, str):                  # nothing to predict: what to change in the sentence
        st.info(pred)
        return
    page.note(pred.notice)
    show(mask_candidates(pred.candidates, pred.probs, pred.what), name, height=320,
         data={"candidate": pred.candidates, "probability": pred.probs})
    model_note(family)
    st.caption(why)


def lesson_example() -> None:
    """The lesson's `<bos> refund approved <eos>` under both masks (folded in presenter mode), with the row of
    *approved* spelled out."""
    ex = F.lesson_example()
    with st.expander("The lesson's example: `<bos> refund approved <eos>`", expanded=not presenting()):
        c1, c2 = st.columns([3, 2], vertical_alignment="center")
        with c1:
            show(charts.lesson_masks(ex.masks(), ex.tokens), "families lesson masks", height=360, data=ex.table())
        c2.markdown(ex.note())


def few_shot_report(report: F.FewShotReport, title: str, slot) -> None:
    """The accuracy per number of shots in `slot` (the page's main figure), the verdict and the summary beside it,
    every order message by message under them."""
    c1, c2 = slot.columns([3, 2])
    with c1:
        show(charts.few_shot_accuracy(*report.by_shots(), report.chance, title), "families few shot accuracy",
             data=report.table())
    with c2:
        verdict = report.verdict()
        above = verdict.startswith("Above")
        (st.success if above else st.warning)(verdict, icon="🎯" if above else "🎲")
        table(pd.DataFrame(report.summary()), hide_index=True, width="stretch")
        for note in report.notes():
            st.caption(note)
    with st.expander("Every order, message by message"):
        table(pd.DataFrame(report.per_order()), hide_index=True, width="stretch")
