"""Figures of the Pipeline page: the whole path as one diagram, tokens as a strip, embedding vectors,
what each block writes into the residual stream, and the appended token's query row over the cache.

Data in, go.Figure out; no Streamlit. Token text is escaped (plotly renders a small HTML subset).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.attention import _esc, fast_figure
from explorer.charts.generation import attention_row
from explorer.charts.theme import DIVERGING, OKABE_ITO, shared_figure

ON = OKABE_ITO[0]             # orange: the stage on screen
ON_EDGE = "#000000"
OFF = "#EEF3F8"               # pale blue-grey: the other stages
OFF_EDGE = "#7A8A99"
ATTN = OKABE_ITO[4]           # blue: attention sub-layers
MLP = OKABE_ITO[5]            # vermillion: MLP sub-layers
STREAM = "#000000"


# ------------------------------------------------------------------ the whole path
@shared_figure
def path_diagram(nodes: Sequence[tuple[str, str, str]], current: str, loop_label: str = "append, repeat") -> go.Figure:
    """One row of boxes, left to right, with arrows; the boxes of the current stage highlighted.

    nodes: (stage key, box label, shape label under the box); each box has an invisible marker whose
    hover names it (customdata: its stage key).
    """
    n = len(nodes)
    gap = 0.3
    # boxes as wide as their shape label needs (a K/V shape has six numbers)
    widths = [max(1.0, 0.085 * len(shape)) for _, _, shape in nodes]
    fig = go.Figure()
    xs = []
    x0 = 0.0
    for i, ((stage, label, shape), w) in enumerate(zip(nodes, widths)):
        on = stage == current
        fig.add_shape(type="rect", x0=x0, x1=x0 + w, y0=0, y1=1, line=dict(color=ON_EDGE if on else OFF_EDGE,
                      width=4 if on else 1.5), fillcolor=ON if on else OFF, layer="below")
        fig.add_annotation(x=x0 + w / 2, y=0.5, text=f"<b>{label}</b>" if on else label, showarrow=False,
                           font=dict(size=12, color="#000000"))
        if shape:
            fig.add_annotation(x=x0 + w / 2, y=-0.12, text=shape, showarrow=False, yanchor="top",
                               font=dict(size=11, color="#333333", family="monospace"))
        if i:
            fig.add_annotation(x=x0, y=0.5, ax=x0 - gap, ay=0.5, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=2, arrowcolor="#444444", text="")
        xs.append(x0 + w / 2)
        x0 += w + gap
    # the loop: the picked token goes back in as the next input
    right, left = xs[-1], xs[1] if n > 1 else xs[0]
    fig.add_shape(type="path", path=f"M {right},1 C {right},1.75 {left},1.75 {left},1.02",
                  line=dict(color="#444444", width=2, dash="dot"))
    fig.add_annotation(x=(left + right) / 2, y=1.55, text=loop_label, showarrow=False, yanchor="bottom",
                       font=dict(size=12, color="#333333"), bgcolor="#FFFFFF")
    fig.add_annotation(x=left, y=1.02, ax=left, ay=1.3, xref="x", yref="y", axref="x", ayref="y", text="",
                       showarrow=True, arrowhead=2, arrowwidth=2, arrowcolor="#444444")
    fig.add_scatter(x=xs, y=[0.5] * n, mode="markers", marker=dict(size=40, opacity=0), customdata=[s for s, _, _ in nodes],
                    hovertext=[f"{_plain(lbl)} {shape}" for _, lbl, shape in nodes], hoverinfo="text",
                    showlegend=False)
    span = x0 - gap
    fig.update_xaxes(visible=False, range=[-0.05, span + 0.05], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-0.55, 1.85], fixedrange=True)
    fig.update_layout(margin=dict(l=4, r=4, t=4, b=4), dragmode=False, hovermode="closest")
    return fig


def _plain(label: str) -> str:
    return label.replace("<br>", " ")


# ------------------------------------------------------------------ tokens
def token_strip(pieces: Sequence[str], ids: Sequence[int], byte_part: Sequence[bool] | None = None,
                per_row: int = 12, selected: int | None = None) -> go.Figure:
    """The prompt as tokens: one box per token (its piece above, its id below), wrapped in rows.

    byte_part: tokens that hold only some bytes of one character (an emoji split by byte-level BPE).
    """
    n = len(pieces)
    byte_part = byte_part or [False] * n
    rows = max(1, -(-n // per_row))
    # a fixed number of traces whatever the length (boxes: one bar trace; pieces, ids, hover: scatters),
    # never a layout shape or annotation per token: plotly re-validates all of them on every add, so the
    # figure grew with the square of the tokens
    idx = np.arange(n)
    r, c = idx // per_row, idx % per_row
    x, y0 = c + 0.5, -r * 1.25
    colors = [OKABE_ITO[2] if byte_part[i] else (OKABE_ITO[1] if i % 2 == 0 else "#B9DDF1") for i in range(n)]
    chosen = idx == (selected if selected is not None else -1)
    hover = [f"token {i}: {_esc(p)} · id {int(t)}" + (" · part of one character's bytes" if byte_part[i] else "")
             for i, (p, t) in enumerate(zip(pieces, ids))]
    fig = fast_figure([
        dict(type="bar", x=x, y=np.full(n, 0.9), base=y0, width=0.92, hoverinfo="skip", showlegend=False,
             marker=dict(color=colors, line=dict(color=np.where(chosen, "#000000", "#555555").tolist(),
                                                 width=np.where(chosen, 4, 1).tolist()))),
        dict(type="scatter", x=x, y=y0 + 0.6, mode="text", text=[_esc(_short(p)) for p in pieces],
             textfont=dict(size=14, color="#000000"), hoverinfo="skip", showlegend=False),
        dict(type="scatter", x=x, y=y0 + 0.22, mode="text", text=[str(int(t)) for t in ids],
             textfont=dict(size=11, color="#222222", family="monospace"), hoverinfo="skip", showlegend=False),
        dict(type="scatter", x=x, y=y0 + 0.45, mode="markers", marker=dict(size=30, opacity=0), hovertext=hover,
             hoverinfo="text", showlegend=False),
    ], dict(bargap=0))
    fig.update_xaxes(visible=False, range=[-0.05, per_row + 0.05], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-(rows - 1) * 1.25 - 0.1, 1.0], fixedrange=True)
    fig.update_layout(height=40 + 62 * rows, margin=dict(l=4, r=4, t=4, b=4))
    return fig


def _short(t: str, n: int = 10) -> str:
    return t if len(t) <= n else t[:n - 1] + "…"


# ------------------------------------------------------------------ embeddings
def embedding_strip(rows: dict[str, np.ndarray], position: int, token: str) -> go.Figure:
    """Vectors of one token as a heatmap strip: one row per vector, one column per dimension (blue < 0 < red)."""
    names = list(rows)
    z = np.stack([np.asarray(rows[k], dtype=np.float32) for k in names])
    lim = float(np.abs(z).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=z, y=names, x=np.arange(z.shape[1]), colorscale=DIVERGING, zmid=0, zmin=-lim,
                               zmax=lim, reversescale=True, colorbar=dict(title="value", thickness=12),
                               hovertemplate="%{y}, dimension %{x}: %{z:.4f}<extra></extra>"))
    fig.update_layout(title=f"Token {position} ({_esc(token)}): {z.shape[1]} numbers each",
                      xaxis=dict(title="dimension"), yaxis=dict(autorange="reversed"))
    return fig


# ------------------------------------------------------------------ blocks
@shared_figure
def block_changes(attn_norm: np.ndarray, mlp_norm: np.ndarray, stream_norm: np.ndarray, attn_cos: np.ndarray,
                  mlp_cos: np.ndarray, token: str) -> go.Figure:
    """Top: length of what each attention and MLP sub-layer adds, and of the stream entering each block.
    Bottom: the cosine of each addition with the stream it is added to (+1 reinforces, -1 erases)."""
    L = len(attn_norm)
    blocks = [f"block {i + 1}" for i in range(L)]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.08)
    fig.add_bar(x=blocks, y=attn_norm, name="attention adds", marker_color=ATTN, row=1, col=1,
                hovertemplate="%{x}: |attention output| = %{y:.3f}<extra></extra>")
    fig.add_bar(x=blocks, y=mlp_norm, name="MLP adds", marker_color=MLP, row=1, col=1,
                hovertemplate="%{x}: |MLP output| = %{y:.3f}<extra></extra>")
    fig.add_scatter(x=blocks, y=stream_norm[:-1], name="stream entering the block", mode="lines+markers",
                    line=dict(color=STREAM, width=2), marker=dict(size=7), row=1, col=1,
                    hovertemplate="%{x}: |stream| = %{y:.3f}<extra></extra>")
    fig.add_bar(x=blocks, y=attn_cos, name="attention · stream", marker_color=ATTN, showlegend=False, row=2, col=1,
                hovertemplate="%{x}: cosine(attention output, stream) = %{y:.3f}<extra></extra>")
    fig.add_bar(x=blocks, y=mlp_cos, name="MLP · stream", marker_color=MLP, showlegend=False, row=2, col=1,
                hovertemplate="%{x}: cosine(MLP output, stream) = %{y:.3f}<extra></extra>")
    fig.update_yaxes(title_text="length (L2 norm)", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="cosine", range=[-1, 1], row=2, col=1, zeroline=True, zerolinewidth=2,
                     zerolinecolor="#444444")
    fig.update_layout(title=f"What each block writes into the stream of {_esc(token)}", barmode="group",
                      legend=dict(orientation="h", yanchor="top", y=-0.1, xanchor="left", x=0), bargap=0.3)
    return fig


# ------------------------------------------------------------------ appending through the cache
def query_row(attn: np.ndarray, keys: Sequence[str]) -> go.Figure:
    """The appended token's one query row per layer (mean of heads) over every key: the cached ones and its own.

    attn: [layer, head, T + 1]; keys: T + 1 labels, the last one the appended token.
    """
    fig = attention_row(attn, list(keys), None)
    T = len(keys) - 1
    fig.add_vrect(x0=T - 0.5, x1=T + 0.5, line=dict(color=ON, width=4), fillcolor="rgba(0,0,0,0)")
    fig.add_annotation(x=(T - 1) / 2, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                       text=f"◀ K and V of {T} tokens, read from the cache ▶")
    fig.add_annotation(x=T, y=1.0, yref="paper", yanchor="bottom", xanchor="right", showarrow=False,
                       text="<b>computed now</b>", font=dict(color="#000000"))
    fig.update_layout(title="The new token's query row, every layer (mean of heads)", margin=dict(t=80),
                      xaxis_title="key (earlier tokens, then the new one)")
    return fig
