"""Figures of the families page: masks beside real attention, cross-attention, few-shot accuracy.

Data in, go.Figure out (no Streamlit). Masks use the efficient-attention page's two colours (blue:
the query sees the key, grey: hidden); attention uses the app's sequential heatmap scale.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.charts.attention import HOVER, _esc, _z, unique_labels
from explorer.charts.efficient import _binary, mask_panels
from explorer.charts.theme import HEATMAP, OKABE_ITO, shared_figure

CHANCE_COLOR = "#000000"
MEAN_COLOR = OKABE_ITO[5]        # vermillion
ORDER_COLOR = OKABE_ITO[4]       # blue
LABEL_COLORS = [OKABE_ITO[4], OKABE_ITO[0], OKABE_ITO[2], OKABE_ITO[6], OKABE_ITO[1], OKABE_ITO[5]]
MAX_NUMBERS = 14                 # write 0/1 in the mask cells up to this many tokens


def _cell_text(mask: np.ndarray) -> dict:
    if max(mask.shape) > MAX_NUMBERS:
        return {}
    return dict(text=mask.astype(int).astype(str), texttemplate="%{text}", textfont=dict(size=15))


@shared_figure
def lesson_masks(masks: dict[str, np.ndarray], tokens: Sequence[str]) -> go.Figure:
    """The lesson's masks side by side with 0/1 written in every cell."""
    fig = mask_panels(masks, tokens)
    for trace, m in zip(fig.data, masks.values()):
        trace.update(**_cell_text(np.asarray(m)))
    fig.update_layout(title="The lesson's example: 1 = may attend, 0 = hidden")
    return fig


def _tick_angle(n: int) -> int:
    return 0 if n <= 8 else -60


@shared_figure
def mask_beside_attention(mask: np.ndarray, attn: np.ndarray | None, queries: Sequence[str], keys: Sequence[str],
                          mask_title: str, attn_title: str, query_axis: str = "query", key_axis: str = "key") -> go.Figure:
    """Left: the 0/1 mask; right: the model's attention for the same tokens (None: mask only).

    mask, attn: [query, key].
    """
    q, k = unique_labels(list(queries)), unique_labels(list(keys))
    cols = 2 if attn is not None else 1
    fig = make_subplots(rows=1, cols=cols, subplot_titles=[_esc(mask_title)] + ([_esc(attn_title)] if cols == 2 else []),
                        horizontal_spacing=0.12)
    gap = 1 if max(len(q), len(k)) <= 48 else 0
    fig.add_trace(go.Heatmap(**_binary(np.asarray(mask)), x=k, y=q, xgap=gap, ygap=gap, **_cell_text(np.asarray(mask)),
                             customdata=np.where(np.asarray(mask) > 0, "may attend", "hidden"),
                             hovertemplate=f"{query_axis} %{{y}} → {key_axis} %{{x}}: %{{customdata}}<extra></extra>"),
                  row=1, col=1)
    if attn is not None:
        fig.add_trace(go.Heatmap(z=_z(attn), x=k, y=q, colorscale=HEATMAP, zmin=0, zmax=1, xgap=gap, ygap=gap,
                                 hovertemplate=HOVER, colorbar=dict(title=dict(text="weight", side="right"),
                                                                    thickness=14)), row=1, col=2)
    for c in range(1, cols + 1):
        fig.update_xaxes(row=1, col=c, title_text=key_axis, type="category", showgrid=False,
                         tickangle=_tick_angle(len(k)), automargin=True)
        fig.update_yaxes(row=1, col=c, title_text=query_axis if c == 1 else None, type="category",
                         autorange="reversed", showgrid=False, automargin=True)
    n = max(len(q), len(k))
    fig.update_layout(height=int(min(760, max(360, 22 * n + 170))))
    return fig


