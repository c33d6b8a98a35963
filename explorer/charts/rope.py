"""Plotly figures for the RoPE page: data in, go.Figure out (no Streamlit)."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.theme import DIVERGING, HEATMAP, OKABE_ITO, shared_figure

Q_COLOR, K_COLOR = OKABE_ITO[4], OKABE_ITO[5]   # blue query, vermillion key (distinct in every CVD type)
GREY = "#9a9a9a"
# Okabe-Ito without its yellow, which is too faint for thin lines on white (and on projectors)
LINES = [OKABE_ITO[i] for i in (0, 1, 2, 4, 5, 6, 7)]
# one colour per context-extension method, the same in every figure (no yellow: it vanishes on white)
METHOD_COLORS = {"original": "#000000", "linear": OKABE_ITO[1], "ntk": OKABE_ITO[2], "yarn": OKABE_ITO[5]}


def _arrow(v, color: str, name: str, tip: str = "", dash: str | None = None, width: int = 4,
           opacity: float = 1.0) -> go.Scatter:
    """A vector from the origin with an arrow head and a short label at its tip."""
    return go.Scatter(x=[0, v[0]], y=[0, v[1]], mode="lines+markers+text", name=name, opacity=opacity,
                      text=["", tip], textposition="top center", textfont=dict(color=color, size=16),
                      line=dict(color=color, width=width, dash=dash),
                      marker=dict(symbol=["circle", "arrow"], size=[1, 16], angleref="previous", color=color),
                      hovertemplate=f"{name}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>")


def lesson_circle(q, k, m: int, n: int, theta: float, rotate2d: Callable, score: Callable,
                  shifts: int = 24) -> go.Figure:
    """q and k on the unit circle, rotated to positions m and n; frames shift both positions together.

    rotate2d(v, angle) and score(m, n) come from the engine, so every drawn number is computed.
    """
    t = np.linspace(0, 2 * np.pi, 181)

    def state(s: int):
        qm, kn = rotate2d(q, (m + s) * theta), rotate2d(k, (n + s) * theta)
        title = f"m = {m + s}, n = {n + s} (gap {m - n}): q·k = {score(m + s, n + s):.6f}"
        return qm, kn, title

    qm, kn, title = state(0)
    fig = go.Figure([
        go.Scatter(x=np.cos(t), y=np.sin(t), mode="lines", line=dict(color=GREY, width=1.5), name="unit circle",
                   hoverinfo="skip"),
        _arrow(q, Q_COLOR, "q before rotation", "q", dash="dash", width=3, opacity=0.85),
        _arrow(k, K_COLOR, "k before rotation", "k", dash="dash", width=3, opacity=0.85),
        _arrow(qm, Q_COLOR, "q rotated by m·θ", "R(mθ)q"),
        _arrow(kn, K_COLOR, "k rotated by n·θ", "R(nθ)k"),
    ])
    frames = []
    for s in range(shifts + 1):
        a, b, ttl = state(s)
        frames.append(go.Frame(name=str(s), traces=[3, 4],
                               data=[go.Scatter(x=[0, a[0]], y=[0, a[1]]), go.Scatter(x=[0, b[0]], y=[0, b[1]])],
                               layout=go.Layout(title_text=ttl)))
    fig.frames = frames
    play = dict(label="▶ shift both positions", method="animate",
                args=[None, dict(frame=dict(duration=350, redraw=True), transition=dict(duration=150),
                                 fromcurrent=False, mode="immediate")])
    back = dict(label="⟲ reset", method="animate",
                args=[["0"], dict(frame=dict(duration=0, redraw=True), mode="immediate")])
    fig.update_layout(
        title=title,
        # constrain="domain": keep the circle round by shrinking the plot area, not by widening the range
        xaxis=dict(range=[-1.3, 1.3], zeroline=True, scaleanchor="y", scaleratio=1, constrain="domain"),
        yaxis=dict(range=[-1.3, 1.3], zeroline=True, constrain="domain"),
        # the buttons on the left, the slider under them with its value on the right: side by side, the slider's
        # value was drawn over the reset button
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.12, xanchor="left", yanchor="top",
                          buttons=[play, back], showactive=False)],
        sliders=[dict(active=0, x=0.0, len=1.0, y=-0.24, yanchor="top",
                      currentvalue=dict(prefix="shift +", xanchor="right"),
                      steps=[dict(label=str(s), method="animate",
                                  args=[[str(s)], dict(frame=dict(duration=0, redraw=True), mode="immediate")])
                             for s in range(shifts + 1)])],
        showlegend=False,
    )
    return fig


def score_vs_gap(gaps: np.ndarray, scores: np.ndarray, marks: Sequence[tuple[int, int, float]],
                 current: tuple[int, int, float], whole: tuple[np.ndarray, np.ndarray] | None = None) -> go.Figure:
    """Score against m - n; marks are (m, n, score) lesson points, current is the sliders' point.

    gaps/scores draw the curve (finely sampled: the score is a cosine of the gap, smooth between whole gaps);
    whole = (gaps, scores) at whole gaps, the only gaps tokens can have, drawn as dots on it.
    """
    fig = go.Figure(go.Scatter(x=gaps, y=scores, mode="lines", name="score(m − n)", line=dict(color=Q_COLOR, width=3),
                               hovertemplate="gap %{x:.2f}<br>score %{y:.6f}<extra></extra>"))
    if whole is not None:
        fig.add_trace(go.Scatter(x=whole[0], y=whole[1], mode="markers", name="whole gaps",
                                 marker=dict(color=Q_COLOR, size=5), hovertemplate="gap %{x}<br>score %{y:.6f}"
                                 "<extra></extra>"))
    by_gap: dict[int, list] = {}
    for m, n, s in marks:
        by_gap.setdefault(m - n, []).append((m, n, s))
    fig.add_trace(go.Scatter(x=list(by_gap), y=[v[0][2] for v in by_gap.values()], mode="markers+text",
                             name="lesson pairs (m, n)", marker=dict(color=OKABE_ITO[0], size=12, symbol="diamond"),
                             text=[" ".join(f"({m},{n})" for m, n, _ in v) for v in by_gap.values()],
                             textposition="bottom center",
                             hovertemplate="gap %{x}<br>score %{y:.6f}<extra></extra>"))
    m, n, s = current
    fig.add_trace(go.Scatter(x=[m - n], y=[s], mode="markers", name=f"your sliders ({m},{n})",
                             marker=dict(color=K_COLOR, size=14, symbol="circle-open", line=dict(width=3))))
    fig.update_layout(title="The score depends only on the gap m − n", xaxis_title="gap m − n",
                      yaxis_title="q·k after rotation", legend=dict(orientation="h", y=-0.25))
    return fig


def rotation_heatmap(values: np.ndarray, positions: np.ndarray, what: str) -> go.Figure:
    """values [pair, position]: cos(m θ_i) or the angle m θ_i mod 2π."""
    is_cos = what == "cos"
    fig = go.Figure(go.Heatmap(
        z=values, x=positions, y=np.arange(values.shape[0]),
        colorscale=DIVERGING if is_cos else "Twilight", zmin=-1 if is_cos else 0, zmax=1 if is_cos else 2 * np.pi,
        colorbar=dict(title=dict(text="cos(m·θᵢ)" if is_cos else "angle mod 2π", side="right")),
        hovertemplate="position %{x}<br>pair %{y}<br>%{z:.3f}<extra></extra>"))
    fig.update_layout(title="Each pair turns at its own speed: fast pairs at the top, slow at the bottom",
                      xaxis_title="position m", yaxis_title="pair i (θᵢ = base^(−2i/d))",
                      yaxis=dict(autorange="reversed"))
    return fig


def score_matrix(S: np.ndarray, spread: float) -> go.Figure:
    lim = float(np.abs(S).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=S, colorscale=DIVERGING, zmin=-lim, zmax=lim, colorbar=dict(title=dict(text="q·k", side="right")),
                               hovertemplate="query position m %{y}<br>key position n %{x}<br>score %{z:.6f}"
                                             "<extra></extra>"))
    fig.update_layout(title="(R_m q)·(R_n k): constant along every diagonal",
                      xaxis_title="key position n", yaxis_title="query position m", xaxis=dict(constrain="domain"),
                      yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain"))
    return fig


def decay_curves(distances: np.ndarray, curves: dict[str, np.ndarray], title: str, y_title: str,
                 trained: int | None = None, log_x: bool = False, dash: dict[str, str] | None = None,
                 colors: list[str] | None = None) -> go.Figure:
    colors = colors or LINES
    fig = go.Figure()
    for (name, y), c in zip(curves.items(), colors):
        fig.add_trace(go.Scatter(x=distances, y=y, mode="lines", name=name,
                                 line=dict(color=c, width=2.5, dash=(dash or {}).get(name)),
                                 hovertemplate=f"{name}<br>distance %{{x}}<br>%{{y:.4f}}<extra></extra>"))
    if trained:
        fig.add_vrect(x0=max(distances[0], 1) if log_x else distances[0], x1=trained, fillcolor=OKABE_ITO[2],
                      opacity=0.08, line_width=0, annotation_text=f"trained context ({trained:,})",
                      annotation_position="top left")
    fig.update_layout(title=title, xaxis_title="distance m − n (tokens)", yaxis_title=y_title,
                      xaxis_type="log" if log_x else "linear", legend=dict(orientation="h", y=-0.22))
    if log_x:
        fig.update_xaxes(dtick=1)
    return fig


def per_pair(pairs: np.ndarray, curves: dict[str, np.ndarray], title: str, y_title: str, log_y: bool = True,
             hlines: dict[str, float] | None = None, vband: tuple[float, float] | None = None,
             colors: list[str] | None = None, y_ticks: dict[float, str] | None = None) -> go.Figure:
    colors = colors or LINES
    fig = go.Figure()
    for (name, y), c in zip(curves.items(), colors):
        fig.add_trace(go.Scatter(x=pairs, y=y, mode="lines", name=name, line=dict(color=c, width=3),
                                 hovertemplate=f"{name}<br>pair %{{x}}<br>%{{y:.4g}}<extra></extra>"))
    for (label, y), dash in zip((hlines or {}).items(), ["dash", "dot", "dashdot"]):
        # a legend entry rather than an hline annotation: those land in the wrong place on log axes
        fig.add_trace(go.Scatter(x=[pairs[0], pairs[-1]], y=[y, y], mode="lines", name=label,
                                 line=dict(color="#555555", dash=dash, width=2), hoverinfo="skip"))
    if vband:
        fig.add_vrect(x0=vband[0], x1=vband[1], fillcolor=OKABE_ITO[3], opacity=0.15, line_width=0,
                      annotation_text="YaRN ramp", annotation_position="bottom right")
    fig.update_layout(title=title, xaxis_title="pair i", yaxis_title=y_title, yaxis_type="log" if log_y else "linear",
                      legend=dict(orientation="h", y=-0.22))
    if y_ticks:
        fig.update_yaxes(tickvals=list(y_ticks), ticktext=list(y_ticks.values()))
    elif log_y:
        fig.update_yaxes(dtick=1)   # one label per decade: log axes otherwise label 2, 5, ... between them
    return fig


@shared_figure
def pair_tracks(pre: dict[int, np.ndarray], post: dict[int, np.ndarray], labels: list[str],
                thetas: dict[int, float], which: str, focus: int) -> go.Figure:
    """One panel per pair: every token's 2-D value after rotation (colour = position), and one token's turn.

    pre/post: {pair: [position, 2]}; labels: one per position (token text, shown on hover);
    focus: the position whose rotation is drawn as an arc from its pre-rotary value (hollow) to its
    rotated value (filled), turning by focus * theta.
    """
    pairs = list(pre)
    cols = min(len(pairs), 2)
    rows = -(-len(pairs) // cols)
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.08, vertical_spacing=0.12,
                        subplot_titles=[f"pair {p}: θ = {thetas[p]:.3g}, turned {focus * thetas[p]:.2f} rad"
                                        for p in pairs])
    T = len(labels)
    for j, p in enumerate(pairs):
        r, c = j // cols + 1, j % cols + 1
        a, b = pre[p], post[p]
        lim = float(max(np.abs(a).max(), np.abs(b).max(), 1e-6)) * 1.15
        fig.add_trace(go.Scatter(x=b[:, 0], y=b[:, 1], mode="markers", name=f"every token's {which}, rotated",
                                 showlegend=j == 0, legendgroup="post", opacity=0.55,
                                 marker=dict(size=8, color=np.arange(T), colorscale=HEATMAP, showscale=j == 0,
                                             colorbar=dict(title=dict(text="position", side="right"), len=0.6, y=0.5)),
                                 customdata=np.arange(T), text=labels,
                                 hovertemplate="pos %{customdata} %{text}<br>rotated (%{x:.3f}, %{y:.3f})"
                                               "<extra></extra>"), row=r, col=c)
        radius = float(np.hypot(*a[focus]))
        phi = float(np.arctan2(a[focus, 1], a[focus, 0]))
        arc = phi + np.linspace(0.0, focus * thetas[p], 240)
        fig.add_trace(go.Scatter(x=radius * np.cos(arc), y=radius * np.sin(arc), mode="lines",
                                 name=f"“{labels[focus]}” (position {focus}) turning by {focus}·θ",
                                 showlegend=j == 0, legendgroup="arc", line=dict(color=K_COLOR, width=3),
                                 hoverinfo="skip"), row=r, col=c)
        fig.add_trace(go.Scatter(x=[a[focus, 0]], y=[a[focus, 1]], mode="markers", name="before rotation",
                                 showlegend=j == 0, legendgroup="pre",
                                 marker=dict(symbol="circle-open", size=14, color="#000000", line=dict(width=3)),
                                 hovertemplate="before (%{x:.3f}, %{y:.3f})<extra></extra>"), row=r, col=c)
        fig.add_trace(go.Scatter(x=[b[focus, 0]], y=[b[focus, 1]], mode="markers", name="after rotation",
                                 showlegend=j == 0, legendgroup="after",
                                 marker=dict(symbol="circle", size=14, color=K_COLOR, line=dict(width=2, color="#000")),
                                 hovertemplate="after (%{x:.3f}, %{y:.3f})<extra></extra>"), row=r, col=c)
        anchor = "x" if j == 0 else f"x{j + 1}"
        ticks = _inner_ticks(lim)        # none at a corner, where the x and y labels would sit on each other
        fig.update_xaxes(range=[-lim, lim], zeroline=True, constrain="domain", tickvals=ticks, row=r, col=c)
        fig.update_yaxes(range=[-lim, lim], zeroline=True, scaleanchor=anchor, constrain="domain", tickvals=ticks,
                         row=r, col=c)
    fig.update_layout(title=f"The head's {which}, pair by pair: each turns by position × θ",
                      legend=dict(orientation="h", y=-0.08, yanchor="top"))
    return fig


def _inner_ticks(lim: float) -> list[float]:
    """-t, 0, t for an axis from -lim to lim: t the largest 1, 2 or 5 x 10^k within three quarters of lim, so no tick
    stands at the ends (in a square panel the bottom-left corner would carry both axes' end labels, e.g. −1 and −1)."""
    room = 0.75 * lim
    step = 10.0 ** math.floor(math.log10(room))
    t = next(m * step for m in (5, 2, 1) if m * step <= room)
    return [-t, 0.0, t]


@shared_figure
def turned_angle(positions: np.ndarray, turned: dict[int, np.ndarray], thetas: dict[int, float]) -> go.Figure:
    """The angle each pair was turned by (after − before, unwrapped) against position: slope θ_i."""
    colors = LINES
    fig = go.Figure()
    for (p, y), c in zip(turned.items(), colors):
        fig.add_trace(go.Scatter(x=positions, y=y, mode="markers", name=f"pair {p} measured",
                                 marker=dict(color=c, size=8),
                                 hovertemplate=f"pair {p}<br>position %{{x}}<br>turned %{{y:.4f}} rad<extra></extra>"))
        fig.add_trace(go.Scatter(x=positions, y=positions * thetas[p], mode="lines", name=f"m·θ{p}",
                                 line=dict(color=c, width=2, dash="dot"), hoverinfo="skip"))
    fig.update_layout(title="Angle turned = position × θᵢ (measured points on the formula's line)",
                      xaxis_title="position m", yaxis_title="angle turned (rad, unwrapped)",
                      legend=dict(orientation="h", y=-0.22))
    return fig


def cosine_heatmap(C: np.ndarray, positions: np.ndarray, trained: int | None = None,
                   clip: float = 1.0) -> go.Figure:
    """C [n, n] cosine similarities of the position embeddings at `positions`; dashed lines where training stopped.

    clip: colour range ±clip, so weak off-diagonal structure stays visible (the diagonal, 1, saturates).
    """
    fig = go.Figure(go.Heatmap(z=C, x=positions, y=positions, colorscale=DIVERGING, zmin=-clip, zmax=clip,
                               colorbar=dict(title=dict(text=f"cosine (±{clip:.2g})" if clip < 1 else "cosine", side="right")),
                               hovertemplate="position %{y} vs %{x}<br>cosine %{z:.3f}<extra></extra>"))
    if trained and trained <= positions[-1]:
        fig.add_hline(y=trained - 0.5, line=dict(color="#000000", dash="dash", width=2))
        fig.add_vline(x=trained - 0.5, line=dict(color="#000000", dash="dash", width=2))
    fig.update_layout(title="Learned position vectors: cosine similarity",
                      xaxis_title="position", yaxis_title="position", xaxis=dict(constrain="domain"),
                      yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain"))
    return fig


def similarity_by_gap(gaps: np.ndarray, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Mean cosine at each gap with a ±1 std band along the diagonal: {name: (mean [G], std [G])}."""
    fig = go.Figure()
    for (name, (mean, std)), c in zip(series.items(), LINES):
        band = np.concatenate([mean + std, (mean - std)[::-1]])
        fig.add_trace(go.Scatter(x=np.concatenate([gaps, gaps[::-1]]), y=band,
                                 fill="toself", fillcolor=c, opacity=0.2, line=dict(width=0), hoverinfo="skip",
                                 showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=gaps, y=mean, mode="lines", name=name, line=dict(color=c, width=3), legendgroup=name,
                                 customdata=std, hovertemplate=f"{name}<br>gap %{{x}}<br>mean %{{y:.3f}} "
                                                               f"± %{{customdata:.3f}}<extra></extra>"))
    fig.update_layout(title="Similarity against the gap m − n (band: spread along the diagonal)",
                      xaxis_title="gap m − n", yaxis_title="cosine", legend=dict(orientation="h", y=-0.22))
    return fig
