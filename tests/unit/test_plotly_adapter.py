"""explorer/charts/plotly_adapter.py, the app's one module that reaches past plotly's public API: if plotly stops
honouring what it uses or changes what it builds, these fail loudly, by name, instead of the app silently slowing
down or drawing something else. And no other module of the app reaches past plotly's public API."""
import base64
import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from explorer.charts import attention as A
from explorer.charts import generation as G
from explorer.charts import plotly_adapter as PA
from explorer.charts import theme

ROOT = Path(__file__).resolve().parents[2]


def _json(fig):
    """The figure as the browser gets it, with plotly's typed arrays ({"dtype", "bdata"}) read back as numbers."""
    def plain(v):
        if isinstance(v, dict) and set(v) >= {"dtype", "bdata"}:
            a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
            return a.reshape([int(d) for d in str(v["shape"]).split(",")]).tolist() if "shape" in v else a.tolist()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v
    return plain(json.loads(pio.to_json(fig, validate=False)))


def test_fast_figure_still_skips_validation_when_built():
    """A property plotly does not know goes through unchecked: the argument still switches validation off (if
    plotly drops `_validate`, the public constructor's check raises here)."""
    fig = A.fast_figure([dict(type="scatter", x=[1, 2], y=[3, 4], bogus=1)])
    assert fig.data[0].type == "scatter"


def test_fast_figure_validates_every_change_after_it_is_built():
    fig = A.fast_figure([dict(type="scatter", x=[1, 2], y=[3, 4])], dict(title=dict(text="t")))
    with pytest.raises(ValueError):
        fig.update_layout(not_a_layout_property=1)
    with pytest.raises(ValueError):
        fig.update_traces(not_a_trace_property=1)
    with pytest.raises(ValueError):
        fig.add_annotation(text="a", not_an_annotation_property=1)


@pytest.mark.parametrize("build", [
    lambda: A.token_focus(np.full((2, 5, 5), 0.2, np.float32), list("abcde"), token=1),
    lambda: A.head_grid(np.full((3, 4, 4), 0.25, np.float32), list("abcd"), ["h0", "h1", "h2"]),
    lambda: G.timeline(["a", "b"], ["c", "d", "e"], np.array([0.2, 0.9, 0.5]), "probability", selected=1),
], ids=["token focus", "head grid", "timeline"])
def test_fast_figure_draws_exactly_what_the_validated_figure_draws(build, monkeypatch):
    """The figure sent to the browser is the same JSON as plotly's validated constructor makes of the same data."""
    fast = _json(build())
    monkeypatch.setattr(A, "fast_figure", lambda traces, layout=None: go.Figure(dict(data=traces, layout=layout or {})))
    monkeypatch.setattr(G, "fast_figure", A.fast_figure)
    assert fast == _json(build())


def test_props_is_what_to_dict_holds_before_its_copies():
    """props() reads the figure's own record of what was set: the same content as the public to_dict(), frames
    included, arrays as the builder gave them (to_dict() turns them into typed arrays)."""
    z = np.arange(6, dtype=np.float32).reshape(2, 3)
    fig = go.Figure(go.Heatmap(z=z, x=["a", "b", "c"]), layout=dict(title=dict(text="t")),
                    frames=[go.Frame(data=[go.Heatmap(z=z * 2)], name="f0")])
    held = PA.props(fig)
    assert held["data"][0]["z"] is not None and np.array_equal(np.asarray(held["data"][0]["z"]), z)
    public = fig.to_dict()
    assert held["layout"]["title"] == public["layout"]["title"]
    assert [f["name"] for f in held["frames"]] == [f["name"] for f in public["frames"]] == ["f0"]
    copy = PA.typed_arrays(theme.plain(fig))
    assert copy == public


def test_typed_arrays_encode_numbers_as_plotly_js_reads_them():
    spec = {"data": [{"type": "heatmap", "z": np.array([[1.5, 2.5]], dtype=np.float32)}], "layout": {}}
    PA.typed_arrays(spec)
    z = spec["data"][0]["z"]
    assert set(z) >= {"dtype", "bdata"}
    assert np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).tolist() == [1.5, 2.5]


def test_drawn_hands_streamlit_its_dict_as_it_is():
    """st.plotly_chart turns a figure into its spec with plotly.tools.return_figure_from_figure_or_data, which asks
    a figure for to_dict() and does not validate it again: a Drawn figure's dict goes through untouched."""
    import plotly.tools
    spec = {"data": [{"type": "scatter", "x": [1], "y": [2]}], "layout": {"height": 300}}
    out = plotly.tools.return_figure_from_figure_or_data(PA.Drawn(spec), validate_figure=True)
    assert out is spec


def test_trace_property_check_uses_plotlys_public_membership():
    assert theme._has({"type": "heatmap"}, "colorbar")
    assert not theme._has({"type": "scatter"}, "colorbar")
    assert theme._has({}, "textfont")


PRIVATE = re.compile(r"_validate\b|_plotly_utils|\._data\b|\._layout\b|_valid_props|_frame_objs|\._props\b")


def test_no_other_module_reaches_past_plotlys_public_api():
    offenders = [f"{p.relative_to(ROOT)}:{i}" for folder in ("explorer", "pages") for p in (ROOT / folder).rglob("*.py")
                 if p.name != "plotly_adapter.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if PRIVATE.search(line.split("#")[0])]
    assert offenders == []
