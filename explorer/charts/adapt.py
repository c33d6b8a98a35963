"""Plotly figures for the Train & adapt page: data in, go.Figure out (no Streamlit)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.charts.theme import OKABE_ITO, shared_figure

INK = "#111111"
GREY = "#8c8c8c"
# one colour AND one dash per side of the fine-tuning comparison (never colour alone)
ARM_STYLE = {"full": (OKABE_ITO[5], "solid"), "lora": (OKABE_ITO[4], "dash")}
MEMORY_PARTS = [("weights", "weights", OKABE_ITO[1], ""), ("gradients", "gradients", OKABE_ITO[0], "/"),
                ("adam", "Adam states (fp32)", OKABE_ITO[6], ".")]


def _short(n: float) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.3g}"


def _decades(lo: float, hi: float) -> list[float]:
    return [10.0 ** e for e in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)]


@shared_figure
def scaling_plane(runs: Sequence[dict], current: dict, ratio: float = 20.0) -> go.Figure:
    """Parameters N (x) against training tokens D (y), log-log, with the D = ratio x N line.

    runs: [{"name", "params", "tokens", "position"}] (position: plotly textposition of the label);
    current: {"params", "tokens", "label"} — the sliders' run, drawn as a star.
    """
    xs = [r["params"] for r in runs] + [current["params"]]
    ys = [r["tokens"] for r in runs] + [current["tokens"]]
    x_lo, x_hi = min(xs) / 3, max(xs) * 3
    y_lo, y_hi = min(min(ys), ratio * x_lo) / 3, max(max(ys), ratio * x_hi / 30) * 3
    fig = go.Figure()
    line_x = np.array([x_lo, x_hi])
    fig.add_trace(go.Scatter(x=line_x, y=ratio * line_x, mode="lines", name=f"{ratio:g} tokens per parameter",
                             line=dict(color=INK, width=2.5, dash="dash"), hoverinfo="skip"))
    x_note = x_lo * 1.6
    fig.add_annotation(x=np.log10(x_note), y=np.log10(ratio * x_note), text=f"{ratio:g} tokens per parameter "
                       "(compute-optimal)", showarrow=False, yshift=-10, xanchor="left", yanchor="top",
                       font=dict(color=INK))
    fig.add_trace(go.Scatter(
        x=[r["params"] for r in runs], y=[r["tokens"] for r in runs], mode="markers+text", name="published runs",
        text=[r["name"] for r in runs], textposition=[r.get("position", "top center") for r in runs],
        marker=dict(size=11, color=OKABE_ITO[4], line=dict(color=INK, width=1)), cliponaxis=False,
        customdata=[[_short(r["params"]), _short(r["tokens"]), r["tokens"] / r["params"]] for r in runs],
        hovertemplate="%{text}<br>N = %{customdata[0]}, D = %{customdata[1]}<br>"
                      "%{customdata[2]:.1f} tokens per parameter<extra></extra>"))
    tpp = current["tokens"] / current["params"]
    # the star is a text glyph: its size stays as drawn when presenter mode restyles every scatter marker
    fig.add_trace(go.Scatter(
        x=[current["params"]], y=[current["tokens"]], mode="text", showlegend=False,
        text=["★"], textfont=dict(size=34, color=OKABE_ITO[5]), textposition="middle center",
        hovertemplate=f"{_short(current['params'])} parameters on {_short(current['tokens'])} tokens<br>"
                      f"{tpp:.1f} tokens per parameter<extra></extra>"))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=current.get("label", "your run"),
                             marker=dict(symbol="star", size=14, color=OKABE_ITO[5])))   # its legend entry
    xt, yt = _decades(x_lo, x_hi), _decades(y_lo, y_hi)
    fig.update_xaxes(type="log", title="parameters N (log scale)", range=np.log10([x_lo, x_hi]),
                     tickvals=xt, ticktext=[_short(v) for v in xt])
    fig.update_yaxes(type="log", title="training tokens D (log scale)", range=np.log10([y_lo, y_hi]),
                     tickvals=yt, ticktext=[_short(v) for v in yt])
    fig.update_layout(title="Parameters vs training tokens: above the line = more tokens per parameter",
                      legend=dict(orientation="h", y=-0.18), hovermode="closest")
    return fig


@shared_figure
def scorecard(rows: Sequence[dict], winner: str | None, scenario: str) -> go.Figure:
    """One bar per candidate: its score, with quality − latency points − cost points written beside it.

    rows: [{"name", "score", "quality", "latency_points", "cost_points", "eligible"}], best first;
    a candidate that fails the licence gate is grey and hatched, and never the winner.
    """
    rows = list(rows)[::-1]          # best on top
    colors, patterns, lines, texts = [], [], [], []
    for r in rows:
        win = r["name"] == winner
        colors.append(OKABE_ITO[2] if win else (OKABE_ITO[1] if r["eligible"] else "#d0d0d0"))
        patterns.append("" if r["eligible"] else "x")
        lines.append(3 if win else 1)
        tag = "  ✔ chosen" if win else ("  ✘ licence fails the gate" if not r["eligible"] else "")
        texts.append(f"{r['score']:.2f} = {r['quality']:g} − {r['latency_points']:.2f} latency − "
                     f"{r['cost_points']:.2f} cost{tag}")
    fig = go.Figure(go.Bar(
        y=[r["name"] for r in rows], x=[r["score"] for r in rows], orientation="h", text=texts,
        textposition="outside", cliponaxis=False,
        marker=dict(color=colors, pattern=dict(shape=patterns, fgcolor=GREY), line=dict(color=INK, width=lines)),
        hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    hi = max([r["quality"] for r in rows] + [1.0])
    lo = min([r["score"] for r in rows] + [0.0])
    fig.update_xaxes(title="score (points)", range=[lo * 1.1, hi * 2.0], zeroline=True, zerolinecolor=INK)
    fig.update_yaxes(automargin=True)
    fig.update_layout(title=f"Scorecard for “{scenario}”", showlegend=False, bargap=0.35)
    return fig


def memory_bars(rows: Sequence[dict]) -> go.Figure:
    """Training memory per strategy, stacked: weights, gradients, Adam states (bytes).

    rows: [{"label", "weights", "gradients", "adam", "trainable", "total"}], in display order.
    """
    labels = [r["label"] for r in rows][::-1]
    totals = [sum(r[k] for k, *_ in MEMORY_PARTS) for r in rows][::-1]
    scale, unit = next(((s, u) for s, u in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB"))
                        if max(totals) >= 2 * s), (1, "bytes"))
    fig = go.Figure()
    for key, name, color, pattern in MEMORY_PARTS:
        fig.add_trace(go.Bar(
            y=labels, x=[r[key] / scale for r in rows][::-1], orientation="h", name=name,
            marker=dict(color=color, pattern=dict(shape=pattern, fgcolor=INK), line=dict(color=INK, width=1)),
            hovertemplate=f"%{{y}}<br>{name}: %{{x:,.3f}} {unit}<extra></extra>"))
    share = [f"  {_gib(t)} · {r['trainable'] / r['total']:.2%} trainable" for t, r in zip(totals, rows[::-1])]
    fig.add_trace(go.Scatter(y=labels, x=[t / scale for t in totals], mode="text", text=share,
                             textposition="middle right", showlegend=False, hoverinfo="skip", cliponaxis=False))
    fig.update_xaxes(title=f"training memory ({unit}; activations not included)", range=[0, max(totals) / scale * 1.9])
    fig.update_yaxes(automargin=True)
    fig.update_layout(barmode="stack", title="What training holds in memory, per strategy",
                      legend=dict(x=0.99, xanchor="right", y=0.02, yanchor="bottom", traceorder="normal",
                                  bgcolor="rgba(255,255,255,0.85)"), bargap=0.3)
    return fig


def _gib(b: float) -> str:
    for size, unit in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} B"


def loss_curves(arms: Sequence[dict], steps: int) -> go.Figure:
    """Training loss per step, one line per arm (log scale), the x axis fixed to the run's length.

    arms: [{"kind": "full" | "lora", "label", "losses"}].
    """
    fig = go.Figure()
    top = 1.0 if arms else 10.0
    for a in arms:
        color, dash = ARM_STYLE.get(a["kind"], (INK, "solid"))
        y = np.asarray(a["losses"], dtype=float)
        top = max(top, float(y.max()) if y.size else top)
        fig.add_trace(go.Scatter(x=np.arange(1, y.size + 1), y=y, mode="lines", name=a["label"],
                                 line=dict(color=color, width=3, dash=dash),
                                 hovertemplate=f"{a['label']}<br>step %{{x}}: loss %{{y:.3f}}<extra></extra>"))
        if y.size:
            fig.add_trace(go.Scatter(x=[y.size], y=[y[-1]], mode="markers+text", text=[f" {y[-1]:.3f}"],
                                     textposition="top right" if a["kind"] == "full" else "bottom right", showlegend=False, hoverinfo="skip",
                                     marker=dict(color=color, size=10, line=dict(color=INK, width=1)),
                                     textfont=dict(color=color), cliponaxis=False))
    fig.update_xaxes(title="training step", range=[0, steps * 1.08])
    fig.update_yaxes(type="log", title="training loss (log scale)", range=[np.log10(0.003), np.log10(top * 1.5)],
                     tickvals=[0.01, 0.1, 1, 10], ticktext=["0.01", "0.1", "1", "10"])
    fig.update_layout(title="Training loss on your text", legend=dict(orientation="h", y=-0.2), hovermode="x unified")
    return fig