def rect_heatmap(a: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str, row_axis: str,
                 col_axis: str) -> go.Figure:
    """One attention pattern [row, col] whose rows and columns are different token lists (cross-attention)."""
    r, c = unique_labels(list(rows)), unique_labels(list(cols))
    gap = 1 if max(len(r), len(c)) <= 48 else 0
    fig = go.Figure(go.Heatmap(z=_z(a), x=c, y=r, colorscale=HEATMAP, zmin=0, zmax=1, xgap=gap, ygap=gap,
                               hovertemplate=f"{row_axis}: %{{y}}<br>{col_axis}: %{{x}}<br>weight: %{{z:.4f}}<extra></extra>",
                               colorbar=dict(title=dict(text="weight", side="right"), thickness=14)))
    fig.update_xaxes(title_text=col_axis, type="category", showgrid=False, tickangle=_tick_angle(len(c)),
                     automargin=True)
    fig.update_yaxes(title_text=row_axis, type="category", autorange="reversed", showgrid=False, automargin=True)
    fig.update_layout(title=_esc(title), height=int(min(760, max(360, 22 * len(r) + 170))))
    return fig


def few_shot_accuracy(shots: Sequence[int], accuracies: Sequence[Sequence[float]], orders: Sequence[Sequence[str]],
                      chance: float, title: str = "Accuracy on the test messages") -> go.Figure:
    """One dot per order of the examples, the mean per number of shots, and the guessing line.

    shots: [n_k]; accuracies[i], orders[i]: every order's accuracy and label for shots[i].
    """
    fig = go.Figure()
    xs, ys, texts = [], [], []
    for k, accs, names in zip(shots, accuracies, orders):
        n = len(accs)
        offsets = np.linspace(-0.18, 0.18, n) if n > 1 else np.zeros(1)
        xs += list(k + offsets)
        ys += list(accs)
        texts += [_esc(o) for o in names]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="one order of the examples",
                             marker=dict(size=10, color=ORDER_COLOR, opacity=0.75, line=dict(width=1, color="white")),
                             customdata=texts, hovertemplate="order: %{customdata}<br>accuracy %{y:.0%}<extra></extra>"))
    means = [float(np.mean(a)) for a in accuracies]
    fig.add_trace(go.Scatter(x=list(shots), y=means, mode="lines+markers+text", name="mean over orders",
                             line=dict(color=MEAN_COLOR, width=3), marker=dict(size=12, symbol="diamond"),
                             text=[f"{m:.0%}" for m in means], textposition="top center",
                             hovertemplate="%{x} shot(s): mean %{y:.1%}<extra></extra>"))
    fig.add_hline(y=chance, line=dict(color=CHANCE_COLOR, dash="dash", width=2),
                  annotation_text=f"guessing: {chance:.0%}", annotation_position="bottom right")
    fig.update_layout(title=_esc(title), height=380, legend=dict(orientation="h", y=-0.25),
                      xaxis=dict(title="examples in the prompt (shots)", tickmode="array", tickvals=list(shots),
                                 range=[min(shots) - 0.5, max(shots) + 0.5]),
                      yaxis=dict(title="accuracy", tickformat=".0%", range=[-0.03, 1.08]))
    return fig


def label_probabilities(labels: Sequence[str], probs: np.ndarray, gold: str | None = None,
                        title: str = "") -> go.Figure:
    """Bars: P(label | prompt) renormalised over the labels; the right label (if known) outlined."""
    colors = [LABEL_COLORS[i % len(LABEL_COLORS)] for i in range(len(labels))]
    lines = [4 if lab == gold else 0 for lab in labels]
    fig = go.Figure(go.Bar(x=list(labels), y=np.asarray(probs, dtype=np.float32), marker_color=colors,
                           marker_line=dict(color="#000000", width=lines),
                           text=[f"{p:.1%}" for p in probs], textposition="outside",
                           hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    fig.add_hline(y=1 / len(labels), line=dict(color=CHANCE_COLOR, dash="dash", width=2),
                  annotation_text="even odds", annotation_position="top right")
    fig.update_layout(title=_esc(title) or None, height=340, showlegend=False,
                      yaxis=dict(title="probability among the labels", tickformat=".0%", range=[0, 1.12]))
    return fig
