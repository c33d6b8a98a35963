"""Attention figures and the offline bertviz embedding: sizes, labels, caps, escaping."""
import json

import numpy as np
import plotly.io as pio
import pytest

from explorer import attention as A
from explorer import bertviz_view as B
from explorer.charts import attention as C


def pattern(t, seed=0, layers=2, heads=3):
    return np.random.default_rng(seed).dirichlet(np.ones(t), size=(layers, heads, t)).astype(np.float16)


def test_one_heads_heatmap_stays_under_300_kb_at_128_tokens():
    a = pattern(128)[0, 0]
    labels = [f"token{i % 40}" for i in range(128)]
    fig = C.heatmap(a, labels)
    size = len(pio.to_json(fig.to_dict(), validate=False))
    assert size <= 300_000, size
    z = fig.data[0].z
    assert z.dtype == np.float32 and np.allclose(z, np.round(a.astype(np.float32), 4), atol=1e-6)
    assert "%{z:.4f}" in fig.data[0].hovertemplate          # hover shows the weight, 4 decimals


def test_repeated_tokens_stay_separate_rows_and_html_is_escaped():
    labels = C.unique_labels(["the", "cat", "the", "<b>", "the"])
    assert len(set(labels)) == 5 and labels[0] == "the" and labels[2].startswith("the")
    assert labels[3] == "&lt;b&gt;"


