"""Plotly figures for the MoE page: data in, go.Figure out (no Streamlit)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.charts.attention import fast_figure, unique_labels
from explorer.charts.theme import HEATMAP, OKABE_ITO, categorical, shared_figure

GREY = "#9a9a9a"
INK = "#111111"


def expert_colors(n: int) -> list[str]:
    """One colour per expert, the same in every figure; Okabe-Ito's yellow is skipped (faint on white)."""
    if n <= 7:
        return [OKABE_ITO[i] for i in (0, 1, 2, 4, 5, 6, 7)][:n]
    return categorical(n)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def toy_sankey(tokens: Sequence[str], experts: Sequence[str], chosen: np.ndarray, weights: np.ndarray,
               title: str = "") -> go.Figure:
    """Tokens on the left, experts on the right; a band per chosen expert, as wide as its weight."""
    T, E = len(tokens), len(experts)
    ecol = expert_colors(E)
    # the weights go into the expert labels, so a projector audience can read them without hovering
    into = [[] for _ in range(E)]
    for t in range(T):
        for s in range(chosen.shape[1]):
            into[int(chosen[t, s])].append(f"{tokens[t]} {weights[t, s]:.3g}")
    names = unique_labels(list(experts))
    labels = [f"“{t}”" for t in unique_labels(list(tokens))] + \
        [f"{names[e]}: {', '.join(unique_labels(into[e]))}" if into[e] else f"{names[e]}: no token" for e in range(E)]
    src, dst, val, col, lab = [], [], [], [], []
    # plotly draws no node without a flow: an expert no token chose gets a hair-thin, invisible band from an
    # invisible node, so that every expert is on the picture (a newcomer learns it exists and stays idle)
    idle = [e for e in range(E) if not into[e]]
    for e in idle:
        src.append(T + E)
        dst.append(T + e)
        val.append(1e-3 * max(1.0, float(weights.sum())))
        col.append("rgba(0,0,0,0)")
        lab.append(f"no token chose {experts[e]}")
    for t in range(T):
        for s in range(chosen.shape[1]):
            e = int(chosen[t, s])
            src.append(t)
            dst.append(T + e)
            val.append(float(weights[t, s]))
            col.append(_rgba(ecol[e], 0.55))
            lab.append(f"{tokens[t]} → {experts[e]}: {weights[t, s]:.3f}")
    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        # plotly writes a node's label level with the node's top: the top nodes' labels need room above the
        # nodes (presenter mode's larger type cut "returns: refund 0.87" at the figure's top edge)
        domain=dict(x=[0, 1], y=[0, 0.9]),
        node=dict(label=labels + [""] * bool(idle), pad=30, thickness=26,
                  line=dict(color=[INK] * (T + E) + ["rgba(0,0,0,0)"] * bool(idle),
                            width=[1] * (T + E) + [0] * bool(idle)),
                  color=[GREY] * T + ecol + ["rgba(0,0,0,0)"] * bool(idle),
                  x=[0.01] * T + [0.99] * E + [0.01] * bool(idle),
                  y=[(i + 0.5) / T for i in range(T)] + [(i + 0.5) / E for i in range(E)] + [0.99] * bool(idle),
                  hovertemplate="%{label}: %{value:.3f}<extra></extra>"),
        link=dict(source=src, target=dst, value=val, color=col, customdata=lab,
                  hovertemplate="%{customdata}<extra></extra>"),
    ))
    fig.update_layout(title=title)
    return fig


