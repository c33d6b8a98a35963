"""Streamlit-aware state of the generation page: decoding runs that survive reruns and page switches.

A run (explorer.generation.Generation) lives in st.session_state under RUNS, keyed by model,
prompt ids and sampling settings; the few most recent are kept, so going back to earlier settings
finds its tokens and branches again. Only the active branch of a run holds a KV cache.
"""
from __future__ import annotations

import streamlit as st

from explorer import generation as G
from explorer.charts import generation as charts
from explorer.ui.errors import callback, guard
from explorer.ui.figures import selected_points, show
from explorer.ui.player import Player
from explorer.ui.presenter import explain

RUNS = "gen_runs"              # {run key: Generation}, most recently used last
CLICKED = "gen_clicked"        # the timeline selection already handled
KEEP_RUNS = 3
TIMELINE_KEY = "gen_timeline_fig"
# decoding steps computed once per process and shared read-only by every session that asks for the same step
# (a class on the teacher's link: a seeded run is deterministic), at most 64 MB of traces
SHARED_STEPS = G.SharedSteps(max_bytes=64 * 2**20)


def run_for(lm, prompt_ids: list[int], sampling: G.Sampling, max_new: int,
            eos_off_from: int | None = None) -> G.Generation:
    """This session's run for these settings (created on first use; at most KEEP_RUNS are kept).

    eos_off_from: the step from which end-of-text is suppressed (None: the model may end its text).
    """
    runs: dict = st.session_state.setdefault(RUNS, {})
    key = (lm.key, tuple(prompt_ids), sampling, int(max_new), eos_off_from)
    run = runs.pop(key, None)
    if run is None:   # holds no model: each step is handed lm
        run = G.Generation(lm, list(prompt_ids), sampling, max_new, eos_off_from=eos_off_from, shared=SHARED_STEPS)
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
delivered = _player.delivered


def clicked_step() -> int | None:
    """The generated step (0-based) a click on the timeline chose, once per click."""
    points = selected_points(st.session_state.get(TIMELINE_KEY))
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


class Decoding:
    """The page's state machine, in one place: the link's progress values -> replay -> the engine's run ->
    session state -> the link.

    Link values: `n` = tokens written on the original branch (a link replays them: the run is seeded, so
    they come out the same), `view` = the step shown (1-based). Every control that moves the run goes
    through a method here, which leaves `n` and `view` matching the run; the page calls url.sync() once.
    """

    def __init__(self, url, lm, run: G.Generation):
        self.url, self.lm, self.run = url, lm, run
        self.step = callback("the next token")(self._step)
        self.back = callback("the step back")(self._back)
        self.reset = callback("the reset")(self._reset)
        self.fork = callback("the new branch")(self._fork)
        self.activate = callback("that branch")(self._activate)
        self.continue_past_end = callback("continuing past end-of-text")(self._continue_past_end)

    def replay(self) -> None:
        """Write the tokens the link asks for that this session's run does not have yet."""
        missing = st.session_state[self.url.key("n")] - len(self.run.branch.steps)
        if missing > 0 and self.run.active == 0:
            with st.spinner(f"Replaying {missing} tokens…"):
                self.run.run(self.lm, missing)

    def sync(self) -> None:
        """Mirror the active branch's length and the step shown into the link's values."""
        if self.run.active == 0:
            st.session_state[self.url.key("n")] = len(self.run.branch.steps)
        st.session_state[self.url.key("view")] = len(self.run.branch.steps)

    def _step(self) -> None:
        self.run.step(self.lm)
        self.sync()

    def _back(self) -> None:
        self.run.back()
        self.sync()

    def _reset(self) -> None:
        self.run.reset()
        set_playing(False)
        st.session_state[self.url.key("eos")] = -1       # the model may end its text again
        self.sync()

    def _continue_past_end(self) -> None:
        """The link's `eos` = the step that chose end-of-text: the run is replayed with end-of-text
        suppressed from that step on (the same tokens before it; that step drawn again)."""
        n = len(self.run.branch.steps)
        st.session_state[self.url.key("eos")] = n - 1
        st.session_state[self.url.key("max")] = max(int(st.session_state[self.url.key("max")]), n + 16)

    def _fork(self, at_step: int) -> None:
        token = st.session_state.get("gen_alt")
        if token is not None:
            self.run.fork(self.lm, at_step, int(token))
            self.sync()

    def _activate(self, i: int) -> None:
        self.run.activate(self.lm, i)
        self.sync()

    def buttons(self, cols) -> None:
        """Play / Pause, Step, Back and Reset in four columns, each enabled only when it can act (drawn by the
        whole page: Play, Pause and the end of a run rerun it, so their states stay current)."""
        run, b, on = self.run, self.run.branch, playing()
        cols[0].button("⏸ Pause" if on else "▶ Play", key="gen_play", type="primary",
                       on_click=set_playing, args=(not on,), disabled=bool(run.done()) and not on)
        cols[1].button("Step ▸", key="gen_step", on_click=self.step, disabled=bool(run.done()) or on,
                       help="One forward pass over the newest token only (the KV cache holds the rest).")
        cols[2].button("◂ Back", key="gen_back", on_click=self.back, disabled=not b.steps or on)
        cols[3].button("Reset", key="gen_reset", on_click=self.reset, disabled=not b.steps and len(run.branches) == 1)

    def tick(self, interval: float) -> None:
        """While playing: one more token when its time has come; stop at the end."""
        if not playing():
            return
        if self.run.done():
            set_playing(False)
            st.rerun(scope="app")          # stops the timer and shows the Play button again
        if tick_due(interval):
            self._step()

    def shown(self) -> int:
        """The step on screen (0-based): a click on the timeline, else the link's `view`, kept in range."""
        n = len(self.run.branch.steps)
        key = self.url.key("view")
        clicked = clicked_step()
        if clicked is not None and clicked < n:
            st.session_state[key] = clicked + 1
        if not 1 <= st.session_state.get(key, 0) <= n:
            st.session_state[key] = n
        return st.session_state[key] - 1


