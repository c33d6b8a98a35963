"""The attention page's choices moved into the engine: which pattern a view draws, its tables and its lines."""
import numpy as np

from explorer import attention as A


def _attn(layers=2, heads=3, t=4, seed=0):
    a = np.random.default_rng(seed).random((layers, heads, t, t))
    return a / a.sum(-1, keepdims=True)


def test_head_pattern_picks_one_head_a_combination_or_the_rollout():
    attn = _attn()
    rolled = A.rollout(A.combine_heads(attn, "mean"))
    a, what, note = A.head_pattern(attn, rolled, 1, 2)
    assert np.array_equal(a, attn[1, 2]) and what == "layer 1, head 2" and note is None
    a, what, note = A.head_pattern(attn, rolled, 1, 2, "max")
    assert np.allclose(a, attn[1].max(0)) and what == "layer 1, max of heads" and note == A.HEAD_NOTES["max"]
    a, what, note = A.head_pattern(attn, rolled, 1, 2, "mean")
    assert np.allclose(a.sum(-1), 1) and note is None
    a, what, note = A.head_pattern(attn, rolled, 1, 2, "max", roll=True)
    assert np.array_equal(a, rolled[1]) and what == "rollout through layers 0–1" and note == A.HEAD_NOTES["rollout"]


def test_tables_have_one_row_per_head_or_cell():
    attn = _attn()
    stats = {"entropy": A.entropy(attn), "self": A.self_score(attn)}
    t = A.summary_table(stats)
    assert list(t["layer"]) == [0, 0, 0, 1, 1, 1] and list(t["head"]) == [0, 1, 2, 0, 1, 2]
    assert np.allclose(t["self"], np.round(stats["self"].reshape(-1), 6))
    pooled = attn[..., :2, :2]
    thumbs = A.thumbnails_table(pooled)
    assert len(thumbs["weight"]) == 2 * 3 * 2 * 2 and thumbs["head"][4] == 1 and thumbs["key"][1] == "1"


def test_lines_under_the_views():
    values = np.array([[0.1, 0.2], [0.9, 0.3]])
    before, after = A.summary_notes("sep", values, [True, False, False], "BERT <b>")
    assert "\\[SEP\\]" in before and "<b>" not in before
    assert after.startswith("Share to [SEP]:") and "layer 1, head 0 (0.900)" in after
    assert A.summary_notes("entropy", values, [True, False, True], "x")[0] is None
    assert A.thumbnails_note(40, 32).startswith("Each thumbnail averages") and A.thumb_size(12, 12) == 24
    assert A.thumbnails_note(10, 32) == "Click a thumbnail to open that head."
    assert A.focus_note("*x*").startswith("Causal: **\\*x\\*** can only look left")
    assert "the first 5 of 9 tokens" in A.bertviz_caption("model", "m", 5, 9, 2_000_000)
    assert "all 9 tokens (2.0 MB" in A.bertviz_caption("head", "m", 9, 9, 2_000_000)


def test_which_views_use_the_layer_and_head_sliders():
    assert A.sliders_used("head", "head", "one", False) == (True, True)
    assert A.sliders_used("head", "head", "mean", False) == (True, False)
    assert A.sliders_used("head", "head", "one", True) == (True, False)
    assert A.sliders_used("bertviz", "model", "one", False) == (False, False)
    assert A.sliders_used("bertviz", "neuron", "mean", True) == (True, True)
    assert A.sliders_used("summary", "head", "one", False)[0] is False