@shared_figure
def router_heatmap(probs: np.ndarray, chosen: np.ndarray, weights: np.ndarray, tokens: Sequence[str],
                   experts: Sequence[str], title: str = "", highlight: int | None = None) -> go.Figure:
    """probs [token, expert] as colour; the chosen top-k cells outlined and labelled with their mixing weight."""
    T, E = probs.shape
    rows = unique_labels(list(tokens))
    cols = list(experts)
    text = np.full((T, E), "", dtype=object)
    for t in range(T):
        for s in range(chosen.shape[1]):
            text[t, chosen[t, s]] = f"{weights[t, s]:.2f}"
    names = np.empty((T, E, 2), dtype=object)              # hover: the token and the expert of each cell
    names[:, :, 0] = np.asarray(rows, dtype=object)[:, None]
    names[:, :, 1] = np.asarray(cols, dtype=object)[None, :]
    # numeric axes (labels as ticks), so that every chosen cell's frame is a path in one trace: a layout
    # shape per cell would make thousands of shapes on a long text
    heat = dict(type="heatmap",
                z=np.round(probs.astype(np.float32), 4), x=np.arange(E), y=np.arange(T), colorscale=HEATMAP,
                zmin=0, zmax=1, text=text, customdata=names, texttemplate="<b>%{text}</b>",
                textfont=dict(color="white", size=14),
                colorbar=dict(title=dict(text="router probability", side="right"), thickness=14),
                hovertemplate="token %{customdata[0]}<br>%{customdata[1]}: probability %{z:.3f}<br>mixing weight "
                              "%{text}<extra></extra>",
                xgap=1, ygap=1)
    # each chosen cell framed: a black frame with a white one inside, visible on both ends of viridis
    frames = []
    for color, width, inset in ((INK, 3, 0.02), ("white", 1.5, 0.08)):
        xs, ys = [], []
        for t in range(T):
            for e in chosen[t]:
                x0, x1, y0, y1 = e - 0.5 + inset, e + 0.5 - inset, t - 0.5 + inset, t + 0.5 - inset
                xs += [x0, x1, x1, x0, x0, None]
                ys += [y0, y0, y1, y1, y0, None]
        frames.append(dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=color, width=width),
                           hoverinfo="skip", showlegend=False))
    shapes = []
    if highlight is not None and 0 <= highlight < T:
        shapes.append(dict(type="rect", xref="x domain", yref="y", x0=0, x1=1, y0=highlight - 0.5,
                           y1=highlight + 0.5, line=dict(color=INK, width=2, dash="dot")))
    fig = fast_figure([heat] + frames, dict(shapes=shapes))
    step = max(1, -(-T // 48))                               # at most ~48 token labels; hover names every row
    fig.update_yaxes(autorange="reversed", title="token", tickvals=list(range(0, T, step)), ticktext=rows[::step],
                     range=[T - 0.5, -0.5], showgrid=False, zeroline=False)
    fig.update_xaxes(title="expert", side="top", tickvals=list(range(E)), ticktext=cols, range=[-0.5, E - 0.5],
                     showgrid=False, zeroline=False)
    fig.update_layout(title=title, height=int(min(1400, max(320, 26 * T + 160))))
    return fig


@shared_figure
def path_grid(top1: np.ndarray, chosen: np.ndarray, weights: np.ndarray, tokens: Sequence[str],
              experts: Sequence[str], highlight: int | None = None) -> go.Figure:
    """Each token's experts in every layer: colour = its first choice, text = all k choices with weights.

    top1 int [token, layer]; chosen int [layer, token, k]; weights [layer, token, k].
    """
    T, L = top1.shape
    E = len(experts)
    ecol = expert_colors(E)
    # a stepped colourscale: value e in [e, e+1) -> expert e's colour
    scale = []
    for e, c in enumerate(ecol):
        scale += [[e / E, c], [(e + 1) / E, c]]
    text = np.empty((T, L), dtype=object)
    for t in range(T):
        for layer in range(L):
            text[t, layer] = " + ".join(f"{experts[int(chosen[layer, t, s])]} {weights[layer, t, s]:.2f}"
                                        for s in range(chosen.shape[2]))
    rows = unique_labels(list(tokens))
    cols = [f"layer {i}" for i in range(L)]
    fig = go.Figure(go.Heatmap(
        z=top1 + 0.5, x=cols, y=rows, zmin=0, zmax=E, colorscale=scale, text=text, texttemplate="%{text}",
        textfont=dict(color=INK, size=12), xgap=3, ygap=2,
        colorbar=dict(title=dict(text="first choice", side="right"), tickvals=[e + 0.5 for e in range(E)],
                      ticktext=list(experts), thickness=14),
        hovertemplate="token %{y}, %{x}<br>%{text}<extra></extra>"))
    if highlight is not None and 0 <= highlight < T:
        fig.add_hrect(y0=highlight - 0.5, y1=highlight + 0.5, line=dict(color=INK, width=3))
    fig.update_yaxes(autorange="reversed", type="category", title="token")
    fig.update_xaxes(side="top", type="category")
    fig.update_layout(height=int(min(1400, max(300, 26 * T + 130))))
    return fig


def path_sankey(top1: np.ndarray, transitions: np.ndarray, experts: Sequence[str], highlight: int | None = None,
                token_label: str = "") -> go.Figure:
    """First-choice experts layer by layer: a band per move, as wide as the number of tokens making it.

    The followed token's own moves are drawn as separate dark bands.
    """
    T, L = top1.shape
    E = len(experts)
    ecol = expert_colors(E)
    node = lambda layer, e: layer * E + e   # noqa: E731
    labels = [f"L{layer} {experts[e]}" for layer in range(L) for e in range(E)]
    xs = [0.01 + 0.98 * layer / max(L - 1, 1) for layer in range(L) for _ in range(E)]
    ys = [0.02 + 0.96 * (e + 0.5) / E for _ in range(L) for e in range(E)]
    src, dst, val, col, hov = [], [], [], [], []
    for layer in range(L - 1):
        for a in range(E):
            for b in range(E):
                n = int(transitions[layer, a, b])
                if highlight is not None and top1[highlight, layer] == a and top1[highlight, layer + 1] == b:
                    n -= 1
                    src.append(node(layer, a)), dst.append(node(layer + 1, b)), val.append(1)
                    col.append("rgba(17,17,17,0.85)")
                    hov.append(f"{token_label}: {experts[a]} in layer {layer} → {experts[b]} in layer {layer + 1}")
                if n > 0:
                    src.append(node(layer, a)), dst.append(node(layer + 1, b)), val.append(n)
                    col.append(_rgba(ecol[a], 0.45))
                    hov.append(f"{n} token(s): {experts[a]} in layer {layer} → {experts[b]} in layer {layer + 1}")
    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        # plotly writes a node's label level with the node's top: the top nodes' labels need room above the
        # nodes (presenter mode's larger type cut "returns: refund 0.87" at the figure's top edge)
        domain=dict(x=[0, 1], y=[0, 0.9]),
        node=dict(label=labels, x=xs, y=ys, pad=12, thickness=18, color=[ecol[e] for _ in range(L) for e in range(E)],
                  line=dict(color=INK, width=0.5), hovertemplate="%{label}: %{value} token(s)<extra></extra>"),
        link=dict(source=src, target=dst, value=val, color=col, customdata=hov,
                  hovertemplate="%{customdata}<extra></extra>")))
    fig.update_layout(height=420)
    return fig