def test_layer_grid_has_one_heatmap_per_head_with_a_shared_scale():
    a = pattern(10, heads=4)[0]
    fig = C.head_grid(a, [str(i) for i in range(10)], [f"head {h}" for h in range(4)])
    assert len(fig.data) == 4 and {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert fig.layout.coloraxis.cmax == pytest.approx(float(a.max()))


def test_model_thumbnails_pool_and_carry_layer_head_for_clicks():
    a = pattern(50, layers=3, heads=4)
    fig = C.model_thumbnails(a, np.zeros((3, 4)), "entropy", thumb=16)
    big = fig.data[0].z
    assert big.shape[0] < 3 * 20 and np.isnan(big).any()          # pooled, with gaps between thumbnails
    assert [tuple(c) for c in fig.data[1].customdata][:5] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    p = C.pool(a.astype(np.float32), 16)
    assert p.shape == (3, 4, 16, 16)
    e = np.linspace(0, 50, 17).round().astype(int)          # each cell is the mean of its block of tokens
    np.testing.assert_allclose(p[2, 1, 3, 5], a[2, 1, e[3]:e[4], e[5]:e[6]].astype(np.float32).mean(), rtol=1e-5)


def test_token_focus_draws_both_directions_one_colour_per_head():
    a = pattern(6, heads=3)[0].astype(np.float32)
    fig = C.token_focus(a, list("abcdef"), token=2, min_weight=0.0)
    heads = {t.legendgroup for t in fig.data if t.legendgroup}
    assert heads == {"h0", "h1", "h2"}
    colours = {t.legendgroup: t.line.color for t in fig.data if t.mode == "lines"}
    assert len(set(colours.values())) == 3
    hover = " ".join(" ".join(t.hovertext) for t in fig.data if t.hovertext)
    assert "c → a" in hover and "a → c" in hover                  # attends to / attended by


def test_head_summary_is_clickable_squares():
    v = np.arange(12.0).reshape(3, 4)
    fig = C.head_summary(v, "entropy", {"entropy": v}, selected=(1, 2))
    assert fig.data[0].type == "scatter" and tuple(fig.data[0].customdata[6]) == (1, 2)
    assert list(fig.data[0].marker.color) == list(v.reshape(-1))


# ------------------------------------------------------------------ bertviz

@pytest.mark.parametrize("kind", ["head", "model", "neuron"])
def test_bertviz_token_cap_keeps_the_payload_under_budget(kind):
    for layers, heads, d in [(12, 12, 64), (4, 4, 32), (24, 16, 64)]:
        t = B.token_cap(layers, heads, kind, d)
        values = layers * heads * (t * t + (2 * t * d if kind == "neuron" else 0))
        assert 2 <= t and values <= B.VALUE_BUDGET
    assert B.token_cap(12, 12, "model") < 64 < B.token_cap(4, 4, "head")


def test_bertviz_html_escapes_tokens_and_inlines_the_libraries():
    a = pattern(4, layers=1, heads=2).astype(np.float32)
    js = {"d3": "/*d3*/", "jquery": "/*jq*/", "require": "/*rq*/"}
    page = B.head_or_model_view("head", a, ["</script><script>alert(1)", "b", "c", "d"], js)
    assert "</script><script>alert" not in page.html and "\\u003c/script\\u003e" in page.html
    assert "/*d3*/" in page.html and "cdnjs" not in page.html and "<script src=" not in page.html
    assert page.html.index("/*d3*/") < page.html.index("/*rq*/")   # globals first, then the AMD loader
    offline = B.head_or_model_view("model", a, list("abcd"), None)
    assert B.CDN["require"] in offline.html and "python -m explorer.download" in offline.html


def test_bertviz_neuron_view_params_hold_queries_and_keys():
    a = pattern(3, layers=1, heads=1).astype(np.float32)
    q = np.ones((1, 1, 3, 4), dtype=np.float32)
    page = B.neuron_view(a, q, q, list("abc"), None, bidirectional=False)
    params = json.loads(page.html.split("window.bertviz_params = ")[1].split(";</script>")[0])
    assert params["bidirectional"] is False and len(params["attention"]["all"]["queries"][0][0][0]) == 4


def test_js_fetch_reports_a_missing_npm_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_JS_CACHE", str(tmp_path))
    monkeypatch.setattr(B.shutil, "which", lambda name: None)
    problems = B.fetch_js()
    assert B.cached_js() is None and len(problems) == 1 and "npm" in problems[0]


def test_special_mask_does_not_count_unknown_as_special():
    class Tok:
        all_special_ids = [0, 1, 2]
        unk_token_id = 1
    assert A.special_mask(Tok(), [0, 1, 5, 2]) == [True, False, False, True]


def test_focus_table_lists_both_directions_for_every_head():
    from explorer import attention as A
    a = np.random.default_rng(0).random((2, 3, 3))
    t = A.focus_table(a, ["x", "y", "z"], token=1)
    assert len(t["head"]) == 2 * 3 * 2
    rows = list(zip(t["head"], t["direction"], t["query"], t["key"], t["weight"]))
    assert rows[0] == (0, "attends to", "y", "x", round(a[0, 1, 0], 6))
    assert rows[1] == (0, "attended by", "x", "y", round(a[0, 0, 1], 6))
    assert rows[-1] == (1, "attended by", "z", "y", round(a[1, 2, 1], 6))


@pytest.mark.parametrize("kind", ["head", "model", "neuron"])
def test_the_installed_bertviz_still_has_what_we_fill_in(kind):
    """A bertviz upgrade that renames its data slot or its require.config would give a blank view: fail here."""
    from explorer import bertviz_view as B
    src = B._view_js(kind, js_cached=True)
    assert B.PARAMS_SLOT[kind] in src and "require.config" not in src.split(B.PARAMS_SLOT[kind])[0][:2000]


def test_a_changed_bertviz_template_is_an_error_not_a_blank_view(monkeypatch, tmp_path):
    import bertviz

    from explorer import bertviz_view as B
    (tmp_path / "head_view.js").write_text("requirejs(['d3'], function(d3) { draw(params); });")
    monkeypatch.setattr(bertviz, "__file__", str(tmp_path / "__init__.py"))
    with pytest.raises(B.BertvizTemplateChanged, match="PYTHON_PARAMS"):
        B._view_js("head", js_cached=True)


def test_a_failed_javascript_fetch_is_retried_later(monkeypatch):
    from explorer import bertviz_view as B
    calls = []
    monkeypatch.setattr(B, "cached_js", lambda: None)
    monkeypatch.setattr(B, "fetch_js", lambda timeout: calls.append(1) or ["offline"])
    monkeypatch.setattr(B, "_last_fetch", None)
    assert B.js_or_fetch() == (None, "offline") and B.js_or_fetch() == (None, "offline")
    assert len(calls) == 1                                   # not again at once ...
    monkeypatch.setattr(B, "RETRY_AFTER", 0.0)
    B.js_or_fetch()
    assert len(calls) == 2                                   # ... but again once the wait is over
