"""Plotly figures of the efficient-attention page: window masks, receptive fields, FlashAttention's tiles
and memory traffic, a real model with and without a window. Data in, go.Figure out (no Streamlit)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.attention import unique_labels
from explorer.charts.kvcache import _bytes_label, _log_bytes_axis, _tokens_label
from explorer.charts.theme import HEATMAP, OKABE_ITO, shared_figure

SEEN = "#0072B2"          # Okabe-Ito blue: a key the query sees
HIDDEN = "#EDEDED"        # light grey: masked
WINDOW_EDGE = "#D55E00"   # vermillion: the window's edge, the current tile
DONE_LINE = "#000000"
STANDARD_COLOR, TILED_COLOR = OKABE_ITO[5], OKABE_ITO[4]


def _binary(mask: np.ndarray) -> dict:
    return dict(z=mask.astype(np.int8), zmin=0, zmax=1, showscale=False,
                colorscale=[[0, HIDDEN], [0.5, HIDDEN], [0.5, SEEN], [1, SEEN]])


@shared_figure
def mask_panels(masks: dict[str, np.ndarray], labels: Sequence[str] | None = None) -> go.Figure:
    """Masks side by side ({title: bool [query, key]}), blue where a query sees a key, grey where it is hidden."""
    n = next(iter(masks.values())).shape[0]
    labels = unique_labels(list(labels)) if labels is not None else [str(i) for i in range(n)]
    fig = make_subplots(rows=1, cols=len(masks), subplot_titles=list(masks), horizontal_spacing=0.06)
    gap = 1 if n <= 48 else 0
    for c, m in enumerate(masks.values(), start=1):
        fig.add_trace(go.Heatmap(**_binary(m), x=labels, y=labels, xgap=gap, ygap=gap,
                                 customdata=np.where(m, "sees", "hidden"),
                                 hovertemplate="query %{y} → key %{x}: %{customdata}<extra></extra>"), row=1, col=c)
        # square cells: each x axis keeps the scale of its y axis (the theme frees a labelled y axis's own
        # scaleanchor so that it can grow with the tokens, which left only the first panel unsquare and taller)
        fig.update_xaxes(row=1, col=c, title_text="key (attended to)", type="category", showgrid=False,
                         tickangle=0 if n <= 16 else -60, constrain="domain", scaleanchor=f"y{c if c > 1 else ''}")
        # the rows are the same queries in every panel: named once, on the left (a second column of names
        # reached into the first panel); both panels hang from the same top edge
        fig.update_yaxes(row=1, col=c, title_text="query" if c == 1 else None, type="category",
                         autorange="reversed", showgrid=False, constrain="domain", constraintoward="top",
                         showticklabels=c == 1)
    fig.update_layout(title="Which keys each query may attend to (blue: sees, grey: masked)")
    return fig


def pooled_panel(share: np.ndarray, n_tokens: int, window: int | None, title: str | None = None) -> go.Figure:
    """A long mask drawn in blocks: the share of each block's pairs that are attended (0..1). The default title
    names the window and the block size."""
    size = -(-n_tokens // share.shape[0])
    if title is None:
        title = (f"window {f'{window:,}' if window else 'none'} over {n_tokens:,} tokens "
                 f"(blocks of {size:,} × {size:,} pairs)")
    centers = (np.arange(share.shape[0]) * size + size / 2).tolist()
    fig = go.Figure(go.Heatmap(z=share.astype(np.float32), x=centers, y=centers, zmin=0, zmax=1,
                               colorscale=[[0, HIDDEN], [1, SEEN]],
                               colorbar=dict(title=dict(text="share seen", side="right"), thickness=14),
                               hovertemplate="queries ≈ %{y:,.0f}<br>keys ≈ %{x:,.0f}<br>share seen: %{z:.2f}"
                                             "<extra></extra>"))
    ticks = [t for t in np.linspace(0, n_tokens, 5).astype(int)]
    for ax in (fig.update_xaxes, fig.update_yaxes):
        ax(tickvals=ticks, ticktext=[_tokens_label(int(t)) if t else "0" for t in ticks], showgrid=False,
           range=[0, n_tokens])
    fig.update_xaxes(title_text="key position", constrain="domain")
    fig.update_yaxes(title_text="query position", autorange="reversed", scaleanchor="x", constrain="domain")
    if window is not None and window < n_tokens:
        fig.add_trace(go.Scatter(x=[0, n_tokens - window], y=[window, n_tokens], mode="lines",
                                 line=dict(color=WINDOW_EDGE, width=2, dash="dash"), hoverinfo="skip",
                                 name=f"window edge: query − {window - 1:,}"))
        fig.update_layout(legend=dict(orientation="h", y=-0.15))
    fig.update_layout(title=title)
    return fig


def receptive_field(reach: np.ndarray, token: int, window: int | None, labels: Sequence[str] | None = None
                    ) -> go.Figure:
    """Rows = layers (input at the bottom), columns = positions; blue where the chosen token can draw on it."""
    n_layers, n = reach.shape[0] - 1, reach.shape[1]
    labels = unique_labels(list(labels)) if labels is not None else [str(i) for i in range(n)]
    spans = reach.sum(1)
    rows = [f"input · {spans[0]}"] + [f"layer {i} · {spans[i]} tokens" for i in range(1, n_layers + 1)]
    fig = go.Figure(go.Heatmap(**_binary(reach), x=labels, y=rows, xgap=1 if n <= 64 else 0, ygap=2,
                               customdata=np.where(reach, "reaches", "out of reach"),
                               hovertemplate="%{y}, position %{x}: %{customdata}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[labels[token]], y=[rows[0]], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(symbol="star", size=16, color=WINDOW_EDGE, line=dict(color="#000", width=1))))
    w = "full causal" if window is None else f"window {window}"
    fig.update_xaxes(title_text="position", type="category", showgrid=False, tickangle=0 if n <= 24 else -60)
    fig.update_yaxes(type="category", showgrid=False)
    fig.update_layout(title=f"What token {labels[token]} can draw on, layer by layer ({w})")
    return fig


# ------------------------------------------------------------------ tiling
def _rect(x0, y0, x1, y1, **line) -> dict:
    return dict(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, xref="x", yref="y", layer="above", line=line)


@shared_figure
def tiling(scores: np.ndarray, allowed: np.ndarray, schedule: list[tuple[int, list[int]]], done: int,
           block_q: int, block_k: int, row: int, m_track: Sequence[float], l_track: Sequence[float],
           true_m: float, true_l: float, step_labels: Sequence[str], title: str = "") -> go.Figure:
    """Left: the T x T score matrix, revealed tile by tile in loop order (grey: not computed yet; hatched
    outline: skipped; thick frame: the current tile; dashed line: the tracked row). Right: the tracked
    row's running max m and running sum l after each of its steps, against their final values.

    scores: float32 [T, T] (masked cells are never shown); done: steps finished (0..n_steps);
    m_track / l_track / step_labels: one value per step that touched the tracked row, up to `done`.
    """
    n = scores.shape[0]
    order = [(i, j) for i, keys in schedule for j in keys]
    visible = np.zeros((n, n), dtype=bool)
    for i, j in order[:done]:
        visible[i * block_q:(i + 1) * block_q, j * block_k:(j + 1) * block_k] = True
    z = np.where(visible & allowed, scores, np.nan).astype(np.float32)
    fig = make_subplots(rows=2, cols=2, column_widths=[0.58, 0.42], specs=[[{"rowspan": 2}, {}], [None, {}]],
                        horizontal_spacing=0.12, vertical_spacing=0.2,
                        subplot_titles=("Scores S = QKᵀ/√d: rows queries, columns keys",
                                        f"running max m of row {row} · final {true_m:.4f}",
                                        f"running sum l of row {row} · final {true_l:.4f}"))
    fig.add_trace(go.Heatmap(z=np.where(allowed, 0, np.nan), x0=0, y0=0, dx=1, dy=1, showscale=False,
                             colorscale=[[0, "#F4F4F4"], [1, "#F4F4F4"]], hoverinfo="skip"), row=1, col=1)
    lim = float(np.nanmax(np.abs(scores[allowed]))) if allowed.any() else 1.0
    fig.add_trace(go.Heatmap(z=z, x0=0, y0=0, dx=1, dy=1, colorscale=HEATMAP, zmin=-lim, zmax=lim,
                             colorbar=dict(title=dict(text="score", side="right"), orientation="h", thickness=10,
                                           x=0.27, xanchor="center", y=-0.1, yanchor="top", len=0.3),
                             hovertemplate="query %{y}, key %{x}: score %{z:.3f}<extra></extra>"), row=1, col=1)
    shapes = []
    n_q, n_k = -(-n // block_q), -(-n // block_k)
    visited = {(i, j) for i, j in order}
    for i in range(n_q):
        for j in range(n_k):
            x0, y0 = j * block_k - 0.5, i * block_q - 0.5
            x1, y1 = min((j + 1) * block_k, n) - 0.5, min((i + 1) * block_q, n) - 0.5
            if (i, j) not in visited:
                shapes.append(_rect(x0, y0, x1, y1, color="#9A9A9A", width=1, dash="dot"))
            else:
                shapes.append(_rect(x0, y0, x1, y1, color="#BDBDBD", width=1))
    if 0 < done <= len(order):
        i, j = order[done - 1]
        shapes.append(_rect(j * block_k - 0.5, i * block_q - 0.5, min((j + 1) * block_k, n) - 0.5,
                            min((i + 1) * block_q, n) - 0.5, color=WINDOW_EDGE, width=4))
    shapes.append(dict(type="line", x0=-0.5, x1=n - 0.5, y0=row, y1=row, xref="x", yref="y", layer="above",
                       line=dict(color="#000000", width=2, dash="dash")))
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(row=1, col=1, range=[-0.5, n - 0.5], showgrid=False, zeroline=False,
                     constrain="domain")
    fig.update_yaxes(row=1, col=1, range=[n - 0.5, -0.5], title_text="query", showgrid=False, zeroline=False,
                     scaleanchor="x", constrain="domain")
    xs = list(range(1, len(m_track) + 1))
    for r, (vals, final, name) in enumerate(((m_track, true_m, "m"), (l_track, true_l, "l")), start=1):
        finite = [v if np.isfinite(v) else None for v in vals]
        fig.add_trace(go.Scatter(x=xs, y=finite, mode="lines+markers", name=f"running {name}",
                                 line=dict(color=TILED_COLOR, width=3), marker=dict(size=9),
                                 customdata=list(step_labels[:len(vals)]), showlegend=False,
                                 hovertemplate=f"%{{customdata}}<br>{name} = %{{y:.6f}}<extra></extra>"),
                      row=r, col=2)
        fig.add_hline(y=final, line=dict(color=STANDARD_COLOR, width=2, dash="dash"), row=r, col=2)
        n_steps = max(len(step_labels), 1)
        fig.update_xaxes(row=r, col=2, range=[0.5, n_steps + 0.5], dtick=1 if n_steps <= 12 else None,
                         title_text="key tiles seen by this row" if r == 2 else None)
    if not m_track:
        fig.add_annotation(text=f"row {row} waits for its query tile<br>(tile {row // block_q})", showarrow=False,
                           xref="x2 domain", yref="y2 domain", x=0.5, y=0.5)
    fig.update_layout(title=title or "FlashAttention: one tile at a time, a running max and sum per row",
                      hovermode="closest")
    return fig


def traffic(lengths: np.ndarray, standard: np.ndarray, tiled: np.ndarray, current: int, bytes_per: float,
            counted: tuple[int, float] | None = None) -> go.Figure:
    """Bytes moved to and from main memory vs sequence length (log-log): standard vs tiled.

    standard / tiled: elements [len(lengths)]; counted: (T, bytes) the tiled implementation counted itself.
    """
    fig = go.Figure()
    for name, y, color, dash in (("standard attention (S and P in memory)", standard, STANDARD_COLOR, "solid"),
                                 ("tiled (FlashAttention)", tiled, TILED_COLOR, "dash")):
        b = np.asarray(y, dtype=np.float64) * bytes_per
        fig.add_trace(go.Scatter(x=lengths, y=b, mode="lines", name=name, line=dict(color=color, width=3, dash=dash),
                                 customdata=[_bytes_label(v) for v in b],
                                 hovertemplate="%{x:,} tokens: %{customdata}<extra>" + name.split(" (")[0] +
                                               "</extra>"))
    idx = int(np.searchsorted(lengths, current))
    idx = min(idx, len(lengths) - 1)
    pts = [float(standard[idx]) * bytes_per, float(tiled[idx]) * bytes_per]
    fig.add_trace(go.Scatter(x=[current, current], y=pts, mode="markers+text", showlegend=False,
                             text=[_bytes_label(v) + "  " for v in pts], textposition="middle left",
                             marker=dict(size=12, color=[STANDARD_COLOR, TILED_COLOR], symbol=["circle", "square"],
                                         line=dict(color="#000", width=1.5)), hoverinfo="skip"))
    if counted is not None:
        fig.add_trace(go.Scatter(x=[counted[0]], y=[counted[1]], mode="markers", name="counted by the tiled code",
                                 marker=dict(size=14, symbol="x-thin-open", color="#000000", line=dict(width=3)),
                                 hovertemplate="%{x:,} tokens: %{y:,.0f} bytes counted<extra></extra>"))
    fig.add_vline(x=current, line=dict(color="#555555", width=1, dash="dot"))
    xt = [t for t in (16, 256, 1024, 4096, 16384, 65536, 131072) if lengths[0] <= t <= lengths[-1]]
    fig.update_xaxes(type="log", title="sequence length T (tokens, log scale)", tickvals=xt,
                     ticktext=[_tokens_label(t) for t in xt])
    lo = float(min(np.min(standard), np.min(tiled))) * bytes_per
    hi = float(max(np.max(standard), np.max(tiled))) * bytes_per
    fig.update_yaxes(title="bytes to and from main memory (log)", **_log_bytes_axis(lo, hi))
    fig.update_layout(title="Memory traffic of one attention head", legend=dict(orientation="h", y=-0.22))
    return fig


# ------------------------------------------------------------------ a real model, with and without the window
PAIR_NAMES = 128   # up to this many tokens, hover names both tokens of a cell


@shared_figure
def attention_pair(full: np.ndarray, windowed: np.ndarray, labels: Sequence[str], window: int) -> go.Figure:
    """One head's pattern [query, key] without and with the window, on one colour scale; the window's
    left edge drawn as a staircase on both."""
    n = full.shape[0]
    lab = unique_labels(list(labels))
    pos = list(range(n))
    # the token pair of every cell on hover, for texts short enough: T x T strings would make a long
    # text's rerun grow with the square of the tokens (positions name the cell then)
    pairs = np.array([[f"{lab[q]} → {lab[k]}" for k in pos] for q in pos]) if n <= PAIR_NAMES else None
    ticks = pos[::max(1, -(-n // 24))]            # at most ~24 labels per axis: the hover names every cell
    zmax = float(max(full.max(), windowed.max(), 1e-6))
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.06,
                        subplot_titles=("full causal attention", f"sliding window of {window}"))
    for c, a in enumerate((full, windowed), start=1):
        fig.add_trace(go.Heatmap(z=np.round(a.astype(np.float32), 4), x=pos, y=pos, colorscale=HEATMAP, zmin=0,
                                 zmax=zmax, showscale=c == 2, customdata=pairs,
                                 colorbar=dict(title=dict(text="weight", side="right"), thickness=12),
                                 hovertemplate=("%{customdata}" if pairs is not None else "query %{y} → key %{x}")
                                 + "<br>weight: %{z:.4f}<extra></extra>"), row=1, col=c)
        if window < n:
            xs, ys = [], []
            for q in range(window, n):       # a staircase: down one row, right one key
                e = q - window + 0.5
                xs += [e, e]
                ys += [q - 0.5, q + 0.5]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=WINDOW_EDGE, width=3),
                                     hoverinfo="skip", showlegend=False), row=1, col=c)
        fig.update_xaxes(row=1, col=c, tickvals=ticks, ticktext=[lab[i] for i in ticks], tickangle=-60,
                         range=[-0.5, n - 0.5], showgrid=False, zeroline=False, title_text="key (attended to)",
                         constrain="domain")
        fig.update_yaxes(row=1, col=c, tickvals=ticks, ticktext=[lab[i] for i in ticks], showticklabels=c == 1,
                         range=[n - 0.5, -0.5],
                         showgrid=False, zeroline=False, constrain="domain", scaleanchor=f"x{c if c > 1 else ''}")
    # ~22 px per labelled row: presenter mode's 16 px labels stay apart (the figure is square per panel)
    fig.update_layout(title="One head of the real model, without and with the window",
                      height=max(460, 22 * len(ticks) + 200))
    return fig


@shared_figure
def next_token_pair(tokens_full: Sequence[str], probs_full: np.ndarray, tokens_win: Sequence[str],
                    probs_win: np.ndarray, window: int) -> go.Figure:
    """The top next-token candidates without and with the window, as two bar panels."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.22,
                        subplot_titles=("full causal attention", f"sliding window of {window}"))
    hi = float(max(np.max(probs_full), np.max(probs_win)))
    for c, (toks, p, color) in enumerate(((tokens_full, probs_full, STANDARD_COLOR),
                                          (tokens_win, probs_win, TILED_COLOR)), start=1):
        lab = unique_labels(list(toks))
        fig.add_trace(go.Bar(x=p, y=lab, orientation="h", marker_color=color, text=[f"{v:.1%}" for v in p],
                             textposition="outside", cliponaxis=False, showlegend=False,
                             hovertemplate="%{y}: %{x:.4f}<extra></extra>"), row=1, col=c)
        fig.update_yaxes(row=1, col=c, autorange="reversed", type="category")
        fig.update_xaxes(row=1, col=c, range=[0, min(1.0, hi * 1.35 + 0.02)], tickformat=".0%",
                         title_text="probability")
    fig.update_layout(title="The next token after the last one, without and with the window")
    return fig