@shared_figure
def load_bars(requested: np.ndarray, accepted: np.ndarray, experts: Sequence[str], balanced: float,
              cap: int | None, title: str = "") -> go.Figure:
    """Assignments per expert: kept (solid) and over capacity (hatched); even split and capacity as lines."""
    E = len(experts)
    ecol = expert_colors(E)
    over = np.asarray(requested) - np.asarray(accepted)
    fig = go.Figure([
        go.Bar(x=list(experts), y=accepted, name="processed", marker=dict(color=ecol, line=dict(color=INK, width=1)),
               text=[str(int(a)) for a in accepted], textposition="inside",
               hovertemplate="%{x}: %{y} processed<extra></extra>"),
        go.Bar(x=list(experts), y=over, name="over capacity (dropped)",
               marker=dict(color="white", line=dict(color=INK, width=1.5), pattern=dict(shape="/", fgcolor=INK)),
               text=[str(int(o)) if o else "" for o in over], textposition="outside",
               hovertemplate="%{x}: %{y} dropped<extra></extra>"),
    ])
    fig.add_hline(y=balanced, line=dict(color=INK, dash="dot", width=2),
                  annotation_text=f"even split {balanced:g}", annotation_position="top left")
    if cap is not None:
        fig.add_hline(y=cap, line=dict(color=OKABE_ITO[5], dash="dash", width=3),
                      annotation_text=f"capacity {cap}", annotation_position="top right")
    top = max(float(np.max(requested)) if len(requested) else 0, balanced, cap or 0)
    fig.update_layout(barmode="stack", title=title, yaxis=dict(title="tokens routed here", range=[0, top * 1.25 + 1]),
                      legend=dict(orientation="h", y=-0.15), height=380)
    return fig


