"""Cached work and animation state of the efficient-attention page: a forward pass runs once per (model, text,
window); the tiled loop once per setting; moving the step or the layer only re-draws. The tiling animation's state
machine (Play / Pause, its timer, the step) and its transport row live here too, and the preset buttons' callback."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer import efficient as E
from explorer.ui.errors import callback
from explorer.ui.player import Player
from explorer.ui.state import UrlState


@st.cache_data(max_entries=8, ttl=3600, show_spinner="Running the model with and without the window…")
def _window_run(key: str, text: str, window: int, max_tokens: int, _lm) -> E.WindowRun:
    return E.run_window(_lm, text, window, max_tokens)


def window_run(lm, text: str, window: int, max_tokens: int = E.MAX_MODEL_TOKENS) -> E.WindowRun:
    return _window_run(lm.key, text, window, max_tokens, lm)


@dataclass
class Tiling:
    """One tiled run and what the figure needs beside it."""
    result: E.TiledResult
    scores: np.ndarray           # float32 [T, T]: QK^T / sqrt(d) (shown tile by tile)
    allowed: np.ndarray          # bool [T, T]: the mask (all True without one)
    error: float                 # max |tiled - standard|
    error_sdpa: float            # max |tiled - torch SDPA|
    standard_traffic: E.Traffic
    true_m: float
    true_l: float

    def checks(self) -> list[tuple[str, str]]:
        """(label, value) of the finished loop against standard attention and torch's SDPA, and its traffic."""
        moved = f"{self.result.traffic.elements:,} vs {self.standard_traffic.elements:,}"
        return [("max |tiled − standard|", f"{self.error:.1e}"),
                ("max |tiled − torch SDPA|", f"{self.error_sdpa:.1e}"), ("Elements moved: tiled vs standard", moved)]


@st.cache_data(max_entries=32, show_spinner=False)
def tiling(n_tokens: int, head_dim: int, block_q: int, block_k: int, causal: bool, window: int | None, row: int,
           seed: int) -> Tiling:
    import torch
    q, k, v = E.random_qkv(n_tokens, head_dim, seed)
    r = E.tiled_attention(q, k, v, block_q, block_k, causal, window, row=row)
    standard, _, traffic = E.standard_attention(q, k, v, causal, window)
    masked = causal or window is not None
    allowed = E.window_mask(n_tokens, window) if masked else np.ones((n_tokens, n_tokens), dtype=bool)
    ref = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(x)[None] for x in (q, k, v)),
        attn_mask=torch.from_numpy(allowed) if masked else None)[0].numpy()
    m, l = E.row_softmax_stats(q, k, row, causal, window)
    scores = (q @ k.T / np.sqrt(head_dim)).astype(np.float32)
    return Tiling(r, scores, allowed, float(np.abs(r.out - standard).max()), float(np.abs(r.out - ref).max()),
                  traffic, m, l)


@st.cache_data(max_entries=32, show_spinner="Running the tiled loop and counting its traffic…")
def counted_traffic(n_tokens: int, head_dim: int, block_q: int, block_k: int, causal: bool) -> E.Traffic:
    """The traffic the tiled implementation counts while it really computes attention (random q, k, v)."""
    q, k, v = E.random_qkv(n_tokens, head_dim)
    return E.tiled_attention(q, k, v, block_q, block_k, causal).traffic


@callback("the preset")
def apply_preset(url: UrlState, values: dict) -> None:
    """A preset button: set the controls named in `values` ({URL name: value}) before they are drawn."""
    for name, value in values.items():
        st.session_state[url.key(name)] = value


# ------------------------------------------------------------------ the tiling animation
_player = Player("eff_")        # session keys eff_playing and eff_last_tick
playing = _player.playing
set_playing = _player.set_playing
tick_due = _player.tick_due

STEP = "eff_tile"               # the animation's step: the page's link value `tile` (page prefix eff_)
ROW = "eff_row"                 # the tracked query row: the link value `row`
SPEED = "eff_speed"             # steps per second: the link value `speed`
N_STEPS = "eff_n_steps"         # how many steps the current settings take
RESTART = "eff_restart"         # Play, Pause or a new speed: the fragment's timer starts again


def setup(url: UrlState, n_tokens: int, n_steps: int) -> None:
    """The animation under the current settings: its number of steps (for the callbacks, which run before the
    page) and its link values — the tracked row, the speed and the step, kept within the new ranges."""
    st.session_state[N_STEPS] = n_steps
    url.int("row", n_tokens - 1, lo=0, hi=n_tokens - 1)
    url.float("speed", 2.0, lo=0.5, hi=8.0)
    url.int("tile", n_steps, lo=0, hi=n_steps)


def interval() -> float | None:
    """Seconds between the animation fragment's runs: one step at the chosen speed; None while paused."""
    return 1.0 / st.session_state[SPEED] if playing() else None


def advance() -> None:
    """At the start of each run of the animation's fragment: after Play, Pause or a new speed, rerun the page (its
    timer starts again); while playing, one step when its time has come, and Pause at the end."""
    if st.session_state.pop(RESTART, False):
        st.rerun(scope="app")
    if playing():
        if st.session_state[STEP] >= st.session_state[N_STEPS]:
            set_playing(False)
            st.rerun(scope="app")                      # stops the timer and shows Play again
        elif tick_due(1.0 / st.session_state[SPEED]):
            st.session_state[STEP] += 1


def transport(n_steps: int, n_tokens: int) -> tuple[int, int]:
    """The animation's transport row: Play / Pause, Back, Step, the step, the tracked row and the speed (the page
    registered their link values). -> (steps done, tracked row)."""
    c = st.columns([1.5, 1.5, 1.5, 3.5, 2.4, 2.4], vertical_alignment="bottom")
    busy = playing()
    c[0].button("⏸ Pause" if busy else "▶ Play", key="eff_btn_play", type="primary", on_click=play)
    c[1].button("◂ Back", key="eff_btn_back", on_click=step_by, args=(-1,), disabled=busy, help="One step back")
    c[2].button("Step ▸", key="eff_btn_step", on_click=step_by, args=(1,), disabled=busy,
                help="One step: the next (query tile, key tile) pair")
    done = c[3].slider("Step", 0, n_steps, key=STEP, disabled=busy)
    row = c[4].slider("Tracked row (query)", 0, n_tokens - 1, key=ROW) if n_tokens > 1 else 0
    c[5].slider("Speed (steps/s)", 0.5, 8.0, step=0.5, key=SPEED, on_change=restart)
    return done, row


@callback("the animation's timer")
def restart() -> None:
    st.session_state[RESTART] = True


@callback("play / pause")
def play() -> None:
    if not playing() and st.session_state.get(STEP, 0) >= st.session_state.get(N_STEPS, 0):
        st.session_state[STEP] = 0                   # Play at the end starts again
    set_playing(not playing())
    restart()


@callback("the step")
def step_by(by: int) -> None:
    st.session_state[STEP] = int(np.clip(st.session_state[STEP] + by, 0, st.session_state[N_STEPS]))
