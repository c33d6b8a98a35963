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
TEMPLATE = "explorer_white"


def template() -> str:
    """plotly_white without its scattermapbox defaults, registered once under TEMPLATE: plotly 6
    deprecates that trace type and warns each time a figure is given a template naming it (every
    figure, every rerun). We draw no maps. A registered name costs what "plotly_white" cost; a
    template dict would be validated again for every figure (~1 s)."""
    import plotly.io as pio
    if TEMPLATE not in pio.templates:
        t = pio.templates["plotly_white"].to_plotly_json()
        t.get("data", {}).pop("scattermapbox", None)
        pio.templates[TEMPLATE] = go.layout.Template(t)
    return TEMPLATE


def categorical(n: int) -> list[str]:
    """n colorblind-safe colours (cycled if n is larger than the palette)."""
    base = OKABE_ITO if n <= len(OKABE_ITO) else MANY
    return [base[i % len(base)] for i in range(n)]


TEXT = "#111111"          # every figure's text: dark on white, in both modes (projectors wash out grey)
PRESENT_FONT = 20        # presenter mode: base text; ticks are PRESENT_FONT - 2 (never below 16 px)


def _top_margin(fig: go.Figure, size: int) -> int:
    """Room above the plot for the title and, under it, subplot titles (annotations sitting on the plot's top
    edge): in presenter mode's larger type the two collided in a fixed 50 px."""
    titled = bool(fig.layout.title.text)
    lines = (fig.layout.title.text or "").count("<br>")          # a second line (a <sup> note) under the title
    on_top = any(a.yref == "paper" and (a.y or 0) >= 0.99 and a.yanchor == "bottom" for a in fig.layout.annotations)
    if not on_top:
        return (50 + int(lines * size * 1.3)) if titled else 20
    if titled:
        fig.update_layout(title=dict(yref="container", y=1, yanchor="top", pad=dict(t=8)))
    return int((size + 4) * 1.5 * titled + size * 1.6 + 16)


def style(fig: go.Figure, present: bool = False, height: int | None = None) -> go.Figure:
    """Apply the app's look; presenter mode: larger type, thicker lines, white background.

    Shown with Streamlit's own chart theme off (explorer/ui/figures.show passes theme=None), so these colours
    and sizes are what the browser draws: dark text everywhere, >= 16 px in presenter mode.
    """
    size = PRESENT_FONT if present else 13
    tick = size - 2 if present else 12
    fig.update_layout(
        template=template(),
        font=dict(family=FONT, size=size, color=TEXT),
        title_font=dict(size=size + 4, color=TEXT),
        margin=dict(l=10, r=10, t=_top_margin(fig, size), b=10),
        hoverlabel=dict(font_size=size),
        legend=dict(font=dict(size=size, color=TEXT)),
    )
    if height:
        fig.update_layout(height=int(height * (1.25 if present else 1)))
    axis = dict(tickfont=dict(size=tick, color=TEXT), title_font=dict(size=size, color=TEXT), automargin=True)
    if present:
        axis.update(linewidth=2, gridwidth=1.5)
        fig.update_traces(selector=dict(type="scatter"), line_width=4)
        for trace in fig.data:   # markers 1.5 x larger (a fixed 11 px made small dots blobs and arrow heads smaller)
            if trace.type == "scatter" and trace.marker is not None:
                m = trace.marker.size
                if m is None:
                    trace.marker.size = 11
                elif isinstance(m, (int, float)):
                    trace.marker.size = max(m, min(1.5 * m, 30))
                else:
                    trace.marker.size = [max(x, min(1.5 * x, 30)) for x in m]
        for a in fig.layout.annotations:
            a.font.size = max(a.font.size or 0, tick)
        for trace in fig.data:   # colour bars and in-cell text of heatmaps, bars, sankeys
            if "colorbar" in trace:
                trace.update(colorbar=dict(tickfont=dict(size=tick, color=TEXT)))
            if "textfont" in trace and trace.type != "sankey":
                trace.update(textfont_size=max(tick, (trace.textfont.size or 0)))
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    label_every_token(fig, present)
    return fig


HEATMAP_TICK = {False: 12, True: 16}     # token labels on heatmap axes: one per row/column, never thinned


def label_every_token(fig: go.Figure, present: bool = False) -> go.Figure:
    """Every token label of every heatmap drawn, none thinned out, none colliding.

    Plotly drops every other category label when they look crowded; an explicit tick list keeps them all.
    Column labels stand vertically when there are more than 8 (a rotated label needs ~1.2 x its font size
    of width); the figure grows so that each row gets ~1.4 x the font size of height. Axes that hide their
    labels (small multiples) are left alone.
    """
    font = HEATMAP_TICK[present]
    rows = cols = 0
    for trace in fig.data:
        if trace.type != "heatmap":
            continue
        for letter, values in (("x", trace.x), ("y", trace.y)):
            if values is None or not len(values) or not isinstance(values[0], str):
                continue                       # numeric axes (positions, pairs): plotly's own ticks are right
            name = (trace.xaxis if letter == "x" else trace.yaxis) or letter
            axis = fig.layout[f"{name[0]}axis{name[1:]}"]
            if axis.showticklabels is False or axis.tickmode == "array":
                continue
            axis.update(tickmode="array", tickvals=list(values), ticktext=list(values), tickfont_size=font)
            if letter == "x":
                cols = max(cols, int(max(len(str(v).replace("\u200b", "")) for v in values) * font * 0.62) + 40)
                if len(values) > 8:
                    axis.tickangle = -90
            else:
                rows = max(rows, len(values))
                axis.update(scaleanchor=None)
    if rows:
        need = int(rows * font * 1.4 + 80 + cols + (50 if fig.layout.title.text else 0))
        if (fig.layout.height or 450) < need:
            fig.update_layout(height=need)
    return fig


def export_config(filename: str) -> dict:
    """Plotly toolbar config: high-resolution PNG export with a sensible file name."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 3},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