def size_bars(shared: int, active_experts: int, idle_experts: int, bytes_per_param: float, dtype: str) -> go.Figure:
    """Two stacked bars: what must be in memory vs what one token computes with (in parameters, with GB)."""
    gb = lambda n: n * bytes_per_param / 1e9   # noqa: E731
    parts = [("shared (attention, embeddings, norms, router)", shared, shared, GREY),
             ("experts a token uses (top-k)", active_experts, active_experts, OKABE_ITO[4]),
             ("experts it skips", idle_experts, 0, OKABE_ITO[0])]
    cats = ["in memory", "used per token"]
    fig = go.Figure()
    for name, mem, used, color in parts:
        fig.add_trace(go.Bar(
            y=cats, x=[mem / 1e9, used / 1e9], name=name, orientation="h", marker=dict(color=color),
            text=[f"{v / 1e9:,.1f}B" if v > 0.08 * (shared + active_experts + idle_experts) else "" for v in (mem, used)],
            textposition="inside", textangle=0, customdata=[gb(mem), gb(used)],
            hovertemplate=f"{name}<br>%{{x:,.2f}}B parameters = %{{customdata:,.1f}} GB in {dtype}<extra></extra>"))
    fig.update_layout(barmode="stack", xaxis=dict(title="parameters (billions)"), height=300,
                      legend=dict(orientation="h", y=-0.35), yaxis=dict(autorange="reversed"))
    return fig


def scaling_lines(n_experts: Sequence[int], totals: Sequence[float], actives: Sequence[float], current: int,
                  k: int) -> go.Figure:
    """Total and active parameters (billions) as the expert count grows at a fixed top-k."""
    fig = go.Figure([
        go.Scatter(x=list(n_experts), y=list(totals), name="total (in memory)", mode="lines",
                   line=dict(color=OKABE_ITO[0], width=3)),
        go.Scatter(x=list(n_experts), y=list(actives), name=f"active per token (top-{k})", mode="lines",
                   line=dict(color=OKABE_ITO[4], width=3, dash="dash")),
    ])
    i = list(n_experts).index(current) if current in n_experts else None
    if i is not None:
        fig.add_trace(go.Scatter(x=[current, current], y=[totals[i], actives[i]], mode="markers+text",
                                 marker=dict(size=11, color=INK), text=[f"{totals[i]:,.1f}B", f"{actives[i]:,.1f}B"],
                                 textposition=["top left", "top right"], showlegend=False, hoverinfo="skip"))
    # outside ticks keep the corner's "2" (or "1") and "0" apart
    fig.update_layout(xaxis=dict(title="experts per layer", type="log", tickvals=list(n_experts),
                                 ticktext=[str(n) for n in n_experts], ticks="outside", ticklen=6),
                      yaxis=dict(title="parameters (billions)", rangemode="tozero", ticks="outside", ticklen=6),
                      # in the empty top-left corner (the lines rise to the right): under the plot it ran into the
                      # axis title in presenter mode
                      legend=dict(x=0.02, y=0.98, xanchor="left", yanchor="top", bgcolor="rgba(255,255,255,0.8)"),
                      height=340)
    return fig