def draw_masks(filled: G.FillMaskResult) -> None:
    """Each [MASK]'s candidates as bars, up to three side by side."""
    cols = st.columns(min(3, max(1, len(filled.masks))))
    for i, m in enumerate(filled.masks):
        with cols[i % len(cols)]:
            show(charts.mask_candidates(m.candidates, m.probs, f"[MASK] #{i + 1} (token {m.position})"),
                 f"fill-mask-{i + 1}", data={"candidate": m.candidates, "probability": m.probs},
                 height=120 + 28 * len(m.candidates))


def draw_topk(s, k: int, sampling: G.Sampling, vocab: int, title: str | None = None) -> None:
    """The distribution of one step (s: a Step): the top-k bars (the chosen token outlined) and what the draw
    kept under `sampling`; vocab: the tokenizer's size (all kept: "every token")."""
    chosen = G.chosen_in_top(s, k)
    drawn = s.p_model if sampling.greedy else s.p_temp
    title = (title or "Next-token probabilities") + ("" if sampling.greedy else f" at temperature {sampling.temperature:g}")
    with guard("the top-k chart"):
        show(charts.topk_bars(s.tokens[:k], drawn[:k], chosen, s.kept, s.cum_filtered[:k],
                              None if sampling.greedy else sampling.top_p,
                              None if sampling.greedy else (sampling.top_k or None), title),
             "top-k next tokens", data={"token": s.tokens[:k], "probability": drawn[:k],
                                        "cumulative": s.cum_filtered[:k], "after_truncation": s.p_final[:k]},
             height=340)
    kept_text = ("every token remains" if s.kept >= vocab else
                 "1 token remains" if s.kept == 1 else f"{s.kept:,} tokens remain")
    explain(f"Bars: the {k} most likely next tokens; the chosen one is outlined. The black curve adds them up; "
            f"after temperature, top-k and top-p, {kept_text} and the draw renormalises over them "
            f"(grey bars are cut). Model entropy here: {s.entropy:.2f} bits; of what was drawn from: "
            f"{s.entropy_final:.2f} bits.")
