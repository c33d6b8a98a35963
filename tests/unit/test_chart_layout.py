"""Figures readable on a projector (issue 15): every token labelled, labels apart, every expert shown, axes that fit."""
import numpy as np

from explorer.charts import attention as A
from explorer.charts import generation as G
from explorer.charts import kvcache as K
from explorer.charts import moe as M
from explorer.charts import pipeline as P
from explorer.charts import rope as R
from explorer.charts.theme import HEATMAP_TICK, style


def test_a_heatmap_names_every_token_and_grows_with_them_in_presenter_mode():
    labels = [f"tok{i}" for i in range(40)]
    fig = style(A.heatmap(np.eye(40, dtype=np.float32), labels), present=True)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert axis.tickmode == "array" and list(axis.ticktext) == A.unique_labels(labels)
        assert axis.tickfont.size == HEATMAP_TICK[True] >= 16
    assert fig.layout.xaxis.tickangle == -90
    assert fig.layout.height >= 40 * HEATMAP_TICK[True] * 1.4      # a row per token at 1.4 x the font


def test_small_multiples_that_hide_their_labels_are_left_alone():
    fig = style(A.head_grid(np.ones((4, 30, 30), dtype=np.float32), [str(i) for i in range(30)],
                            [f"head {h}" for h in range(4)]), present=True)
    assert fig.layout.xaxis.tickmode != "array" and fig.layout.xaxis.showticklabels is False


def test_the_toy_sankey_shows_an_expert_no_token_chose():
    chosen = np.array([[0, 1], [0, 2]])
    fig = M.toy_sankey(["a", "b"], ["returns", "shipping", "catalog", "billing"], chosen, np.full((2, 2), 0.5))
    s = fig.data[0]
    assert "billing: no token" in s.node.label
    billing = list(s.node.label).index("billing: no token")
    assert billing in s.link.target                                 # a (hair-thin, invisible) band reaches it
    thin = [v for v, t in zip(s.link.value, s.link.target) if t == billing]
    assert max(thin) < 0.01 * sum(s.link.value)


def test_converging_cache_lines_put_their_labels_on_both_sides():
    gib = 2 ** 30
    sides = K.end_label_sides([16 * gib, 8 * gib, gib], 2 ** 20, 2 ** 40)
    assert sides[0] != sides[1]                                      # 16 GiB and 8 GiB: too close for one side
    assert K.end_labels([gib, gib], 1, gib) == [K.end_labels([gib], 1, gib)[0], ""]   # equal sizes: one label


def test_the_top_k_axis_fits_a_flat_distribution():
    p = np.full(10, 0.02, dtype=np.float32)
    fig = G.topk_bars([str(i) for i in range(10)], p, 0, 500, np.cumsum(p), 0.9, None, "t")
    top = fig.layout.yaxis.range[1]
    assert 0.2 < top < 0.4                                           # the bars and their running sum, not 0-100%
    assert not any(s.type == "line" and s.y0 == 0.9 for s in fig.layout.shapes)   # top-p is off this axis
    assert fig.layout.yaxis.tickformat == ".2~%"


def test_the_score_curve_is_smooth_with_whole_gaps_marked():
    smooth, whole = np.linspace(-4, 4, 81), np.arange(-4, 5)
    fig = R.score_vs_gap(smooth, np.cos(smooth), [(4, 2, np.cos(2.0))], (4, 2, np.cos(2.0)),
                         whole=(whole, np.cos(whole)))
    assert len(fig.data[0].x) == 81 and list(fig.data[1].x) == list(whole) and fig.data[1].mode == "markers"


def test_token_focus_has_one_shared_label_column_between_its_panels():
    a = np.full((2, 5, 5), 0.2, dtype=np.float32)
    fig = A.token_focus(a, list("abcde"), token=1)
    columns = sorted({t.x[0] for t in fig.data if t.mode == "text"})
    assert len(columns) == 3 and columns[1] == 1.5


def test_pair_tracks_put_no_tick_at_a_panel_corner():
    """Square pair panels: a tick at the range's end puts the x and y end labels on each other at the bottom-left
    corner (the layout e2e caught '−1' over '−1' for a head whose values reach just past 1)."""
    rng = np.random.default_rng(0)
    for scale in (0.87, 1.0, 3.3, 0.02):
        pre = {p: rng.normal(size=(6, 2)) * scale for p in (0, 5)}
        fig = R.pair_tracks(pre, {p: v[:, ::-1] for p, v in pre.items()}, list("abcdef"), {0: 1.0, 5: 0.1}, "query", 2)
        axes = [fig.layout[k] for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
        assert len(axes) == 4
        for ax in axes:
            lim = ax.range[1]
            assert ax.tickvals and 0 in ax.tickvals
            assert all(abs(t) <= 0.75 * lim + 1e-12 for t in ax.tickvals), (lim, ax.tickvals)
            assert max(ax.tickvals) >= 0.3 * lim       # still a tick out towards the end, not only the centre


def test_the_chosen_bar_carries_its_share_in_its_note_not_twice():
    """The 'chosen' arrow sat on the chosen bar's own percentage label (seen at 1280x800: 'chosen' over '78%')."""
    p = np.array([0.78, 0.21, 0.01], dtype=np.float32)
    fig = G.topk_bars(["a", "b", "c"], p, 0, 3, np.cumsum(p), None, None, "t")
    assert list(fig.data[0].text) == ["", "21%", "1%"]
    assert [a.text for a in fig.layout.annotations] == ["chosen 78%"]
    fig = G.topk_bars(["a", "b", "c"], p, 1, 3, np.cumsum(p), None, None, "t")
    assert list(fig.data[0].text) == ["78%", "", "1%"] and fig.layout.annotations[0].text == "chosen 21%"


def test_every_weight_colorbar_puts_its_title_at_the_side():
    """A colorbar title on top sits on the top tick's label when the weights end just past a tick (the layout e2e
    caught '0.5' over 'weight' on the Generation and Pipeline pages' query-row chart)."""
    attn = np.full((4, 2, 5), 0.1, dtype=np.float32)
    attn[:, :, 0] = 0.52
    for fig in (G.attention_row(attn, list("abcde"), None), P.query_row(attn, list("abcde"))):
        assert fig.data[0].colorbar.title.side == "right" and fig.data[0].colorbar.title.text == "weight"
