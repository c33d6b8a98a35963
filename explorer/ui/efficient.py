"""Cached work and animation state of the efficient-attention page: a forward pass runs once per (model, text,
window); the tiled loop once per setting; moving the step or the layer only re-draws."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer import efficient as E
from explorer.ui.player import Player



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


_player = Player("eff_")        # session keys eff_playing and eff_last_tick
playing = _player.playing
set_playing = _player.set_playing
tick_due = _player.tick_due
