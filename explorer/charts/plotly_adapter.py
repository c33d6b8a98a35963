"""Every place the explorer reaches past plotly's public API, in one module (as explorer/hf.py is for transformers).

Why there is any: plotly validates every property of every figure it builds (a colour per tile, a hover text per
link) and deep-copies every array when it hands a figure over (`to_dict`). A page re-draws several figures on each
slider move and serves a class at once, and the public path measured, per re-draw at 256 tokens (bench: build,
sanitize, style, JSON; CPU time side by side), 1.5-2x slower on token focus and the generation timeline and
1.2-1.4x on the token strip and the router heatmap; a figure shared between sessions (charts.theme.shared_figure)
costs a few ms instead of the builder's 0.1-1 s only because it is rebuilt here without validation.

What is used, and nothing else:
- `go.Figure(spec, _validate=False)`, then validation switched back on (`unvalidated`);
- the figure's own record of what was set (`_data`, `_layout`, `_frame_objs`: `props`), read without to_dict's
  deep copy;
- `_plotly_utils.utils.convert_to_base64` (`typed_arrays`), the function to_dict itself uses to send arrays to
  plotly.js as typed arrays.
`Drawn` is public API only (a figure whose `to_dict()` is a finished dict, which is all `st.plotly_chart` asks of a
figure), kept here because it stands in for a go.Figure.

tests/unit/test_plotly_adapter.py pins each against the installed plotly (a change fails there, by name, instead
of a page silently slowing down or drawing something else). Pinned for plotly 6 (see requirements.txt).
"""
from __future__ import annotations

import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64


def unvalidated(spec: dict) -> go.Figure:
    """A figure from a plain {"data": [...], "layout": {...}} dict, built without plotly's per-property
    validation; every later change to it (update_layout, add_annotation, ...) is validated as usual. The dict's
    values become the figure's own: pass a copy if the caller keeps using it."""
    fig = go.Figure(spec, _validate=False)
    fig._validate = True
    fig.layout._validate = True
    return fig


def props(fig: go.Figure) -> dict:
    """What was set on `fig`, as its own nested dicts and lists: {"data", "layout"[, "frames"]}. Not a copy:
    callers copy the containers they change (charts.theme.plain)."""
    out = {"data": fig._data, "layout": fig._layout}
    if fig._frame_objs:
        out["frames"] = [f._props for f in fig._frame_objs]
    return out


def typed_arrays(spec: dict) -> dict:
    """Numeric arrays in a figure's plain dict replaced in place by plotly.js typed-array records
    ({"dtype", "bdata", "shape"}), as fig.to_dict() sends them. Returns spec."""
    convert_to_base64(spec)
    return spec


class Drawn(go.Figure):
    """A figure already turned into its final plain dict (sanitized, styled, typed arrays): st.plotly_chart asks a
    figure for to_dict() and serialises that, so this one hands over the dict as it is, without building and
    validating plotly objects again (~50 ms a figure) or deep-copying it."""

    def __init__(self, spec: dict):            # no go.Figure.__init__: nothing here is a plotly object
        object.__setattr__(self, "_spec", spec)

    def to_dict(self) -> dict:
        return self._spec
