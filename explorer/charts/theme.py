"""Shared look of every figure: colorblind-safe palettes and presenter-mode styling."""
from __future__ import annotations

import plotly.graph_objects as go

# Okabe & Ito (2008), colorblind-safe categorical palette; black last so it is rarely needed
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
# for more categories than Okabe-Ito has (e.g. 12 heads): Paul Tol's "muted" + extras, colorblind-safe
MANY = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
        "#AA4499", "#DDDDDD", "#E69F00", "#0072B2", "#D55E00", "#56B4E9", "#009E73", "#000000"]
HEATMAP = "Viridis"      # sequential; perceptually uniform and colorblind-safe
HEATMAP_ALT = "Cividis"
DIVERGING = "RdBu"       # blue-white-red (not red-green); used for signed values

FONT = "Inter, 'Source Sans Pro', Arial, sans-serif"


def categorical(n: int) -> list[str]:
    """n colorblind-safe colours (cycled if n is larger than the palette)."""
    base = OKABE_ITO if n <= len(OKABE_ITO) else MANY
    return [base[i % len(base)] for i in range(n)]


def style(fig: go.Figure, present: bool = False, height: int | None = None) -> go.Figure:
    """Apply the app's look; presenter mode: larger type, thicker lines, white background."""
    size = 20 if present else 13
    fig.update_layout(
        template="plotly_white",
        font=dict(family=FONT, size=size, color="#111111" if present else None),
        title_font=dict(size=size + 4),
        margin=dict(l=10, r=10, t=50 if fig.layout.title.text else 20, b=10),
        hoverlabel=dict(font_size=size),
        legend=dict(font=dict(size=size)),
    )
    if height:
        fig.update_layout(height=int(height * (1.25 if present else 1)))
    if present:
        fig.update_traces(selector=dict(type="scatter"), line_width=4, marker_size=11)
        fig.update_xaxes(tickfont_size=size - 2, title_font_size=size, linewidth=2, gridwidth=1.5)
        fig.update_yaxes(tickfont_size=size - 2, title_font_size=size, linewidth=2, gridwidth=1.5)
    return fig


def export_config(filename: str) -> dict:
    """Plotly toolbar config: high-resolution PNG export with a sensible file name."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 3},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
