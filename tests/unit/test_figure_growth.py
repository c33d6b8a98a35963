"""Figures built per token stay a fixed number of traces and shapes per token: no rerun grows faster
than the tokens shown (bench/figures.py measures the times side by side)."""
import time

import numpy as np
import plotly.graph_objects as go

from explorer.charts import attention as CA
from explorer.charts import generation as CG
from explorer.charts import moe as CM
from explorer.ui.figures import sanitize


def test_the_generation_timeline_is_two_traces_and_no_shapes_at_any_length():
    words = [f"w{i}" for i in range(1000)]
    t = time.perf_counter()
    fig = CG.timeline(words[:10], words[10:], np.linspace(0, 1, 990), "probability", selected=500)
    built = time.perf_counter() - t
    assert len(fig.data) == 2 and not fig.layout.shapes
    tiles, text = fig.data
    assert tiles.type == "bar" and len(tiles.y) == 1000 and list(text.text[:2]) == ["w0", "w1"]
    assert list(tiles.customdata[8:12]) == [-2, -1, 0, 1]            # a click on a tile gives its step
    assert [w for w in tiles.marker.line.width if w == 3] == [3]      # only the step shown is framed
    assert tiles.marker.line.width[10 + 500] == 3
    assert built < 5, f"{built:.1f} s for 1,000 tokens (the old one-shape-per-token version: 142 s)"


def test_the_timeline_wraps_rows_and_greys_the_prompt():
    fig = CG.timeline(["a"] * 3, ["bb"] * 100, np.ones(100), "entropy", selected=None, width=20, vmax=2.0)
    tiles = fig.data[0]
    assert set(tiles.marker.color[:3]) == {"#E6E6E6"} and "#E6E6E6" not in tiles.marker.color[3:]
    assert min(tiles.y) < -5                                          # many rows
    assert all(x0 + w <= 20 + 3 for x0, w in zip(tiles.base, tiles.x))


def test_a_layer_grid_of_a_long_text_is_pooled_to_what_a_panel_can_show():
    t = 600
    a = np.tril(np.ones((t, t), np.float32))
    mats = np.stack([a / a.sum(-1, keepdims=True)] * 4)
    fig = CA.head_grid(mats, [f"t{i}" for i in range(t)], [f"head {h}" for h in range(4)])
    z = np.asarray(fig.data[0].z)
    assert z.shape == (CA.GRID_CELLS, CA.GRID_CELLS)
    np.testing.assert_allclose(z.mean(), mats[0].mean(), rtol=1e-3)  # pooled means, not samples
    assert fig.data[0].x[0].startswith("tokens 0–")
    short = CA.head_grid(mats[:, :20, :20], [f"t{i}" for i in range(20)], ["h"] * 4)
    assert np.asarray(short.data[0].z).shape == (20, 20)


def test_router_heatmap_frames_are_two_traces_at_any_length():
    T, E = 500, 8
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(E), T)
    chosen = np.argsort(-probs, -1)[:, :2]
    fig = CM.router_heatmap(probs, chosen, np.take_along_axis(probs, chosen, -1), [f"t{i}" for i in range(T)],
                            [f"E{e}" for e in range(E)], highlight=3)
    assert len(fig.data) == 3 and len(fig.layout.shapes) == 1                   # heatmap, two frame traces; the row
    black = fig.data[1]                                   # one closed path per chosen cell, None between
    e = chosen[0, 0]
    assert black.x[:6] == (e - 0.48, e + 0.48, e + 0.48, e - 0.48, e - 0.48, None)
    assert black.x.count(None) == 2 * T
    assert fig.layout.yaxis.ticktext[0] == "t0" and tuple(fig.layout.xaxis.ticktext) == tuple(f"E{i}" for i in range(E))


def test_sanitize_makes_links_and_styles_in_figure_text_inert_and_keeps_formatting():
    fig = go.Figure(go.Bar(x=['<a href="http://evil.example">x</a>', "a<br>b", "&lt;ok"], y=[1, 2, 3],
                           text=["<span style='fill:url(http://evil.example/#x)'>s</span>", "<b>b</b>", "c"],
                           hovertext=["<img src=http://evil.example/i.png>", "x", "y"]))
    fig.update_layout(title='model <a href="http://evil.example">', annotations=[dict(text="<A HREF=x>y</A>")],
                      xaxis=dict(ticktext=["<a href=x>t</a>"], tickvals=[0]))
    sanitize(fig)
    texts = [*fig.data[0].x, *fig.data[0].text, *fig.data[0].hovertext, fig.layout.title.text,
             fig.layout.annotations[0].text, *fig.layout.xaxis.ticktext]
    assert not any("<a" in s.lower() or "<span" in s or "<img" in s for s in texts)
    assert fig.data[0].x[1] == "a<br>b" and fig.data[0].text[1] == "<b>b</b>"
    assert fig.data[0].x[0] == '&lt;a href="http://evil.example">x&lt;/a>'
    sanitize(fig)                                                      # idempotent
    assert fig.data[0].x[0] == '&lt;a href="http://evil.example">x&lt;/a>'
