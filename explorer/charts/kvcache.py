"""Plotly figures for the KV-cache page: data in, go.Figure out (no Streamlit)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.theme import OKABE_ITO, categorical, shared_figure

# one colour AND one dash per attention kind, the same in every figure (never colour alone)
KIND_COLORS = {"MHA": OKABE_ITO[5], "GQA": OKABE_ITO[4], "MQA": OKABE_ITO[2]}
KIND_DASH = {"MHA": "solid", "GQA": "dash", "MQA": "dot"}
KIND_SYMBOL = {"MHA": "circle", "GQA": "square", "MQA": "diamond"}
KIND_PATTERN = {"MHA": "", "GQA": "/", "MQA": "."}
WEIGHTS_COLOR = "#8c8c8c"
UNITS = [(2 ** 40, "TiB"), (2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB"), (1, "B")]


def _bytes_label(v: float) -> str:
    for size, unit in UNITS:
        if v >= size:
            x = v / size
            return f"{x:.0f} {unit}" if x == int(x) else f"{x:.3g} {unit}"
    return f"{v:g} B"


def _tokens_label(t: int) -> str:
    if t >= 2 ** 20 and t % 2 ** 20 == 0:
        return f"{t // 2 ** 20}M"
    if t >= 1024 and t % 1024 == 0:
        return f"{t // 1024}K"
    return str(t)


def _log_bytes_axis(lo: float, hi: float) -> dict:
    """Tick marks at every power of 1024 (plus x32) between lo and hi, labelled in binary units."""
    ticks = [v for k in range(0, 6) for v in (1024 ** k, 32 * 1024 ** k) if lo / 2 <= v <= hi * 2]
    return dict(type="log", tickvals=ticks, ticktext=[_bytes_label(v) for v in ticks])


CLOSE = 0.08      # two labels nearer than this share of the log axis's span would overlap (~24 px of ~330)


def _close(a: float, b: float, lo: float, hi: float) -> bool:
    span = max(np.log10(max(hi, 2)) - np.log10(max(lo, 1)), 1e-9)
    return abs(np.log10(max(a, 1)) - np.log10(max(b, 1))) < CLOSE * span


def end_labels(values: list[int], lo: float, hi: float) -> list[str]:
    """The size label beside each marker; equal sizes are labelled once (the first), so no two labels overlap."""
    out = []
    for i, v in enumerate(values):
        out.append("" if v in values[:i] else f"  {_bytes_label(v)}  ")
    return out


def end_label_sides(values: list[int], lo: float, hi: float) -> list[str]:
    """Left of the marker, unless a label already there is too close on the log axis: then right (lines that
    converge, e.g. 16 GiB beside 8 GiB, put their labels on both sides instead of on top of each other)."""
    sides, placed = [], {"left": [], "right": []}
    for i in np.argsort(values)[::-1]:
        v = values[i]
        side = "left" if not any(_close(v, w, lo, hi) for w in placed["left"]) else "right"
        placed[side].append(v)
        sides.append((i, f"middle {side}"))
    return [side for _, side in sorted(sides)]


@shared_figure
def growth_curves(lengths: np.ndarray, curves: dict[str, np.ndarray], labels: dict[str, str], seq_len: int,
                  current: dict[str, int], window: int | None = None, free: int | None = None,
                  free_label: str = "") -> go.Figure:
    """Cache bytes vs tokens on log-log axes, one line per attention kind; a marker at the chosen length.

    curves: {kind: int64 bytes [len(lengths)]}; current: {kind: bytes at seq_len}; free: bytes left on a GPU.
    """
    fig = go.Figure()
    for kind, y in curves.items():
        fig.add_trace(go.Scatter(
            x=lengths, y=y, mode="lines", name=labels[kind], line=dict(color=KIND_COLORS[kind], width=3,
                                                                       dash=KIND_DASH[kind]),
            customdata=[_bytes_label(v) for v in y],
            hovertemplate=f"{labels[kind]}<br>%{{x:,}} tokens: %{{customdata}}<extra></extra>"))
    lo = min(int(v.min()) for v in curves.values())
    hi = max(int(v.max()) for v in curves.values())
    fig.add_trace(go.Scatter(
        x=[seq_len] * len(current), y=list(current.values()), mode="markers+text", showlegend=False,
        text=end_labels(list(current.values()), lo, max(hi, free or 0)),
        textposition=end_label_sides(list(current.values()), lo, max(hi, free or 0)),
        textfont=dict(color=[KIND_COLORS[k] for k in current]),
        marker=dict(size=12, color=[KIND_COLORS[k] for k in current], symbol=[KIND_SYMBOL[k] for k in current],
                    line=dict(color="#000000", width=1.5)),
        customdata=[f"{k}: {_bytes_label(v)}" for k, v in current.items()],
        hovertemplate=f"{seq_len:,} tokens<br>%{{customdata}}<extra></extra>"))
    fig.add_vline(x=seq_len, line=dict(color="#555555", width=1, dash="dot"))
    if window:
        fig.add_vline(x=window, line=dict(color="#000000", width=2, dash="dashdot"),
                      annotation_text=f"sliding window {window:,}: the cache stops growing",
                      annotation_position="top left")
    if free is not None and free > 0:
        fig.add_hline(y=free, line=dict(color="#000000", width=2, dash="dash"),
                      annotation_text=free_label, annotation_position="bottom right")
        hi = max(hi, free)
    xt = [t for t in (1, 16, 256, 4096, 65536, 2 ** 20) if t <= lengths[-1]]
    pad = 0.04 * np.log10(lengths[-1])   # room for the first and last tick labels
    fig.update_xaxes(type="log", title="sequence length (tokens, log scale)", tickvals=xt,
                     ticktext=[_tokens_label(t) for t in xt], range=[-pad, np.log10(lengths[-1]) + pad])
    fig.update_yaxes(title="KV cache (log scale)", **_log_bytes_axis(lo, hi))
    fig.update_layout(title="Cache growth over tokens", legend=dict(orientation="h", y=-0.2), hovermode="closest")
    return fig


@shared_figure
def sharing(n_heads: int, variants: dict[str, int], kv_head_of) -> go.Figure:
    """Query heads (circles, bottom) coloured by the KV head (square, top) they read; one panel per kind.

    variants: {kind: n_kv_heads}; kv_head_of(q_head, n_heads, n_kv) from the engine.
    """
    kinds = list(variants)
    titles = []
    for k in kinds:
        n_kv = variants[k]
        g = n_heads // n_kv
        if n_kv == n_heads:
            titles.append(f"{k}: {n_kv} KV heads, one per query head")
        elif n_kv == 1:
            titles.append(f"{k}: 1 KV head shared by all {n_heads} query heads")
        else:
            titles.append(f"{k}: {n_kv} KV heads, each read by {g} query heads")
    fig = make_subplots(rows=len(kinds), cols=1, subplot_titles=titles, vertical_spacing=0.12)
    size = int(np.clip(520 / max(n_heads, 1), 5, 22))
    for row, kind in enumerate(kinds, start=1):
        n_kv = variants[kind]
        colors = categorical(n_kv)
        reads = [kv_head_of(h, n_heads, n_kv) for h in range(n_heads)]
        kv_x = [float(np.mean([h for h in range(n_heads) if reads[h] == j])) for j in range(n_kv)]
        xs, ys = [], []
        for h, j in enumerate(reads):
            xs += [h, kv_x[j], None]
            ys += [0, 1, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#b0b0b0", width=1),
                                 hoverinfo="skip", showlegend=False), row=row, col=1)
        fig.add_trace(go.Scatter(
            x=list(range(n_heads)), y=[0] * n_heads, mode="markers", showlegend=False,
            marker=dict(size=size, color=[colors[j] for j in reads], line=dict(color="#000000", width=1)),
            customdata=reads, hovertemplate="query head %{x} reads KV head %{customdata}<extra></extra>"),
            row=row, col=1)
        fig.add_trace(go.Scatter(
            x=kv_x, y=[1] * n_kv, mode="markers", showlegend=False,
            marker=dict(size=size + 6, symbol="square", color=colors, line=dict(color="#000000", width=1.5)),
            customdata=list(range(n_kv)), hovertemplate="KV head %{customdata} (cached)<extra></extra>"),
            row=row, col=1)
        fig.update_yaxes(row=row, col=1, range=[-0.45, 1.45], tickvals=[0, 1],
                         ticktext=["query heads", "K/V heads (cached)"], showgrid=False, zeroline=False)
        fig.update_xaxes(row=row, col=1, range=[-0.8, n_heads - 0.2], showgrid=False, zeroline=False,
                         showticklabels=n_heads <= 32, dtick=1 if n_heads <= 16 else 4)
    fig.update_layout(title="Which K/V head each query head reads", hovermode="closest")
    return fig


def measured_vs_formula(runs: Sequence[dict]) -> go.Figure:
    """Formula lines with the measured cache bytes on top, one colour per model.

    runs: [{"label", "kind", "lengths", "measured", "formula"}] with int arrays over steps.
    """
    fig = go.Figure()
    palette = [OKABE_ITO[5], OKABE_ITO[4], OKABE_ITO[2], OKABE_ITO[6]]
    for i, r in enumerate(runs):
        c = palette[i % len(palette)]
        fig.add_trace(go.Scatter(x=r["lengths"], y=np.asarray(r["formula"]) / 1024, mode="lines",
                                 name=f"{r['label']}: formula", line=dict(color=c, width=3),
                                 hovertemplate="%{x} tokens: %{y:,.2f} KiB (formula)<extra></extra>"))
        step = max(1, len(r["lengths"]) // 48)   # keep the markers readable on long runs
        fig.add_trace(go.Scatter(x=r["lengths"][::step], y=np.asarray(r["measured"][::step]) / 1024,
                                 mode="markers", name=f"{r['label']}: measured DynamicCache",
                                 marker=dict(color="#ffffff", size=8, symbol=KIND_SYMBOL.get(r["kind"], "circle"),
                                             line=dict(color=c, width=2)),
                                 hovertemplate="%{x} tokens: %{y:,.2f} KiB (measured)<extra></extra>"))
    # outside ticks keep the two axes' "0" labels apart at the corner (they overlapped)
    fig.update_xaxes(title="tokens in the cache", rangemode="tozero", ticks="outside", ticklen=6)
    fig.update_yaxes(title="KV cache (KiB)", rangemode="tozero", ticks="outside", ticklen=6)
    fig.update_layout(title="Measured cache bytes on the formula's line", legend=dict(orientation="h", y=-0.25))
    return fig


def fit_bars(rows: Sequence[dict], capacity: int, gpu_label: str) -> go.Figure:
    """Weights + KV cache per attention kind as stacked horizontal bars against the usable GPU memory.

    rows: [{"kind", "label", "weights", "cache"}] in bytes.
    """
    gib = 2 ** 30
    labels = [r["label"] for r in rows]
    fig = go.Figure([
        go.Bar(y=labels, x=[r["weights"] / gib for r in rows], orientation="h", name="weights",
               marker=dict(color=WEIGHTS_COLOR), hovertemplate="weights: %{x:,.2f} GiB<extra></extra>"),
        go.Bar(y=labels, x=[r["cache"] / gib for r in rows], orientation="h", name="KV cache",
               marker=dict(color=[KIND_COLORS[r["kind"]] for r in rows],
                           pattern=dict(shape=[KIND_PATTERN[r["kind"]] for r in rows])),
               hovertemplate="KV cache: %{x:,.2f} GiB<extra></extra>"),
    ])
    fig.add_vline(x=capacity / gib, line=dict(color="#000000", width=3, dash="dash"),
                  annotation_text=gpu_label, annotation_position="top")
    for r in rows:   # the total at the end of each bar, with the verdict in words (not colour alone)
        total = r["weights"] + r["cache"]
        verdict = "fits" if total <= capacity else "does not fit"
        fig.add_annotation(x=total / gib, y=r["label"], text=f"{total / gib:,.1f} GiB: {verdict}",
                           xanchor="left", xshift=6, showarrow=False)
    xmax = max(capacity, *(r["weights"] + r["cache"] for r in rows)) / gib
    fig.update_xaxes(range=[0, xmax * 1.3])
    fig.update_layout(barmode="stack", title="Weights + KV cache vs GPU memory",
                      legend=dict(orientation="h", y=-0.3), yaxis=dict(autorange="reversed"))
    fig.update_xaxes(title="GiB")
    return fig
