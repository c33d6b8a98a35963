"""Streamlit-aware state of the generation page: decoding runs that survive reruns and page switches.

A run (explorer.generation.Generation) lives in st.session_state under RUNS, keyed by model,
prompt ids and sampling settings; the few most recent are kept, so going back to earlier settings
finds its tokens and branches again. Only the active branch of a run holds a KV cache.
"""
from __future__ import annotations

import streamlit as st

from explorer import generation as G
from explorer.ui.errors import callback
from explorer.ui.player import Player

RUNS = "gen_runs"              # {run key: Generation}, most recently used last
CLICKED = "gen_clicked"        # the timeline selection already handled
KEEP_RUNS = 3
TIMELINE_KEY = "gen_timeline_fig"


def run_for(lm, prompt_ids: list[int], sampling: G.Sampling, max_new: int) -> G.Generation:
    """This session's run for these settings (created on first use; at most KEEP_RUNS are kept)."""
    runs: dict = st.session_state.setdefault(RUNS, {})
    key = (lm.key, tuple(prompt_ids), sampling, int(max_new))
    run = runs.pop(key, None)
    if run is None:
        run = G.Generation(lm, list(prompt_ids), sampling, max_new)   # holds no model: each step is handed lm
    runs[key] = run
    while len(runs) > KEEP_RUNS:
        runs.pop(next(iter(runs)))
    for other in runs.values():  # only the run on screen keeps a KV cache
        if other is not run:
            for b in other.branches:
                b.cache = None
    return run


_player = Player("gen_")        # session keys gen_playing and gen_last_tick
playing = _player.playing
set_playing = callback("play / pause")(_player.set_playing)
tick_due = _player.tick_due


def clicked_step() -> int | None:
    """The generated step (0-based) a click on the timeline chose, once per click."""
    state = st.session_state.get(TIMELINE_KEY)
    try:
        points = state["selection"]["points"]
    except (KeyError, TypeError):
        return None
    sig = repr(points)
    if not points or sig == st.session_state.get(CLICKED):
        return None
    st.session_state[CLICKED] = sig
    g = points[0].get("customdata")
    if isinstance(g, list):
        g = g[0] if g else None
    return int(g) if isinstance(g, (int, float)) and g >= 0 else None


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Filling the masks…")
def _fill(key: str, text: str, k: int, _lm) -> G.FillMaskResult:
    return G.fill_mask(_lm, text, k)


def fill_mask(lm, text: str, k: int) -> G.FillMaskResult:
    return _fill(lm.key, text, k, lm)
