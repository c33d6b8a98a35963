"""What a page sends for a figure (explorer.ui.figures.spec): the figure's own dict, sanitized and styled, built
without plotly's per-property validation, and without touching the figure or the template every figure shares."""
import copy
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from _plotly_utils.utils import convert_to_base64

from explorer.charts import attention as A
from explorer.charts import moe as M
from explorer.charts import theme
from explorer.ui.figures import spec


def _figures():
    labels = ["<b>a</b>", "b", "<a href='x'>c</a>", "d"]
    return [A.heatmap(np.eye(4, dtype=np.float32), labels, title="t"),
            A.head_grid(np.ones((4, 4, 4), dtype=np.float32), labels, [f"head {h}" for h in range(4)]),
            M.toy_sankey(["a", "b"], ["returns", "shipping", "catalog", "billing"], np.array([[0, 1], [0, 2]]),
                         np.full((2, 2), 0.5)),
            go.Figure(go.Scatter(x=np.arange(5), y=np.arange(5.0), mode="lines+markers", marker=dict(size=[4, 8, 12, 16, 40])))]


def test_the_plain_copy_is_what_plotly_would_send_before_styling():
    for fig in _figures():
        plain = theme.plain(fig)
        convert_to_base64(plain)
        assert pio.to_json(plain, validate=False) == pio.to_json(fig.to_dict(), validate=False)


def test_sending_a_figure_changes_neither_it_nor_the_shared_template():
    template = copy.deepcopy(pio.templates[theme.template()].to_plotly_json())
    for fig in _figures():
        before = pio.to_json(fig.to_dict(), validate=False)
        for present in (False, True):
            out = spec(fig, present=present, height=300)
            json.dumps(out, default=str)
            assert out["layout"]["template"] == template
        assert pio.to_json(fig.to_dict(), validate=False) == before      # the page's figure is as it was
    assert theme._template_spec() == template


def test_the_spec_is_the_styled_and_sanitized_figure():
    heat, grid, sankey, line = _figures()
    out = go.Figure(spec(heat, present=True))          # plotly accepts it: every property is valid
    assert out.layout.font.size == theme.PRESENT_FONT and out.layout.title.font.size == theme.PRESENT_FONT + 4
    assert list(out.layout.xaxis.ticktext) == A.unique_labels(["<b>a</b>", "b", "<a href='x'>c</a>", "d"])
    heat.update_layout(title="<a href='x'>link</a> <b>bold</b>")
    assert spec(heat)["layout"]["title"]["text"] == "&lt;a href='x'>link&lt;/a> <b>bold</b>"   # inert, formatting kept
    assert out.layout.xaxis.tickfont.size == theme.HEATMAP_TICK[True]
    assert out.data[0].colorbar.tickfont.size == theme.PRESENT_FONT - 2
    scatter = go.Figure(spec(line, present=True)).data[0]
    assert scatter.line.width == 4 and list(scatter.marker.size) == [6, 12, 18, 24, 40]
    assert go.Figure(spec(line)).data[0].line.width is None                  # presenter mode only
    assert go.Figure(spec(sankey, height=200)).layout.height == 200
