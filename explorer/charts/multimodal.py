"""Figures of the multimodal page: the image cut into numbered patches, attention drawn on the image, the
strip of image and text tokens, the shape trace, the ablations and what each training stage froze.

Data in, go.Figure out; no Streamlit.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explorer.charts.attention import fast_figure
from explorer.charts.theme import HEATMAP, OKABE_ITO, shared_figure

IMAGE_TOKEN = OKABE_ITO[1]    # sky blue: image tokens
TEXT_TOKEN = OKABE_ITO[0]     # orange: text tokens
CHOSEN = OKABE_ITO[5]         # vermillion: the selected patch / token
FROZEN = "#BBBBBB"


def image_patches(view: np.ndarray, patch: int, title: str = "", overlay: np.ndarray | None = None,
                  selected: int | None = None, numbers: bool = True, zmax: float | None = None,
                  overlay_name: str = "attention") -> go.Figure:
    """The model's input image [H, W, 3] with its patch grid, each patch numbered as the token it becomes.

    overlay: [grid, grid] values drawn over the patches (viridis, semi-transparent); selected: a patch
    outlined (e.g. the one whose attention is shown, or the most-attended one). Built from plain dicts
    (fast_figure): the overlay is re-drawn on every token, layer or head change."""
    h, w = view.shape[:2]
    g_y, g_x = h // patch, w // patch
    traces = [dict(type="image", z=view, hoverinfo="skip")]
    if overlay is not None:
        traces.append(dict(type="heatmap", z=np.asarray(overlay, dtype=np.float32), x0=patch / 2 - 0.5, dx=patch,
                           y0=patch / 2 - 0.5, dy=patch, colorscale=HEATMAP, opacity=0.6, zmin=0, zmax=zmax,
                           colorbar=dict(title=dict(text=overlay_name), thickness=14, len=0.8),
                           customdata=np.arange(g_y * g_x).reshape(g_y, g_x),
                           hovertemplate="patch %{customdata}: %{z:.3f}<extra></extra>"))
    shapes = [dict(type="line", x0=i * patch - 0.5, x1=i * patch - 0.5, y0=-0.5, y1=h - 0.5,
                   line=dict(color="rgba(0,0,0,0.45)", width=1)) for i in range(1, g_x)]
    shapes += [dict(type="line", y0=i * patch - 0.5, y1=i * patch - 0.5, x0=-0.5, x1=w - 0.5,
                    line=dict(color="rgba(0,0,0,0.45)", width=1)) for i in range(1, g_y)]
    if selected is not None and 0 <= selected < g_x * g_y:
        r, c = divmod(int(selected), g_x)
        shapes.append(dict(type="rect", x0=c * patch - 0.5, x1=(c + 1) * patch - 0.5, y0=r * patch - 0.5,
                           y1=(r + 1) * patch - 0.5, line=dict(color=CHOSEN, width=4)))
    if numbers and g_x * g_y <= 256:
        k = np.arange(g_x * g_y)
        traces.append(dict(type="scatter", x=(k % g_x) * patch + patch / 2 - 0.5, y=(k // g_x) * patch + patch / 2 - 0.5,
                           mode="text", text=[str(i) for i in k], textfont=dict(size=10, color="#111111"),
                           hovertemplate="patch %{text}<extra></extra>", showlegend=False))
    return fast_figure(traces, dict(shapes=shapes, title=dict(text=title),
                                    xaxis=dict(visible=False, range=[-0.5, w - 0.5]),
                                    yaxis=dict(visible=False, range=[h - 0.5, -0.5], scaleanchor="x")))


def token_strip(tokens: list[str], is_image: list[bool], selected: int | None = None, title: str = "") -> go.Figure:
    """Every decoder position in one row: image tokens (narrow, numbered by patch) and text tokens (wide,
    with their word); `selected` (a position) outlined."""
    widths = [1.0 if im else 3.2 for im in is_image]
    x0 = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    shapes, patch = [], 0
    labels, xs = [], []
    for i, (t, im, left, wd) in enumerate(zip(tokens, is_image, x0, widths)):
        shapes.append(dict(type="rect", layer="below", x0=left, x1=left + wd * 0.94, y0=0, y1=1, line=dict(
            color=CHOSEN if i == selected else "rgba(0,0,0,0.25)", width=3 if i == selected else 1),
            fillcolor=IMAGE_TOKEN if im else TEXT_TOKEN))
        labels.append(str(patch) if im else t)
        xs.append(left + wd * 0.47)
        patch += im
    # text tokens' words alternate high and low in their boxes: side by side, longer words (presenter mode's larger
    # type, a narrow screen) ran into each other
    text_rank = np.cumsum([not im for im in is_image])
    ys = [0.5 if im else (0.72 if r % 2 else 0.28) for im, r in zip(is_image, text_rank)]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="text", text=[
        lb if not im or int(lb) % 8 == 0 else "" for lb, im in zip(labels, is_image)],
        textfont=dict(size=11, color="#111111"), hovertext=[
            f"position {i}: image patch {lb}" if im else f"position {i}: {lb}"
            for i, (lb, im) in enumerate(zip(labels, is_image))], hoverinfo="text", showlegend=False))
    for name, colour in (("image token (one per patch)", IMAGE_TOKEN), ("text token", TEXT_TOKEN)):
        fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(size=12, color=colour, symbol="square"),
                        name=name)
    fig.update_layout(shapes=shapes, title=title, legend=dict(orientation="h", y=-0.05, yanchor="top", x=0),
                      showlegend=True)
    fig.update_xaxes(visible=False, range=[-0.5, float(x0[-1] + widths[-1]) + 0.5])
    fig.update_yaxes(visible=False, range=[-0.1, 1.1])
    return fig


@shared_figure
def shape_trace(names: list[str], shapes: list[tuple[int, ...]], notes: list[str]) -> go.Figure:
    """The shapes a picture takes on its way to the decoder, left to right, as boxes with arrows."""
    n = len(names)
    fig = go.Figure()
    for i, (name, shape) in enumerate(zip(names, shapes)):
        fig.add_shape(type="rect", layer="below", x0=i + 0.06, x1=i + 0.94, y0=0.1, y1=0.9, line=dict(color="#333333", width=2),
                      fillcolor=IMAGE_TOKEN if i < 4 else TEXT_TOKEN, opacity=0.35)
        if i:
            fig.add_annotation(x=i + 0.06, y=0.5, ax=i - 0.06, ay=0.5, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, arrowwidth=2, text="")
    fig.add_scatter(x=[i + 0.5 for i in range(n)], y=[0.5] * n, mode="text", showlegend=False,
                    text=[f"<b>{'<br>'.join(nm.split(' ', 1))}</b><br>({', '.join(map(str, s))})" for nm, s in zip(names, shapes)],
                    textfont=dict(size=12, color="#111111"), hovertext=notes, hoverinfo="text")
    fig.update_xaxes(visible=False, range=[0, n])
    fig.update_yaxes(visible=False, range=[0, 1])
    return fig


def variants(names: list[str], words: list[str], probs: list[np.ndarray], title: str = "") -> go.Figure:
    """Grouped bars: the probability each variant (image, no image, shuffled, another) gives each word of the
    original caption."""
    fig = go.Figure()
    labels = [f"{i + 1}. {w}" for i, w in enumerate(words)]
    colours = [OKABE_ITO[4], FROZEN, OKABE_ITO[0], OKABE_ITO[6]]
    for name, p, colour in zip(names, probs, colours):
        fig.add_bar(x=labels, y=p, name=name, marker_color=colour, hovertemplate="%{x}: %{y:.3f}<extra>" + name
                    + "</extra>")
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="probability of the word", range=[0, 1.05],
                                                               tickformat=".0%"),
                      legend=dict(orientation="h", y=-0.18, yanchor="top", x=0))
    return fig


def stages(parts: dict[str, int], stages: list[dict]) -> go.Figure:
    """One bar per training stage, a segment per part sized by its parameters: coloured if that stage
    trained it, grey (hatched) if it was frozen."""
    colours = {"vision encoder": OKABE_ITO[1], "projector": OKABE_ITO[2], "decoder": OKABE_ITO[0]}
    fig = go.Figure()
    rows = [f"stage {s['name']}" for s in stages]
    for part, count in parts.items():
        state = [s["parts"].get(part, "frozen") for s in stages]
        fig.add_bar(y=rows, x=[count] * len(rows), orientation="h", name=part,
                    marker=dict(color=[colours.get(part, "#777777") if st == "trained" else FROZEN for st in state],
                                pattern=dict(shape=["" if st == "trained" else "/" for st in state])),
                    text=[f"{part}: {st}" for st in state], textposition="inside", insidetextanchor="middle",
                    hovertemplate=f"{part}: {count:,} parameters, %{{text}}<extra></extra>")
    fig.update_layout(barmode="stack", xaxis=dict(title="parameters"), yaxis=dict(autorange="reversed"),
                      showlegend=False)
    return fig
