"""Show a figure the same way everywhere: app styling, presenter mode, PNG and data export."""
from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.charts.plotly_adapter import Drawn, typed_arrays
from explorer.charts.theme import export_config, plain, styled
from explorer.ui.presenter import presenting


# Plotly renders a small HTML subset in every text of a figure; <a href>, <span style> and anything
# else with attributes could make a link or load a resource. Tokens, words and model names are data:
# every tag in them except plain formatting (<br>, <b>, <i>, <em>, <sup>, <sub>) is shown as text.
_TAG = re.compile(r"<(?!/?(?:br|b|i|em|sup|sub)\s*/?>)", re.IGNORECASE)
_TEXT_FIELDS = ("x", "y", "text", "hovertext", "labels", "ids", "customdata", "meta")


def _safe(v):
    if isinstance(v, str):
        return _TAG.sub("&lt;", v) if "<" in v else v
    if isinstance(v, (list, tuple)) or (isinstance(v, np.ndarray) and v.dtype == object):
        if any(isinstance(x, str) and "<" in x for x in np.asarray(v, dtype=object).ravel()) or \
                any(isinstance(x, (list, tuple)) for x in v):
            return type(v)(_safe(x) for x in v) if not isinstance(v, np.ndarray) else \
                np.array([_safe(x) for x in v], dtype=object)
    return v


def _get(obj, key):
    """obj[key] of a plotly object or a figure's plain dict; None where it is not set."""
    return obj[key] if obj is not None and key in obj else None


def sanitize(fig):
    """Every text of a figure (a go.Figure or its plain dict) that may hold a visitor's or a model's text, made
    inert (see _TAG). Returns it."""
    for trace in _get(fig, "data") or ():
        for name in _TEXT_FIELDS:
            value = _get(trace, name)
            if value is not None:
                safe = _safe(value)
                if safe is not value:
                    trace[name] = safe
        for part in ("node", "link"):               # sankey labels
            label = _get(_get(trace, part), "label")
            if label is not None:
                trace[part]["label"] = _safe(label)
    lay = _get(fig, "layout")
    if lay is None:
        return fig
    title = _get(lay, "title")
    if _get(title, "text"):
        title["text"] = _safe(title["text"])
    for ann in _get(lay, "annotations") or ():
        if _get(ann, "text"):
            ann["text"] = _safe(ann["text"])
    for axis in [_get(lay, k) for k in lay if k.startswith(("xaxis", "yaxis"))]:
        if _get(axis, "ticktext") is not None:
            axis["ticktext"] = _safe(axis["ticktext"])
        title = _get(axis, "title")
        if _get(title, "text"):
            title["text"] = _safe(title["text"])
    return fig


def spec(fig: go.Figure, present: bool = False, height: int | None = None) -> dict:
    """What the browser is sent for `fig`: a sanitized, styled plain-dict copy (the figure is left as it was),
    numeric arrays as plotly's base64 typed arrays, like fig.to_dict() (which deep-copies every array first)."""
    out = styled(sanitize(plain(fig)), present=present, height=height)
    return typed_arrays(out)     # assigns into the copies only (the shared template holds no arrays)


def show(fig: go.Figure, name: str, data: dict | None = None, height: int | None = None,
         on_select=None, key: str | None = None):
    """Draw `fig` (styled for the current mode) with a hi-res PNG button and CSV/JSON downloads.

    data: the numbers behind the figure, {column: 1-D sequence} (CSV and JSON) or any JSON-able
    mapping (JSON only). on_select: "rerun" to get click selections back (returns the state).
    """
    drawn = Drawn(spec(fig, present=presenting(), height=height))
    # theme=None: our styling is what is drawn (Streamlit's chart theme greys axis text out on a projector)
    kwargs = dict(config=export_config(slug(name)), key=key or f"fig_{slug(name)}", theme=None)
    if on_select:
        kwargs.update(on_select=on_select, selection_mode=("points",))
    state = st.plotly_chart(drawn, **kwargs)
    if data is not None:
        download_data(data, name)
    return state


def selected_points(state) -> list[dict]:
    """The points a click selected in a figure drawn with on_select="rerun" (its widget state); [] if none."""
    try:
        return list(state["selection"]["points"] or [])
    except (KeyError, TypeError):
        return []


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "figure"


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def is_table(data: dict) -> bool:
    """Equal-length 1-D columns (what to_csv can write); a cheap check, no CSV is built."""
    cols = [np.asarray(v) for v in data.values()]
    return bool(cols) and all(c.ndim == 1 for c in cols) and len({len(c) for c in cols}) == 1


def to_csv(data: dict) -> str | None:
    """CSV of equal-length columns, or None when the data is not a flat table."""
    if not is_table(data):
        return None
    cols = {k: np.asarray(v) for k, v in data.items()}
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for row in zip(*cols.values()):
        w.writerow([x.item() if hasattr(x, "item") else x for x in row])
    return buf.getvalue()


def download_data(data: dict, name: str) -> None:
    s = slug(name)
    # deferred: the JSON/CSV text is built only when a button is clicked, not on every re-run
    csv_ok = is_table(data)
    # a horizontal row of content-width buttons: column ratios squash the labels inside narrow columns
    row = st.container(horizontal=True, gap="small")
    row.download_button("JSON", lambda: json.dumps(_jsonable(data)), file_name=f"{s}.json", mime="application/json",
                       key=f"dl_json_{s}", help="The numbers behind this figure")
    if csv_ok:
        row.download_button("CSV", lambda: to_csv(data), file_name=f"{s}.csv", mime="text/csv", key=f"dl_csv_{s}",
                            help="The numbers behind this figure")


def table(data, *, container=None, hide_index: bool = True, height=None, **grid_args):
    """A table of results. Normally the interactive grid (sort, resize, search); in presenter mode an HTML table,
    which the presenter stylesheet sets at projector size (the grid draws its cells on a canvas at ~12 px, out of
    reach of any stylesheet). grid_args (column_config, width, ...) apply to the grid only."""
    where = container or st
    if presenting():
        return where.table(data, hide_index=hide_index, border="horizontal")
    args = {"width": "stretch", **grid_args}
    if height is not None:
        args["height"] = height
    return where.dataframe(data, hide_index=hide_index, **args)
