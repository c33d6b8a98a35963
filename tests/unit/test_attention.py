"""Attention engine: the patterns of both families, the view options and the head statistics."""
import math

import numpy as np
import pytest

from explorer import attention as A
from tests.conftest import bundled_model

TEXT = "The quick brown fox jumps over the lazy dog, and unbelievably the dog sleeps on."


@pytest.fixture(scope="module", params=["tiny-bert", "tiny-gpt2"])
def result(request):
    return A.run_attention(bundled_model(request.param), TEXT, 128)


def test_every_attention_row_sums_to_one(result):
    sums = result.attn.astype(np.float64).sum(-1)
    assert result.attn.ndim == 4 and result.attn.shape[-1] == result.attn.shape[-2] == len(result.tokens)
    np.testing.assert_allclose(sums, 1.0, atol=1e-3)


def test_causal_mask_hides_future_in_every_gpt2_layer_and_head():
    r = A.run_attention(bundled_model("tiny-gpt2"), TEXT, 128)
    t = r.n_tokens
    upper = np.triu(np.ones((t, t), dtype=bool), 1)
    assert r.causal
    assert (r.attn[..., upper] == 0).all()          # exactly zero, not just small
    assert A.above_diagonal(r.attn) == 0.0 and A.share_above_diagonal(r.attn) == 0.0


def test_bert_rows_span_the_whole_sentence():
    r = A.run_attention(bundled_model("tiny-bert"), TEXT, 128)
    assert not r.causal
    assert r.tokens[0] == "[CLS]" and r.tokens[-1] == "[SEP]" and r.special[0] and r.special[-1]
    assert A.share_above_diagonal(r.attn) > 0.1     # later tokens get real weight
    later = r.attn[:, :, 1, 2:].astype(np.float64).sum(-1)
    assert (later > 1e-3).all()                      # in every head, the first word reads from later tokens


def test_token_limit_truncates_and_says_so():
    r = A.run_attention(bundled_model("tiny-bert"), TEXT * 20, 64)
    assert r.n_tokens == 64 and r.truncated and r.tokens[-1] == "[SEP]"
    assert "64 of its" in r.notice


def test_hiding_tokens_renormalises_rows_exactly():
    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(6), size=(2, 3, 6)).astype(np.float32)   # [layer, head, q, k]
    keep = [False, True, True, False, True, True]
    out = A.keep_tokens(a, keep, renormalise=True)
    k = np.array(keep)
    expected = a[..., k, :][..., k] / a[..., k, :][..., k].sum(-1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-6)
    raw = A.keep_tokens(a, keep, renormalise=False)
    np.testing.assert_array_equal(raw, a[..., k, :][..., k])           # off: the raw weights, untouched
    assert (raw.sum(-1) < 1).all()


def test_prepare_hides_special_tokens_of_bert():
    r = A.run_attention(bundled_model("tiny-bert"), "the cat sat", 128)
    p = A.prepare(r.attn[0, 0], r.tokens, r.special, hide_special=True, renormalise=True)
    assert "[CLS]" not in p.labels and "[SEP]" not in p.labels and len(p.labels) == r.n_tokens - 2
    np.testing.assert_allclose(p.attn.sum(-1), 1.0, atol=1e-5)
    assert p.positions[0] == [1] and "renormalised" in p.notes[0]


def test_word_groups_follow_wordpiece_and_byte_level_bpe_markers():
    assert A.word_groups(["[CLS]", "un", "##believ", "##able", "cat", "[SEP]"], [True, False, False, False, False, True],
                         "wordpiece") == [[0], [1, 2, 3], [4], [5]]
    assert A.word_groups(["The", "Ġun", "believ", "able", "Ġcat", "."], None, "bpe") == [[0], [1, 2, 3], [4, 5]]
    assert A.word_label(["un", "##believ", "##able"]) == "unbelievable"
    assert A.word_label(["Ġun", "believ", "able"]) == "␣unbelievable"


def test_merging_words_keeps_rows_distributions_and_the_causal_mask():
    r = A.run_attention(bundled_model("tiny-gpt2"), "Unbelievably, the antidisestablishment cat slept.", 128)
    p = A.prepare(r.attn, r.tokens, r.special, merge=True, scheme=r.scheme)
    w = len(p.labels)
    assert w < r.n_tokens
    np.testing.assert_allclose(p.attn.sum(-1), 1.0, atol=1e-3)
    assert (p.attn[..., np.triu(np.ones((w, w), dtype=bool), 1)] == 0).all()
    # to a word = sum over its pieces; from a word = mean over its pieces
    g = A.word_groups(r.tokens, r.special, r.scheme)
    multi = next(i for i, x in enumerate(g) if len(x) > 1)
    a = r.attn[0, 0].astype(np.float64)
    np.testing.assert_allclose(p.attn[0, 0, -1, multi], a[g[-1]][:, g[multi]].sum(1).mean(), atol=1e-5)


