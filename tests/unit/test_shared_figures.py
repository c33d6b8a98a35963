"""Shared work for shared links: a chart builder decorated with theme.shared_figure builds a figure once per
identical arguments for every session, never hands one request's figure to another, and keeps a bounded number."""
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from explorer.charts import attention as A
from explorer.charts import pipeline as P
from explorer.charts import theme
from explorer.ui.figures import spec


@pytest.fixture
def counted(monkeypatch):
    monkeypatch.setattr(theme, "_figures", type(theme._figures)())
    calls = []

    @theme.shared_figure
    def bars(values, labels, title="", source=None):
        calls.append(title)
        return go.Figure(go.Bar(x=list(labels), y=np.asarray(values)), layout=dict(title=title))
    return bars, calls


def _sent(fig):
    return json.loads(pio.to_json(spec(fig, present=False), validate=False))


def test_the_same_request_is_built_once_and_sent_alike(counted):
    bars, calls = counted
    first = bars(np.array([1.0, 2.0]), ["a", "b"], title="t")
    second = bars(np.array([1.0, 2.0]), ["a", "b"], title="t")          # another session, the same link
    assert calls == ["t"] and first is not second
    assert _sent(first) == _sent(second)


def test_different_requests_never_share_a_figure(counted):
    bars, calls = counted
    a = bars(np.array([1.0, 2.0]), ["a", "b"], title="t")
    b = bars(np.array([1.0, 3.0]), ["a", "b"], title="t")               # one number differs
    c = bars(np.array([1.0, 2.0]), ["a", "c"], title="t")               # one label differs
    d = bars(np.array([1.0, 2.0], dtype=np.float32), ["a", "b"], title="t")   # the dtype differs
    e = bars(np.array([1.0, 2.0]), ["a", "b"], title="u")               # a keyword differs
    assert len(calls) == 5
    assert list(b.data[0].y) == [1.0, 3.0] and list(c.data[0].x) == ["a", "c"] and e.layout.title.text == "u"
    assert list(bars(np.array([1.0, 2.0]), ["a", "b"], title="t").data[0].y) == list(a.data[0].y)
    assert d.data[0].y.dtype == np.float32


def test_a_page_changing_its_figure_or_its_data_changes_nobody_elses(counted):
    bars, calls = counted
    values = np.array([1.0, 2.0])
    first = bars(values, ["a", "b"], title="t")
    first.update_layout(title="mine")
    values[0] = 99.0                                       # the caller reuses its array afterwards
    again = bars(np.array([1.0, 2.0]), ["a", "b"], title="t")
    again.update_layout(height=123)
    third = bars(np.array([1.0, 2.0]), ["a", "b"], title="t")
    assert calls == ["t"]
    assert third.layout.title.text == "t" and third.layout.height is None and list(third.data[0].y) == [1.0, 2.0]


def test_kept_figures_are_bounded(counted, monkeypatch):
    bars, calls = counted
    monkeypatch.setattr(theme, "FIGURES_KEPT", 3)
    for i in range(5):
        bars(np.array([float(i)]), ["a"])
    assert len(theme._figures) == 3
    bars(np.array([0.0]), ["a"])                           # the oldest was dropped: built again
    assert len(calls) == 6
    monkeypatch.setattr(theme, "FIGURE_BYTES_KEPT", 1)
    bars(np.array([7.0]), ["a"])
    assert len(theme._figures) == 1                        # over the byte bound only the newest stays


def test_an_argument_without_a_fingerprint_is_built_every_time(counted):
    bars, calls = counted

    class Model:                                           # e.g. a loaded model: compared by nothing
        pass
    m = Model()
    bars(np.array([1.0]), ["a"], source=m)
    bars(np.array([1.0]), ["a"], source=m)
    assert len(calls) == 2 and len(theme._figures) == 0


def test_real_builders_give_the_same_figure_from_the_store():
    labels = ["The", " refund", " was", " late"]
    a = np.random.default_rng(0).random((4, 4)).astype(np.float32)
    for build, args in [(A.heatmap, (a, labels, "layer 1 head 2")),
                        (P.path_diagram, ([("embed", "Embed", "[1, 4, 768]"), ("block", "Block 1", "[1, 4, 768]")], "embed"))]:
        built, stored = build(*args), build(*args)
        for present in (False, True):
            assert json.loads(pio.to_json(spec(built, present), validate=False)) == \
                json.loads(pio.to_json(spec(stored, present), validate=False))