def cache_lines(lengths: np.ndarray, measured: np.ndarray, formula: np.ndarray, full: np.ndarray,
                window: int) -> go.Figure:
    """The sliding-window DynamicCache's bytes after each token (markers) on the formula's capped line,
    with the uncapped full cache for comparison."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=lengths, y=np.asarray(full) / 1024, mode="lines", name="full cache (formula)",
                             line=dict(color=STANDARD_COLOR, width=3, dash="dot"),
                             hovertemplate="%{x} tokens: %{y:,.2f} KiB (no window)<extra></extra>"))
    fig.add_trace(go.Scatter(x=lengths, y=np.asarray(formula) / 1024, mode="lines",
                             name=f"formula with the window ({window})", line=dict(color=TILED_COLOR, width=3),
                             hovertemplate="%{x} tokens: %{y:,.2f} KiB (formula)<extra></extra>"))
    step = max(1, len(lengths) // 48)
    fig.add_trace(go.Scatter(x=lengths[::step], y=np.asarray(measured[::step]) / 1024, mode="markers",
                             name="measured sliding-window DynamicCache",
                             marker=dict(color="#ffffff", size=9, symbol="square", line=dict(color=TILED_COLOR,
                                                                                              width=2)),
                             hovertemplate="%{x} tokens: %{y:,.2f} KiB (measured)<extra></extra>"))
    # outside ticks keep the two axes' "0" labels apart at the corner (they overlapped)
    fig.update_xaxes(title="tokens fed", rangemode="tozero", ticks="outside", ticklen=6)
    fig.update_yaxes(title="KV cache (KiB)", rangemode="tozero", ticks="outside", ticklen=6)
    fig.update_layout(title="The KV cache stops growing at the window", legend=dict(orientation="h", y=-0.25))
    return fig