def test_mean_and_max_over_heads():
    rng = np.random.default_rng(1)
    a = rng.dirichlet(np.ones(5), size=(4, 5)).astype(np.float32)      # [head, q, k]
    mean, mx = A.combine_heads(a, "mean"), A.combine_heads(a, "max")
    np.testing.assert_allclose(mean.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(mx, a.max(0))
    assert (mx >= mean).all()


# ------------------------------------------------------------------ head statistics on hand-built patterns

def previous_token_pattern(t):
    a = np.zeros((t, t))
    a[0, 0] = 1.0                      # the first token has no previous token: it looks at itself
    a[np.arange(1, t), np.arange(t - 1)] = 1.0
    return a


def test_pure_previous_token_pattern_scores_one():
    a = previous_token_pattern(7)
    assert A.previous_token_score(a) == pytest.approx(1.0)
    assert A.self_score(a) == pytest.approx(1 / 7)
    assert A.entropy(a) == pytest.approx(0.0)


def test_uniform_attention_has_maximal_entropy():
    t = 8
    uniform = np.full((t, t), 1 / t)
    assert A.entropy(uniform) == pytest.approx(math.log2(t))          # 3 bits over 8 keys
    rng = np.random.default_rng(2)
    other = rng.dirichlet(np.ones(t), size=t)
    assert A.entropy(other) < math.log2(t)
    assert A.previous_token_score(uniform) == pytest.approx(1 / t)


def test_self_and_sink_scores():
    t = 5
    assert A.self_score(np.eye(t)) == pytest.approx(1.0)
    sink = np.zeros((t, t))
    sink[:, 0] = 1.0
    assert A.sink_score(sink, 0) == pytest.approx(1.0)
    assert A.sink_score(sink, [t - 1]) == pytest.approx(0.0)
    half = np.zeros((t, t))
    half[:, 0] = half[:, -1] = 0.5
    assert A.sink_score(half, [0, t - 1]) == pytest.approx(1.0)


def test_head_summary_has_every_statistic_per_layer_and_head(result):
    s = A.head_summary(result)
    assert set(s) == set(A.STATS)
    for v in s.values():
        assert v.shape == (result.n_layers, result.n_heads) and np.isfinite(v).all()
    assert (s["entropy"] <= math.log2(result.n_tokens) + 1e-6).all()
    if not result.causal:
        assert (s["sep"] > 0).all()      # BERT: the [SEP] column is a real key


# ------------------------------------------------------------------ rollout

def test_rollout_matches_a_hand_computation_on_three_tokens():
    a1 = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    a2 = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    r = A.rollout(np.stack([a1, a2]))
    # layer 0: 0.5*A1 + 0.5*I (rows already sum to 1)
    np.testing.assert_allclose(r[0], [[1, 0, 0], [0.25, 0.75, 0], [0.1, 0.15, 0.75]])
    # layer 1: (0.5*A2 + 0.5*I) @ R0, worked out by hand
    np.testing.assert_allclose(r[1], [[1, 0, 0], [0.625, 0.375, 0], [0.275, 0.225, 0.5]])
    np.testing.assert_allclose(r.sum(-1), 1.0)


def test_rollout_renormalises_rows_that_do_not_sum_to_one():
    a = np.array([[[0.5, 0.5], [0.0, 2.0]]])          # a max-over-heads layer: row 1 sums to 2
    np.testing.assert_allclose(A.rollout(a)[0], [[0.75, 0.25], [0.0, 1.0]])


# ------------------------------------------------------------------ queries and keys for the neuron view

@pytest.mark.parametrize("name", ["tiny-bert", "tiny-gpt2"])
def test_captured_queries_and_keys_reproduce_the_attention(name):
    lm = bundled_model(name)
    r = A.run_attention(lm, "the cat sat on the mat", 128)
    q, k = A.capture_queries_keys(lm, r.ids)
    assert q.shape == k.shape == (r.n_layers, r.n_heads, r.n_tokens, q.shape[-1])
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if r.causal:
        scores = np.where(np.triu(np.ones(scores.shape[-2:], dtype=bool), 1), -np.inf, scores)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, r.attn.astype(np.float32), atol=2e-3)
