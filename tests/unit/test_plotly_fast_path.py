"""The one private plotly argument the app uses (`_validate`, in explorer.charts.attention.fast_figure): if plotly
stops honouring it or changes what it builds, these fail loudly instead of the app silently slowing down or
drawing something else."""
import base64
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from explorer.charts import attention as A
from explorer.charts import generation as G


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
