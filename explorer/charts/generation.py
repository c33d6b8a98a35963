"""Figures of the generation page: top-k bars with the top-p cut-off, before/after distributions,
the timeline of generated tokens, the logit-lens table and the newest token's attention.

Data in, go.Figure out; no Streamlit.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from explorer.charts.attention import _esc, fast_figure
from explorer.charts.theme import HEATMAP, HEATMAP_ALT, OKABE_ITO, shared_figure

CHOSEN = OKABE_ITO[5]        # vermillion: the token that was taken
KEPT = OKABE_ITO[4]          # blue: candidates that survive top-k/top-p
DROPPED = "#BBBBBB"          # grey: candidates cut away
CURVE = "#000000"


def _labels(tokens: list[str]) -> list[str]:
    """Unique category labels for plotly (two ranks can share a readable piece), HTML-escaped: plotly
    renders a small HTML subset in ticks and annotations, and a token such as <|endoftext|> must show as
    typed (unescaped, a chart's annotation at that category lands elsewhere)."""
    seen: dict[str, int] = {}
    out = []
    for t in tokens:
        t = _esc(t) if t.strip() else repr(t)
        n = seen.get(t, 0)
        seen[t] = n + 1
        out.append(t + "\u200b" * n)   # zero-width spaces keep duplicates apart without showing
    return out


def _share(p: float) -> str:
    """A bar's probability as its label: a whole percent, none under half a percent."""
    return f"{p:.0%}" if p >= 0.005 else ""


@shared_figure
def topk_bars(tokens: list[str], probs: np.ndarray, chosen: int | None, kept: int, cum: np.ndarray,
              top_p: float | None, top_k: int | None, title: str) -> go.Figure:
    """Bars of the k most likely next tokens; the chosen one highlighted; the cumulative curve with the
    top-p threshold and the cut-off rank (where top-k/top-p stop keeping tokens).

    tokens/probs/cum: length k, ranked by probability. chosen: its rank, or None if outside the k.
    kept: how many tokens survive truncation (ranks >= kept are cut).
    """
    k = len(tokens)
    labels = _labels(tokens)
    colors = [CHOSEN if i == chosen else (KEPT if i < kept else DROPPED) for i in range(k)]
    fig = go.Figure()
    fig.add_bar(x=labels, y=probs, marker_color=colors, name="probability",
                marker_line=dict(color=["#000000" if i == chosen else "rgba(0,0,0,0)" for i in range(k)], width=3),
                # the chosen bar's share is in its "chosen" note above it (a label there too: the two touched)
                text=["" if i == chosen else _share(p) for i, p in enumerate(probs)],
                textposition="outside",
                hovertemplate="%{x}: %{y:.4f}<extra></extra>")
    fig.add_scatter(x=labels, y=cum, mode="lines+markers", name="cumulative", line=dict(color=CURVE, width=2),
                    marker=dict(size=6), hovertemplate="first %{pointNumber} + 1 tokens: %{y:.3f}<extra></extra>")
    # the axis fits the data (a flat distribution is not slivers on the baseline of a 0-100% axis); the top-p line
    # is in it when the cumulative curve gets near it, else the cut-off note below says where truncation stops
    top = float(max(np.max(probs, initial=0), np.max(cum, initial=0)))
    if top_p is not None and top_p < 1 and top_p <= 1.25 * top:
        top = max(top, top_p)
    ymax = min(1.08, 1.2 * top + 0.02)
    if top_p is not None and top_p < 1 and top_p <= ymax:
        fig.add_hline(y=top_p, line=dict(color=CURVE, dash="dot", width=2),
                      annotation_text=f"top-p = {top_p:g}", annotation_position="top left")
    if kept < k:
        fig.add_vline(x=kept - 0.5, line=dict(color=CHOSEN, dash="dash", width=2))
        fig.add_annotation(x=kept - 0.5, y=1.0, yref="paper", text=f" cut-off: {kept} kept", showarrow=False,
                           xanchor="left", yanchor="top", font=dict(color=CHOSEN))
    elif kept > k and (top_p is not None and top_p < 1 or top_k):
        # under the title, not over the plot: the fitted axis puts the running sum where this note used to be
        title = f"{title}<br><sup>cut-off beyond this chart: {kept:,} tokens kept</sup>"
    if chosen is not None:
        fig.add_annotation(x=labels[chosen], y=float(probs[chosen]) + 0.01 * ymax,
                           text=f"chosen {_share(probs[chosen])}".rstrip(),
                           showarrow=True, arrowhead=2, ay=-30, font=dict(color=CHOSEN))
    fig.update_layout(title=title, yaxis=dict(range=[0, ymax], title="probability", tickformat=".2~%"),
                      xaxis=dict(title=None, tickangle=-40 if k > 8 else 0), showlegend=True,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1), bargap=0.25)
    return fig


