"""Plotly figures of attention: one head, a layer's heads, the whole model, token focus, head summary.

Data in, go.Figure out. Matrices are [query, key] (rows = the token that looks, columns = where it
looks); values go to the browser as float32 arrays (base64), hover shows four decimals.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explorer.charts import plotly_adapter
from explorer.charts.theme import HEATMAP, categorical, shared_figure

ZWSP = "\u200b"   # makes repeated tokens distinct categories without changing how they look
HOVER = "query: %{y}<br>key: %{x}<br>weight: %{z:.4f}<extra></extra>"


def unique_labels(labels: list[str]) -> list[str]:
    """Plotly merges equal category labels; repeated tokens ('the' twice) get invisible suffixes.

    Labels are HTML-escaped: plotly renders tags such as <b> or <a> in tick and hover text, and a
    token (or a merged word like '<b>bold</b>') must show as the text it is.
    """
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        lab = _esc(lab) if lab.strip() else (lab or "∅")
        n = seen.get(lab, 0)
        seen[lab] = n + 1
        out.append(lab + ZWSP * n)
    return out


def fast_figure(traces: list[dict], layout: dict | None = None) -> go.Figure:
    """A figure from plain trace dicts, skipping plotly's per-property validation (the slow part of
    building figures with many traces; see explorer/charts/plotly_adapter.py for the measured cost of the public
    path); later layout updates are validated as usual."""
    return plotly_adapter.unvalidated(dict(data=traces, layout=layout or {}))


def _z(a: np.ndarray, decimals: int = 4) -> np.ndarray:
    return np.round(np.asarray(a, dtype=np.float32), decimals).astype(np.float32)


def _size(n: int, per: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, per * n + 160)))


@shared_figure
def heatmap(a: np.ndarray, labels: list[str], title: str = "", zmax: float | None = None,
            colorbar_title: str = "weight") -> go.Figure:
    """One pattern [query, key] with token labels on both axes; hover shows the exact weight."""
    lab = unique_labels(labels)
    fig = go.Figure(go.Heatmap(
        z=_z(a), x=lab, y=lab, colorscale=HEATMAP, zmin=0, zmax=zmax if zmax else None,
        hovertemplate=HOVER, colorbar=dict(title=dict(text=colorbar_title, side="right"), thickness=14)))
    n = len(lab)
    fig.update_layout(title=title or None, height=_size(n, 14, 420, 1100))
    fig.update_xaxes(title_text="key (attended to)", tickangle=-60, side="bottom", type="category",
                     showgrid=False, automargin=True)
    fig.update_yaxes(title_text="query (attending)", autorange="reversed", type="category", showgrid=False,
                     automargin=True, scaleanchor="x", constrain="domain")
    return fig


def _grid(n: int, cols: int, gap: float = 0.04):
    rows = -(-n // cols)
    w = (1 - gap * (cols - 1)) / cols
    h = (1 - gap * 1.6 * (rows - 1)) / rows
    cells = []
    for i in range(n):
        r, c = divmod(i, cols)
        x0 = c * (w + gap)
        y1 = 1 - r * (h + gap * 1.6)
        cells.append(((max(0.0, x0), min(1.0, x0 + w)), (max(0.0, y1 - h), min(1.0, y1))))
    return rows, cells


GRID_CELLS = 128   # a small multiple is ~300 px wide: more cells than this per side cannot be seen


def block_labels(labels: list[str], size: int) -> list[str]:
    """Labels of the blocks pool() makes: 'tokens 8–15' (unique, so plotly keeps them apart)."""
    edges = np.linspace(0, len(labels), size + 1).round().astype(int)
    return [f"tokens {a}–{b - 1}" for a, b in zip(edges[:-1], edges[1:])]


def head_grid(mats: np.ndarray, labels: list[str], titles: list[str], cols: int = 4,
              show_labels: bool | None = None, max_cells: int = GRID_CELLS) -> go.Figure:
    """Small multiples: one heatmap per head of a layer, mats [head, query, key], shared colour scale.

    Longer texts than max_cells tokens are mean-pooled to max_cells x max_cells blocks per head
    (hover names each block's tokens): n heads x T x T cells would make this figure grow with the
    square of the tokens (12 heads at 1,024 tokens: 12.6 million cells, 8 s per rerun).
    """
    n, t = mats.shape[0], mats.shape[-1]
    if t > max_cells:
        mats, labels = pool(mats, max_cells), block_labels(labels, max_cells)
        t = max_cells
        show_labels = False
    lab = unique_labels(labels)
    show_labels = t <= 24 if show_labels is None else show_labels
    cols = min(cols, n)
    rows, cells = _grid(n, cols)
    zmax = float(mats.max()) if mats.size else 1.0
    traces, layout, notes = [], {}, []
    for i, ((xd, yd), title) in enumerate(zip(cells, titles)):
        ax = "" if i == 0 else str(i + 1)
        # the panels share their tokens: rows named on the first column only, columns under the lowest panel of
        # each column (labels on every panel ran into the next panel's title and into the panel on the left)
        bottom = i + cols >= n
        traces.append(dict(type="heatmap", z=_z(mats[i]), x=lab, y=lab, xaxis=f"x{ax}", yaxis=f"y{ax}",
                           coloraxis="coloraxis", hovertemplate=f"{title}<br>" + HOVER))
        layout[f"xaxis{ax}"] = dict(domain=list(xd), anchor=f"y{ax}", type="category",
                                    showticklabels=show_labels and bottom, tickangle=-90, showgrid=False)
        layout[f"yaxis{ax}"] = dict(domain=list(yd), anchor=f"x{ax}", type="category", autorange="reversed",
                                    showticklabels=show_labels and i % cols == 0, showgrid=False)
        notes.append(dict(text=title, x=(xd[0] + xd[1]) / 2, y=yd[1], xref="paper", yref="paper",
                          yanchor="bottom", showarrow=False))
    fig = fast_figure(traces, dict(layout, annotations=notes))
    row_px = max(330, 18 * t + 90) if show_labels else 260      # ~18 px per token row: labels stay apart
    fig.update_layout(coloraxis=dict(colorscale=HEATMAP, cmin=0, cmax=zmax,
                                     colorbar=dict(title=dict(text="weight", side="right"), thickness=14)),
                      height=int(rows * row_px + 60))
    return fig


def grid_columns(n_tokens: int, half_width: bool) -> int:
    """Panels per row of a layer's heads: each panel keeps >= ~16 px per token for its labels (a half-width column,
    when two models stand side by side, holds ~400 px at 1280x800)."""
    if half_width:
        return 2 if n_tokens <= 12 else 1
    return 4 if n_tokens <= 12 else 2


def pool(a: np.ndarray, size: int) -> np.ndarray:
    """Mean-pool the last two dims [..., T, T] down to at most size x size (for thumbnails)."""
    t = a.shape[-1]
    if t <= size:
        return a.astype(np.float32)
    edges = np.linspace(0, t, size + 1).round().astype(int)
    counts = np.diff(edges).astype(np.float32)
    # summed in float32 without a float32 copy of the whole [..., T, T] (12 x 12 heads at 1,024 tokens: 600 MB)
    s = np.add.reduceat(np.add.reduceat(a, edges[:-1], axis=-1, dtype=np.float32), edges[:-1], axis=-2)
    return s / counts[:, None] / counts[None, :]


def model_thumbnails(attn: np.ndarray, stat: np.ndarray | None = None, stat_name: str = "",
                     thumb: int = 32, selected: tuple[int, int] | None = None) -> go.Figure:
    """The whole model at a glance: layers (rows) x heads (columns), each a pooled thumbnail.

    attn [layer, head, T, T] (pooled to at most thumb x thumb). Click markers at the thumbnail
    centres carry (layer, head), so a click can open that head.
    """
    n_l, n_h, t = attn.shape[0], attn.shape[1], attn.shape[-1]
    p = pool(attn, thumb)
    s = p.shape[-1]
    gap = max(1, s // 6)
    big = np.full((n_l * (s + gap) - gap, n_h * (s + gap) - gap), np.nan, dtype=np.float32)
    for layer in range(n_l):
        for head in range(n_h):
            big[layer * (s + gap): layer * (s + gap) + s, head * (s + gap): head * (s + gap) + s] = p[layer, head]
    # each thumbnail's own scale would hide weak heads; a shared 99th percentile keeps sinks from washing out the rest
    finite = p[np.isfinite(p)]
    zmax = float(np.quantile(finite, 0.99)) if finite.size else 1.0
    fig = go.Figure(go.Heatmap(z=_z(big, 3), colorscale=HEATMAP, zmin=0, zmax=max(zmax, 1e-6), hoverinfo="skip",
                               colorbar=dict(title=dict(text="weight", side="right"), thickness=14)))
    centres_x = [h * (s + gap) + (s - 1) / 2 for _ in range(n_l) for h in range(n_h)]
    centres_y = [layer * (s + gap) + (s - 1) / 2 for layer in range(n_l) for _ in range(n_h)]
    lh = [(layer, h) for layer in range(n_l) for h in range(n_h)]
    hover = [f"layer {layer}, head {h}" + (f"<br>{stat_name}: {stat[layer, h]:.3f}" if stat is not None else "")
             + "<br>click to open" for layer, h in lh]
    fig.add_trace(go.Scatter(x=centres_x, y=centres_y, mode="markers", customdata=lh, hovertext=hover,
                             hoverinfo="text", showlegend=False,
                             marker=dict(symbol="square", size=max(10, min(40, 600 // max(n_h, n_l))),
                                         color="rgba(0,0,0,0.01)")))
    if selected is not None:
        layer, h = selected
        fig.add_shape(type="rect", x0=h * (s + gap) - 0.5 - gap / 3, x1=h * (s + gap) + s - 0.5 + gap / 3,
                      y0=layer * (s + gap) - 0.5 - gap / 3, y1=layer * (s + gap) + s - 0.5 + gap / 3,
                      line=dict(color="#D55E00", width=3))
    # head numbers under the thumbnails: an axis on top collided with the figure's title
    fig.update_xaxes(tickvals=[h * (s + gap) + (s - 1) / 2 for h in range(n_h)], ticktext=[str(h) for h in range(n_h)],
                     title_text="head", showgrid=False, zeroline=False, side="bottom", constrain="domain")
    fig.update_yaxes(tickvals=[layer * (s + gap) + (s - 1) / 2 for layer in range(n_l)],
                     ticktext=[str(layer) for layer in range(n_l)], title_text="layer", autorange="reversed",
                     showgrid=False, zeroline=False, scaleanchor="x", constrain="domain")
    fig.update_layout(height=int(min(1100, max(360, n_l * 70 + 120))), clickmode="event+select", dragmode=False)
    return fig


def token_focus(mats: np.ndarray, labels: list[str], token: int, heads: list[int] | None = None,
                min_weight: float = 0.01) -> go.Figure:
    """Where one token looks (left panel) and who looks at it (right panel), one colour per head.

    mats [head, query, key]. Each panel has two token columns; a line's width and opacity follow the
    weight. Links under min_weight are left out (their weights are in the data export).
    """
    n_h, t = mats.shape[0], mats.shape[-1]
    heads = list(range(n_h)) if heads is None else heads
    colors = categorical(n_h)
    labels = [_esc(lab) for lab in labels]
    traces = []
    ys = np.arange(t)
    bins = [(0.5, 1.01, 5.0, 0.9), (0.2, 0.5, 3.5, 0.75), (0.08, 0.2, 2.2, 0.55), (min_weight, 0.08, 1.2, 0.35)]
    offsets = np.linspace(-0.25, 0.25, n_h) if n_h > 1 else np.zeros(1)
    for panel, (x_from, x_to) in enumerate([(0.0, 1.0), (2.0, 3.0)]):      # labels at 0, 1.5 (shared), 3
        for hi, h in enumerate(heads):
            w = mats[h, token, :] if panel == 0 else mats[h, :, token]     # to keys / from queries
            first = True
            for lo, hi_w, width, alpha in bins:
                sel = np.nonzero((w >= lo) & (w < hi_w))[0]
                if not sel.size:
                    continue
                xs, yv = [], []
                for j in sel:
                    if panel == 0:
                        xs += [x_from, x_to, None]
                        yv += [token, j + offsets[h], None]
                    else:
                        xs += [x_from, x_to, None]
                        yv += [j + offsets[h], token, None]
                traces.append(dict(type="scatter", x=xs, y=yv, mode="lines", line=dict(color=colors[h], width=width),
                                   opacity=alpha, hoverinfo="skip", legendgroup=f"h{h}", name=f"head {h}",
                                   showlegend=(panel == 0 and first)))
                first = False
            # hover targets at the far end of every link, with the exact weight
            sel = np.nonzero(w >= min_weight)[0]
            if sel.size:
                ex = [x_to if panel == 0 else x_from] * sel.size
                txt = [(f"head {h}: {labels[token]} → {labels[j]}" if panel == 0 else f"head {h}: {labels[j]} → {labels[token]}")
                       + f"<br>weight {w[j]:.4f}" for j in sel]
                traces.append(dict(type="scatter", x=ex, y=(sel + offsets[h]).tolist(), mode="markers", hovertext=txt,
                                   hoverinfo="text", marker=dict(color=colors[h], size=6), legendgroup=f"h{h}",
                                   showlegend=False, name=f"head {h}"))
    # three label columns, not four: the inner ends of both panels share one column between them (two columns of
    # labels growing towards each other collided in a half-width figure)
    for x, anchor in [(0.0, "middle left"), (1.5, "middle center"), (3.0, "middle right")]:
        traces.append(dict(type="scatter", x=[x - 0.06 if x == 0 else x + 0.06 if x == 3 else x] * t,
                           y=ys.tolist(), mode="text", text=labels,
                           textposition=anchor, hoverinfo="skip", showlegend=False,
                           textfont=dict(color=["#D55E00" if (i == token) else "#111111" for i in range(t)])))
    fig = fast_figure(traces)
    fig.add_annotation(text=f"where <b>{labels[token]}</b> looks", x=0.5, y=-1.2, showarrow=False)
    fig.add_annotation(text=f"who looks at <b>{labels[token]}</b>", x=2.5, y=-1.2, showarrow=False)
    fig.update_xaxes(visible=False, range=[-1.0, 4.0])
    fig.update_yaxes(visible=False, autorange="reversed", range=[t, -2])
    fig.update_layout(height=_size(t, 22, 380, 2400), legend=dict(orientation="h", y=-0.02, yanchor="top"),
                      hovermode="closest")
    return fig


def _esc(s: str) -> str:
    """Plotly renders a small HTML subset in annotations: user tokens must show as text."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def head_summary(values: np.ndarray, stat_name: str, all_stats: dict[str, np.ndarray] | None = None,
                 selected: tuple[int, int] | None = None, fmt: str = ".2f") -> go.Figure:
    """A layers x heads matrix of one statistic, drawn as clickable squares (a click opens that head).

    (Heatmap cells do not report clicks in Streamlit; scatter markers do.)
    """
    n_l, n_h = values.shape
    lh = [(layer, h) for layer in range(n_l) for h in range(n_h)]
    v = np.array([values[layer, h] for layer, h in lh], dtype=np.float64)
    hover = []
    for layer, h in lh:
        lines = [f"layer {layer}, head {h}"]
        for name, arr in (all_stats or {stat_name: values}).items():
            lines.append(f"{name}: {arr[layer, h]:.3f}")
        hover.append("<br>".join(lines) + "<br>click to open this head")
    size = max(14, min(64, 700 // max(n_h, n_l)))
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    mid = (lo + hi) / 2
    fig = go.Figure(go.Scatter(
        x=[h for _, h in lh], y=[layer for layer, _ in lh], mode="markers+text" if n_h <= 16 else "markers",
        customdata=lh, hovertext=hover, hoverinfo="text",
        text=[format(x, fmt) for x in v], textfont=dict(color=["#111111" if x > mid else "#FFFFFF" for x in v],
                                                        size=max(8, size // 4)),
        marker=dict(symbol="square", size=size, color=v, colorscale=HEATMAP, cmin=lo, cmax=hi if hi > lo else lo + 1e-9,
                    colorbar=dict(title=dict(text=stat_name, side="right"), thickness=14),
                    line=dict(width=0)),
        showlegend=False))
    if selected is not None:
        fig.add_trace(go.Scatter(x=[selected[1]], y=[selected[0]], mode="markers", hoverinfo="skip", showlegend=False,
                                 marker=dict(symbol="square-open", size=size + 6, color="#D55E00", line=dict(width=3))))
    fig.update_xaxes(title_text="head", tickvals=list(range(n_h)), range=[-0.6, n_h - 0.4], showgrid=False,
                     zeroline=False, side="bottom")
    fig.update_yaxes(title_text="layer", tickvals=list(range(n_l)), range=[n_l - 0.4, -0.6], showgrid=False,
                     zeroline=False, scaleanchor="x")
    fig.update_layout(height=int(min(1000, max(300, n_l * (size + 8) + 140))), clickmode="event+select",
                      dragmode=False)
    return fig
