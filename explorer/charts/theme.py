"""Shared look of every figure: colorblind-safe palettes and presenter-mode styling."""
from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import re
import threading

import numpy as np
import plotly.graph_objects as go

from explorer.charts import plotly_adapter

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


def _top_margin(layout: dict, size: int) -> int:
    """Room above the plot for the title and, under it, subplot titles (annotations sitting on the plot's top
    edge): in presenter mode's larger type the two collided in a fixed 50 px."""
    title = layout.get("title") or {}
    text = title.get("text") or ""
    titled = bool(text)
    lines = text.count("<br>")          # a second line (a <sup> note) under the title
    on_top = any(a.get("yref") == "paper" and (a.get("y") or 0) >= 0.99 and a.get("yanchor") == "bottom"
                 for a in layout.get("annotations") or ())
    if not on_top:
        return (50 + int(lines * size * 1.3)) if titled else 20
    if titled:
        _merge(layout, title=dict(yref="container", y=1, yanchor="top", pad=dict(t=8)))
    return int((size + 4) * 1.5 * titled + size * 1.6 + 16)


def _merge(target: dict, **update) -> dict:
    """Nested update of a figure's plain dict, as plotly's update_layout merges (dicts into dicts)."""
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            _merge(target[k], **v)
        elif isinstance(v, dict):
            target[k] = _merge({}, **v)
        else:
            target[k] = v
    return target


_TEMPLATE_SPEC: dict | None = None
_TRACE_PROPS: dict = {}      # trace type -> an empty trace of it


def _template_spec() -> dict:
    """The registered template as a plain dict, built once and shared read-only by every figure's spec."""
    global _TEMPLATE_SPEC
    if _TEMPLATE_SPEC is None:
        import plotly.io as pio
        _TEMPLATE_SPEC = pio.templates[template()].to_plotly_json()
    return _TEMPLATE_SPEC


def _has(trace: dict, prop: str) -> bool:
    """Whether the trace's type has the property at all (plotly's own `prop in trace`, asked once per type)."""
    kind = trace.get("type") or "scatter"
    if kind not in _TRACE_PROPS:
        _TRACE_PROPS[kind] = go.Figure(data=[{"type": kind}]).data[0]
    return prop in _TRACE_PROPS[kind]