def before_after(tokens: list[str], series: dict[str, np.ndarray], chosen: int | None) -> go.Figure:
    """Grouped bars: the same k tokens under each distribution (model, temperature, truncation)."""
    labels = _labels(tokens)
    fig = go.Figure()
    colors = [OKABE_ITO[1], OKABE_ITO[0], OKABE_ITO[4]]
    for (name, p), color in zip(series.items(), colors):
        fig.add_bar(x=labels, y=p, name=name, marker_color=color, hovertemplate=name + ": %{y:.4f}<extra></extra>")
    if chosen is not None:
        fig.add_annotation(x=labels[chosen], y=float(max(p[chosen] for p in series.values())), text="chosen",
                           showarrow=True, arrowhead=2, ay=-30)
    # ".2~%": ticks of a small range read 0.5%, 1%, 1.5% (".0%" rounded them to 1%, 1%, 2%, 2%)
    fig.update_layout(barmode="group", yaxis=dict(title="probability", tickformat=".2~%", rangemode="tozero"),
                      xaxis=dict(tickangle=-40 if len(tokens) > 8 else 0),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    return fig


def _wrap(texts: list[str], width: int) -> list[tuple[int, float, float]]:
    """(row, x start, x width) per token, wrapping at `width` characters."""
    out, row, x = [], 0, 0.0
    for t in texts:
        w = max(len(t), 1) + 0.6
        if x > 0 and x + w > width:
            row, x = row + 1, 0.0
        out.append((row, x, w))
        x += w
    return out


def timeline(prompt: list[str], generated: list[str], values: np.ndarray, metric: str, selected: int | None,
             width: int = 70, vmax: float | None = None) -> go.Figure:
    """The text as coloured tiles: prompt tokens grey, generated tokens coloured by `values`
    (probability of the token taken, or entropy in bits). Each generated tile carries its step
    number as customdata, so a click can show that step again.

    Two traces whatever the length (tiles: one horizontal bar trace; words: one text trace), never
    one layout shape per token: plotly re-validates every shape on each add, which made building
    this figure grow with the square of the tokens (8.6 s at 250 tokens, 142 s at 1,000). The
    traces are plain dicts (fast_figure): validating a colour per tile is the slow part otherwise.
    """
    texts = list(prompt) + list(generated)
    pos = _wrap(texts, width)
    n_rows = (pos[-1][0] + 1) if pos else 1
    n_prompt = len(prompt)
    is_prob = metric == "probability"
    scale = HEATMAP if is_prob else HEATMAP_ALT
    values = np.asarray(values, dtype=float)
    hi = 1.0 if is_prob else max(float(vmax or 0), float(values.max()) if len(values) else 0.0, 1.0)
    norm = (values / hi).clip(0, 1) if len(values) else np.zeros(0)
    fills = ["#E6E6E6"] * n_prompt + (sample_colorscale(scale, list(norm)) if len(norm) else [])
    rows = np.array([r for r, _, _ in pos], dtype=float)
    x0 = np.array([x for _, x, _ in pos], dtype=float)
    w = np.array([w for _, _, w in pos], dtype=float)
    steps = np.arange(len(texts)) - n_prompt                      # -k..-1: the prompt; 0..: generated steps
    chosen = steps == (selected if selected is not None else -10**9)
    hover = ["prompt"] * n_prompt + [f"step {g + 1}: {metric} {v:.3f}" for g, v in enumerate(values)]
    text_colors = ["#000000"] * n_prompt + ["#FFFFFF" if v < 0.55 else "#000000" for v in norm]
    line_colors = np.where(chosen, "#000000", "#FFFFFF").tolist()
    tiles = dict(type="bar", orientation="h", base=x0, x=w - 0.15, y=-rows, width=0.9, customdata=steps,
                 hovertext=hover, hoverinfo="text", showlegend=False,
                 marker=dict(color=fills, line=dict(color=line_colors, width=np.where(chosen, 3, 1).tolist())))
    words = dict(type="scatter", x=x0 + w / 2, y=-rows, mode="markers+text", text=texts, customdata=steps,
                 hovertext=hover, hoverinfo="text", textfont=dict(color=text_colors, family="monospace"),
                 marker=dict(size=18, symbol="square", opacity=0.01, color="#000000"), showlegend=False)
    # per-element validation of colour lists is what made plotly slow here: plain trace dicts skip it
    fig = fast_figure([tiles, words])
    # no colour bar: on a one-row strip it would be squashed; the page states the scale in words
    fig.update_xaxes(visible=False, range=[-0.5, width + 1])
    fig.update_yaxes(visible=False, range=[-n_rows + 0.4, 0.6])
    fig.update_layout(height=max(100, 40 + 34 * n_rows), dragmode=False, margin=dict(t=10, b=10), bargap=0)
    return fig


def _short(t: str, n: int = 9) -> str:
    return t if len(t) <= n else t[:n - 1] + "…"


def lens_table(layers: list[str], inputs: list[str], tokens: list[list[str]], probs: np.ndarray) -> go.Figure:
    """Logit lens as a heatmap: rows = layers (embeddings at the bottom), columns = input positions,
    each cell the top next-token prediction at that layer, coloured by its probability."""
    cols = _labels([_short(t) for t in inputs])
    fig = go.Figure(go.Heatmap(
        z=probs, x=cols, y=layers, customdata=tokens, colorscale=HEATMAP, zmin=0, zmax=1,
        colorbar=dict(title="p", thickness=12),
        hovertemplate="after %{y}, at %{x}: %{customdata} (%{z:.3f})<extra></extra>", xgap=2, ygap=2))
    # the words as a text layer, dark on the light end of the scale and white on the dark end
    xs, ys, texts, colors = [], [], [], []
    for i, layer in enumerate(layers):
        for j, col in enumerate(cols):
            xs.append(col)
            ys.append(layer)
            texts.append(_short(tokens[i][j]))
            colors.append("#000000" if probs[i, j] > 0.55 else "#FFFFFF")
    fig.add_scatter(x=xs, y=ys, mode="text", text=texts, textfont=dict(color=colors, size=12), hoverinfo="skip",
                    showlegend=False)
    fig.update_layout(xaxis=dict(title="input token (its column predicts the next one)", side="bottom"),
                      yaxis=dict(title=None))
    return fig


def attention_row(attn: np.ndarray, keys: list[str], head: int | None) -> go.Figure:
    """The newest token's attention: rows = layers, columns = earlier tokens (the keys).
    attn: [layer, head, key]; head None = mean over heads."""
    z = attn.astype(np.float32).mean(1) if head is None else attn[:, head].astype(np.float32)
    rows = [f"layer {i + 1}" for i in range(z.shape[0])]
    fig = go.Figure(go.Heatmap(z=z, x=_labels(keys), y=rows, colorscale=HEATMAP, zmin=0,
                               # the title at the side, as on the other heatmaps: on top it met the top tick's label
                               # (the layout e2e: '0.5' over 'weight' where the weights reach just past 0.5)
                               colorbar=dict(title=dict(text="weight", side="right"), thickness=12),
                               hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>", xgap=1, ygap=1))
    fig.update_layout(xaxis=dict(title="earlier token (key)", tickangle=-40 if len(keys) > 10 else 0),
                      yaxis=dict(autorange="reversed"))
    return fig


def mask_candidates(candidates: list[str], probs: np.ndarray, title: str) -> go.Figure:
    """Horizontal bars: the top-k fillers of one [MASK]."""
    labels = _labels(candidates)
    fig = go.Figure(go.Bar(x=probs, y=labels, orientation="h", marker_color=[CHOSEN] + [KEPT] * (len(labels) - 1),
                           # inside a bar that fills the axis (a sure pick: 100% has no room outside it)
                           text=[f"{p:.1%}" for p in probs], textposition="auto", insidetextanchor="end",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(title="probability", tickformat=".0%",
                                              range=[0, min(1.0, float(max(probs, default=0)) * 1.25 + 0.05)]),
                      yaxis=dict(autorange="reversed"))
    return fig
