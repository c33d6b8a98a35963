"""Streamlit-aware helpers of the attention page: cached forward passes, cached bertviz HTML, clicks.

One forward pass per (model, text, token limit): moving a slider, switching view or option only
re-draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer import attention as A
from explorer.attention import long_table  # noqa: F401 - the page's CSV columns, computed in the engine
from explorer import bertviz_view, hf
from explorer.ui.figures import selected_points
from explorer.text import md  # noqa: F401 - pages use cached.md(...): the one escaping rule


@dataclass
class Computed:
    result: A.AttentionResult
    stats: dict[str, np.ndarray]      # head statistics, {name: [layer, head]}
    rollout: np.ndarray               # float32 [layer, query, key]: rollout of the head means up to each layer


@st.cache_data(max_entries=12, ttl=3600, show_spinner="Running the model…")
def _compute(key: str, text: str, max_tokens: int, _lm) -> Computed:
    r = A.run_attention(_lm, text, max_tokens)
    return Computed(r, A.head_summary(r), A.rollout(A.combine_heads(r.attn, "mean")).astype(np.float32))


@st.cache_data(max_entries=12, ttl=3600, show_spinner=False)
def _thumbnails(key: str, text: str, max_tokens: int, hide: bool, renorm: bool, merge: bool, thumb: int,
                _c: Computed) -> tuple[np.ndarray, int, list[str]]:
    r = _c.result
    p = A.prepare(r.attn, r.tokens, r.special, hide, renorm, merge, r.scheme)
    from explorer.charts.attention import pool
    return pool(p.attn, thumb), p.attn.shape[-1], p.notes


def thumbnails(lm, c: Computed, text: str, max_tokens: int, hide: bool, renorm: bool, merge: bool,
               thumb: int) -> tuple[np.ndarray, int, list[str]]:
    """The whole model's patterns with the view options applied, pooled to thumb x thumb:
    (float32 [layer, head, s, s], tokens before pooling, notes). Once per text and options: the
    [layer, head, T, T] patterns are read once, not on every rerun (300 MB at 1,024 GPT-2 tokens)."""
    return _thumbnails(lm.key, text, int(min(max_tokens, lm.max_length)), bool(hide), bool(renorm),
                       bool(merge), int(thumb), c)


def compute(lm, text: str, max_tokens: int) -> Computed:
    return _compute(lm.key, text, int(min(max_tokens, lm.max_length)), lm)


@st.cache_data(max_entries=6, ttl=3600, show_spinner="Reading queries and keys…")
def _queries_keys(key: str, ids: tuple[int, ...], _lm):
    return A.capture_queries_keys(_lm, list(ids))


@st.cache_data(max_entries=12, ttl=3600, show_spinner="Preparing bertviz…")
def _bertviz(key: str, text: str, kind: str, cap: int, layer: int, head: int, present: bool, js_ok: bool,
             _lm) -> bertviz_view.BertvizHtml:
    c = compute(_lm, text, cap)
    r = c.result
    js, _ = bertviz_view.js_or_fetch() if js_ok else (None, None)
    attn = r.attn.astype(np.float32)
    if kind == "neuron":
        q, k = _queries_keys(key, tuple(r.ids), _lm)
        return bertviz_view.neuron_view(attn, q, k, r.tokens, js, bidirectional=not r.causal,
                                        layer=layer, head=head)
    return bertviz_view.head_or_model_view(kind, attn, r.tokens, js, layer=layer, present=present)


def bertviz_html(lm, result: A.AttentionResult, text: str, kind: str, limit: int, layer: int, head: int,
                 present: bool) -> tuple[bertviz_view.BertvizHtml, str | None, int]:
    """(html, why the JS is missing or None, tokens shown). The JS comes from the local cache (fetched once if
    missing); the input is capped (A.bertviz_tokens), layer and head clamped to the model's."""
    cap = A.bertviz_tokens(result, kind, hf.head_dim(lm.model.config))
    js, why = bertviz_view.js_or_fetch()
    # all tokens fit: reuse the page's own forward pass (same cache key) instead of running another
    html = _bertviz(lm.key, text, kind, limit if cap >= result.n_tokens else cap, min(layer, result.n_layers - 1),
                    min(head, result.n_heads - 1), present, js is not None, lm)
    return html, why, cap


def captions(notes, *lines: str | None) -> None:
    """Captions under a view: what the options changed (plain text, escaped), then its own lines (markdown)."""
    for note in notes:
        st.caption(md(note))
    for line in lines:
        if line:
            st.caption(line)


def use_example(url, key: str) -> None:
    """on_change of the examples box (session key `key`): the picked example goes into the text box (and the
    link), and the box empties again so the same example can be picked twice."""
    choice = st.session_state.get(key)
    if choice:
        st.session_state[url.key("text")] = choice
        st.session_state[key] = None


def open_clicked_head(url, fig_keys: dict[str, str], models=("bert", "gpt2")) -> None:
    """A click on a head summary square or a model thumbnail (fig_keys: {view: chart key with {} for the model})
    opens that head in the one-head view; the link follows."""
    for which in models:
        for view_name, key in fig_keys.items():
            hit = clicked_head(st.session_state.get(key.format(which)))
            if hit and st.session_state.get(url.key("view")) == view_name:
                for name, value in (("layer", hit[0]), ("head", hit[1]), ("view", "head"), ("heads", "one")):
                    url.set(name, value)


def clicked_head(state, n_heads: int | None = None) -> tuple[int, int] | None:
    """(layer, head) of a click on the head summary or the model thumbnails, else None.

    The clickable points carry [layer, head] as customdata; point_index is the fallback.
    """
    for p in selected_points(state):
        cd = p.get("customdata")
        if isinstance(cd, (list, tuple)) and len(cd) == 2:
            return int(cd[0]), int(cd[1])
        idx = p.get("point_index", p.get("point_number"))
        if idx is not None and n_heads:
            return divmod(int(idx), n_heads)
    return None