def _copy(v):
    """A copy of a figure's nested dicts and lists; the values in them (arrays, strings) are shared, not copied:
    sanitizing and styling replace values, they never change one in place."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def plain(fig: go.Figure) -> dict:
    """The figure as plain dicts of what was set (as to_dict() without its deep copy of every array and without
    turning arrays into base64: values are as the chart builder gave them)."""
    return _copy(plotly_adapter.props(fig))


# ---------------------------------------------------------------------------------------------- shared figures
FIGURES_KEPT = 256                   # figures kept for the whole process, least recently used dropped first
FIGURE_BYTES_KEPT = 64 * 2 ** 20     # and at most about this many bytes of their arrays and texts
SHARING = True                       # False: every call builds (benchmarks of what a first request pays)
_figures: "collections.OrderedDict[tuple, tuple[dict, int]]" = collections.OrderedDict()
_figures_lock = threading.Lock()


class _NoKey(Exception):
    """An argument with no content fingerprint (a model, an open file): the figure is built every time."""


def _feed(h, v) -> None:
    if v is None or isinstance(v, (bool, int, float, complex, str, bytes)):
        h.update(f"{type(v).__name__}:{v!r};".encode())
    elif isinstance(v, np.ndarray):
        if v.dtype == object:
            h.update(b"objarray(")
            _feed(h, v.shape)
            for x in v.ravel():
                _feed(h, x)
            h.update(b")")
        else:
            h.update(f"array:{v.dtype.str}:{v.shape};".encode())
            h.update(np.ascontiguousarray(v).tobytes())
    elif isinstance(v, np.generic):
        _feed(h, v.item())
    elif isinstance(v, (list, tuple)):
        h.update(f"{type(v).__name__}({len(v)}".encode())
        for x in v:
            _feed(h, x)
        h.update(b")")
    elif isinstance(v, dict):
        h.update(f"dict({len(v)}".encode())
        for k in v:                          # insertion order is part of the content (legend order)
            _feed(h, k)
            _feed(h, v[k])
        h.update(b")")
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        h.update(f"{type(v).__module__}.{type(v).__qualname__}(".encode())
        for f in dataclasses.fields(v):
            _feed(h, getattr(v, f.name))
        h.update(b")")
    else:
        raise _NoKey(type(v).__name__)


def _frozen(v):
    """The kept copy's arrays made read-only copies (the builder's arrays may be its caller's, still in use)."""
    if isinstance(v, dict):
        return {k: _frozen(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_frozen(x) for x in v]
    if isinstance(v, np.ndarray) and v.flags.writeable:
        v = v.copy()
        v.setflags(write=False)
    return v


def _size(v) -> int:
    """Rough bytes of a plain figure: its arrays and texts (what the bound counts)."""
    if isinstance(v, dict):
        return sum(_size(x) for x in v.values()) + 64
    if isinstance(v, (list, tuple)):
        return sum(_size(x) for x in v) + 16
    if isinstance(v, np.ndarray):
        return int(v.nbytes)
    if isinstance(v, str):
        return len(v)
    return 16


def shared_figure(build):
    """Decorator for a chart builder (data in, go.Figure out): a figure for the same arguments (the same model,
    text and settings: compared by content, arrays included) is built once for every session of the process.
    The kept figure is a plain dict nobody holds; each call gets its own go.Figure made from a copy of it
    without plotly's validation (a few ms instead of the builder's 0.1-1 s), so a page that changes its figure
    changes only its own. Kept within FIGURES_KEPT and FIGURE_BYTES_KEPT, least recently used dropped first."""
    name = f"{build.__module__}.{build.__qualname__}"

    @functools.wraps(build)
    def cached(*args, **kwargs):
        if not SHARING:
            return build(*args, **kwargs)
        h = hashlib.blake2b(digest_size=20)
        try:
            _feed(h, args)
            _feed(h, sorted(kwargs.items()))
        except _NoKey:
            return build(*args, **kwargs)
        key = (name, h.digest())
        with _figures_lock:
            hit = _figures.get(key)
            if hit is not None:
                _figures.move_to_end(key)
        if hit is None:
            fig = build(*args, **kwargs)
            kept = _frozen(plain(fig))
            kept["layout"].pop("template", None)       # every page's figure gets the app's own when it is shown
            size = _size(kept)
            with _figures_lock:
                _figures[key] = (kept, size)
                total = sum(s for _, s in _figures.values())
                while len(_figures) > FIGURES_KEPT or (total > FIGURE_BYTES_KEPT and len(_figures) > 1):
                    _, (_, s) = _figures.popitem(last=False)
                    total -= s
            return fig
        return plotly_adapter.unvalidated(_copy(hit[0]))     # later changes by the page are validated as usual

    cached.uncached = build
    return cached


def style(fig: go.Figure, present: bool = False, height: int | None = None) -> go.Figure:
    """A styled copy of `fig` as a figure (see styled); for tests and benchmarks. Pages draw `styled` dicts."""
    return go.Figure(styled(fig, present, height))


def styled(fig: "go.Figure | dict", present: bool = False, height: int | None = None) -> dict:
    """The app's look applied to a figure's plain dict (a go.Figure is copied with plain(); a dict is styled in
    place); presenter mode: larger type, thicker lines, white background. Returns the dict.

    Shown with Streamlit's own chart theme off (explorer/ui/figures.show passes theme=None), so these colours
    and sizes are what the browser draws: dark text everywhere, >= 16 px in presenter mode. Plain dicts because
    plotly validates every property update of a go.Figure: the same styling through update_layout cost
    0.1-0.5 s per figure and rerun.
    """
    spec = plain(fig) if isinstance(fig, go.Figure) else fig
    layout = spec.setdefault("layout", {})
    traces = spec.setdefault("data", [])
    size = PRESENT_FONT if present else 13
    tick = size - 2 if present else 12
    top = _top_margin(layout, size)
    layout["template"] = _template_spec()
    _merge(layout, font=dict(family=FONT, size=size, color=TEXT), title=dict(font=dict(size=size + 4, color=TEXT)),
           margin=dict(l=10, r=10, t=top, b=10), hoverlabel=dict(font=dict(size=size)),
           legend=dict(font=dict(size=size, color=TEXT)))
    if height:
        layout["height"] = int(height * (1.25 if present else 1))
    axis = dict(tickfont=dict(size=tick, color=TEXT), title=dict(font=dict(size=size, color=TEXT)), automargin=True)
    if present:
        axis.update(linewidth=2, gridwidth=1.5)
        for trace in traces:
            if trace.get("type", "scatter") != "scatter":
                continue
            _merge(trace, line=dict(width=4))
            marker = trace.setdefault("marker", {})
            m = marker.get("size")        # markers 1.5 x larger (a fixed 11 px made small dots blobs)
            if m is None:
                marker["size"] = 11
            elif isinstance(m, (int, float)):
                marker["size"] = max(m, min(1.5 * m, 30))
            else:
                marker["size"] = [max(x, min(1.5 * x, 30)) for x in m]
        for a in layout.get("annotations") or ():
            font = a.setdefault("font", {})
            font["size"] = max(font.get("size") or 0, tick)
        for trace in traces:   # colour bars and in-cell text of heatmaps, bars, sankeys
            if _has(trace, "colorbar"):
                _merge(trace, colorbar=dict(tickfont=dict(size=tick, color=TEXT)))
            if _has(trace, "textfont") and trace.get("type") != "sankey":
                _merge(trace, textfont=dict(size=max(tick, ((trace.get("textfont") or {}).get("size") or 0))))
    for name in {"xaxis", "yaxis"} | {k for k in layout if _AXIS.fullmatch(k)}:
        _merge(layout.setdefault(name, {}), **axis)
    _label_every_token(spec, present)
    return spec


_AXIS = re.compile(r"[xy]axis\d*")
HEATMAP_TICK = {False: 12, True: 16}     # token labels on heatmap axes: one per row/column, never thinned


def _label_every_token(spec: dict, present: bool = False) -> dict:
    """Every token label of every heatmap drawn, none thinned out, none colliding.

    Plotly drops every other category label when they look crowded; an explicit tick list keeps them all.
    Column labels stand vertically when there are more than 8 (a rotated label needs ~1.2 x its font size
    of width); the figure grows so that each row gets ~1.4 x the font size of height. Axes that hide their
    labels (small multiples) are left alone.
    """
    font = HEATMAP_TICK[present]
    layout = spec["layout"]
    rows = cols = 0
    for trace in spec["data"]:
        if trace.get("type") != "heatmap":
            continue
        for letter in ("x", "y"):
            values = trace.get(letter)
            if values is None or not len(values) or not isinstance(values[0], str):
                continue                       # numeric axes (positions, pairs): plotly's own ticks are right
            name = trace.get(f"{letter}axis") or letter
            axis = layout.setdefault(f"{name[0]}axis{name[1:]}", {})
            if axis.get("showticklabels") is False or axis.get("tickmode") == "array":
                continue
            _merge(axis, tickmode="array", tickvals=list(values), ticktext=list(values), tickfont=dict(size=font))
            if letter == "x":
                cols = max(cols, int(max(len(str(v).replace("\u200b", "")) for v in values) * font * 0.62) + 40)
                if len(values) > 8:
                    axis["tickangle"] = -90
            else:
                rows = max(rows, len(values))
                axis.pop("scaleanchor", None)
    if rows:
        need = int(rows * font * 1.4 + 80 + cols + (50 if (layout.get("title") or {}).get("text") else 0))
        if (layout.get("height") or 450) < need:
            layout["height"] = need
    return spec


def export_config(filename: str) -> dict:
    """Plotly toolbar config: high-resolution PNG export with a sensible file name."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 3},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
