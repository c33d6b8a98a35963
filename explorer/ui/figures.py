"""Show a figure the same way everywhere: app styling, presenter mode, PNG and data export."""
from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.charts.theme import export_config, style
from explorer.ui.presenter import presenting


def show(fig: go.Figure, name: str, data: dict | None = None, height: int | None = None,
         on_select=None, key: str | None = None):
    """Draw `fig` (styled for the current mode) with a hi-res PNG button and CSV/JSON downloads.

    data: the numbers behind the figure, {column: 1-D sequence} (CSV and JSON) or any JSON-able
    mapping (JSON only). on_select: "rerun" to get click selections back (returns the state).
    """
    style(fig, present=presenting(), height=height)
    # theme=None: our styling is what is drawn (Streamlit's chart theme greys axis text out on a projector)
    kwargs = dict(config=export_config(slug(name)), key=key or f"fig_{slug(name)}", theme=None)
    if on_select:
        kwargs.update(on_select=on_select, selection_mode=("points",))
    state = st.plotly_chart(fig, **kwargs)
    if data is not None:
        download_data(data, name)
    return state


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
