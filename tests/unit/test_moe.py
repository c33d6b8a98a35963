"""MoE math: the lesson's toy router, load balance, the aux loss, capacity, and total vs active parameters."""
import math

import numpy as np
import pytest
import torch

from explorer import moe
from explorer.presets import PRESETS, PUBLISHED_ACTIVE, PUBLISHED_PARAMS


# --------------------------------------------------------------------------- the lesson's toy router
def toy():
    return moe.route(moe.TOY_LOGITS, moe.TOY_K)


def test_refund_goes_to_returns_0_87_and_catalog_0_13():
    r = toy()
    assert [moe.TOY_EXPERTS[e] for e in r.chosen[0]] == ["returns", "catalog"]
    assert [f"{w:.2f}" for w in r.weights[0]] == ["0.87", "0.13"]


def test_delayed_goes_to_shipping_0_818_and_catalog_0_182():
    r = toy()
    assert [moe.TOY_EXPERTS[e] for e in r.chosen[1]] == ["shipping", "catalog"]
    assert [f"{w:.3f}" for w in r.weights[1]] == ["0.818", "0.182"]


def test_the_pages_three_significant_digits_show_the_lesson_numbers():
    # the page and the Sankey labels format weights with :.3g
    assert [f"{w:.3g}" for w in toy().weights.ravel()] == ["0.87", "0.13", "0.818", "0.182"]


def test_softmax_over_chosen_logits_equals_renormalised_softmax_over_all():
    r = toy()
    direct = moe.softmax(np.take_along_axis(r.logits, r.chosen, -1))
    np.testing.assert_allclose(r.weights, direct, atol=1e-12)
    assert r.probs[0, 0] == pytest.approx(0.7428, abs=1e-4)   # before renormalising: less than 0.87


def test_weights_without_renormalising_are_the_plain_probabilities_and_sum_below_one():
    r = moe.route(moe.TOY_LOGITS, 2, renormalize=False)
    np.testing.assert_allclose(r.weights, np.take_along_axis(r.probs, r.chosen, -1))
    assert np.all(r.weights.sum(-1) < 1)


def test_top_1_gives_the_whole_token_to_one_expert_and_top_4_to_all():
    r1 = moe.route(moe.TOY_LOGITS, 1)
    assert r1.weights.ravel().tolist() == [1.0, 1.0]
    r4 = moe.route(moe.TOY_LOGITS, 4)
    np.testing.assert_allclose(r4.weights.sum(-1), 1.0)
    np.testing.assert_allclose(np.sort(r4.weights, -1), np.sort(r4.probs, -1))


def test_ties_go_to_the_lower_expert_index():
    assert moe.top_k([[1.0, 2.0, 2.0, 0.0]], 2).tolist() == [[1, 2]]
    with pytest.raises(ValueError):
        moe.top_k([[1.0, 2.0]], 3)


def test_logits_round_trip_through_the_url_and_reject_nonsense():
    text = moe.format_logits(moe.TOY_LOGITS)
    assert text == "2.4,0.3,0.5,-0.2;0.1,2.2,0.7,0"
    np.testing.assert_array_equal(moe.parse_logits(text), np.array(moe.TOY_LOGITS))
    for bad in ["", "1,2,3", "1,2,3,4;5,6,7", "1,2,3,x;1,2,3,4", "nan,0,0,0;0,0,0,0", "1e9,0,0,0;0,0,0,0",
                "1,2,3,4;1,2,3,4;1,2,3,4"]:
        with pytest.raises(ValueError):
            moe.parse_logits(bad)


# --------------------------------------------------------------------------- load balance and aux loss
def random_logits(L=3, T=11, E=4, seed=0):
    return np.random.default_rng(seed).normal(size=(L, T, E)).astype(np.float32) * 2


@pytest.mark.parametrize("k", [1, 2, 3])
def test_counts_per_expert_sum_to_tokens_times_k(k):
    logits = random_logits()
    chosen = moe.top_k(moe.softmax(logits), k)
    counts = moe.expert_counts(chosen, 4)
    assert counts.shape == (3, 4)
    assert counts.sum(axis=1).tolist() == [11 * k] * 3


@pytest.mark.parametrize("k", [1, 2])
def test_aux_loss_equals_transformers_load_balancing_loss_func(k):
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func
    logits = random_logits()
    theirs = load_balancing_loss_func(tuple(torch.tensor(x) for x in logits), 4, k)
    assert moe.load_balancing_loss(logits, k) == pytest.approx(float(theirs), rel=1e-6)


def test_aux_loss_pools_layers_and_is_not_the_mean_of_per_layer_losses():
    logits = random_logits(L=4, T=20)
    per_layer = [moe.switch_aux_loss(moe.softmax(x), moe.top_k(moe.softmax(x), 2), 4) for x in logits]
    assert moe.load_balancing_loss(logits, 2) != pytest.approx(np.mean(per_layer), rel=1e-3)
    assert moe.load_balancing_loss(logits[:1], 2) == pytest.approx(per_layer[0])


def test_perfectly_even_routing_gives_aux_loss_k():
    # 8 tokens, 4 experts, top-2, uniform probabilities: f_i = 2/4, P_i = 1/4 -> 4 * 4 * (1/2)(1/4) = 2
    probs = np.full((8, 4), 0.25)
    chosen = np.array([[t % 4, (t + 1) % 4] for t in range(8)])
    assert moe.switch_aux_loss(probs, chosen, 4) == pytest.approx(2.0)


def test_collapsed_routing_gives_a_larger_aux_loss():
    logits = np.zeros((1, 10, 4))
    logits[..., 0] = 8.0
    logits[..., 1] = 4.0
    assert moe.load_balancing_loss(logits, 2) > 3.5


# --------------------------------------------------------------------------- capacity and dropped tokens
def test_capacity_is_ceil_of_factor_tokens_k_over_experts():
    assert moe.capacity(1.0, 10, 2, 4) == 5
    assert moe.capacity(1.25, 10, 2, 4) == 7        # 6.25 -> 7
    assert moe.capacity(0.5, 13, 2, 4) == 4         # 3.25 -> 4
    assert moe.capacity(1.0, 8, 2, 4) == 4          # exact: no rounding up past 4


def test_first_come_keeps_the_earliest_tokens_and_drops_the_rest():
    chosen = np.array([[0, 1], [0, 2], [0, 1], [3, 0]])          # expert 0 asked 4 times
    res = moe.apply_capacity(chosen, 4, 2, "position")
    assert res.requested.tolist() == [4, 2, 1, 1]
    assert res.accepted.tolist() == [2, 2, 1, 1]
    assert res.dropped == [(2, 0), (3, 1)]                        # token 2's first choice, token 3's second
    assert res.fully_dropped_tokens == []


def test_rank_order_serves_every_first_choice_before_any_second_choice():
    chosen = np.array([[1, 0], [0, 2], [0, 3]])
    by_position = moe.apply_capacity(chosen, 4, 2, "position")
    by_rank = moe.apply_capacity(chosen, 4, 2, "rank")
    assert by_position.dropped == [(2, 0)]     # tokens 0 and 1 filled expert 0 first
    assert by_rank.dropped == [(0, 1)]         # token 0's second choice loses to token 2's first


def test_a_token_with_no_slot_left_is_fully_dropped():
    chosen = np.array([[0, 1], [0, 1], [0, 1]])
    res = moe.apply_capacity(chosen, 4, 2, "position")
    assert res.fully_dropped_tokens == [2]
    assert res.kept.sum() == 4


def test_paths_count_every_token_once_per_layer_gap():
    chosen = moe.top_k(moe.softmax(random_logits(L=4, T=9)), 2)
    ps = moe.paths(chosen, 4)
    assert ps.top1.shape == (9, 4)
    assert ps.transitions.sum(axis=(1, 2)).tolist() == [9, 9, 9]


# --------------------------------------------------------------------------- dense vs sparse
def test_mixtral_8x7b_total_and_active_match_published_within_2_percent():
    size = moe.moe_size(PRESETS["Mixtral-8x7B"])
    assert size.total == pytest.approx(PUBLISHED_PARAMS["Mixtral-8x7B"], rel=0.02)     # about 47B
    assert size.active == pytest.approx(PUBLISHED_ACTIVE["Mixtral-8x7B"], rel=0.02)    # about 13B
    assert round(size.total / 1e9) == 47 and round(size.active / 1e9) == 13


def test_mixtral_8x22b_total_and_active_match_published_within_2_percent():
    total, active = moe.EXTRA_PUBLISHED["Mixtral-8x22B"]
    size = moe.moe_size(moe.EXTRA_PRESETS["Mixtral-8x22B"])
    assert size.total == pytest.approx(total, rel=0.02) and size.active == pytest.approx(active, rel=0.02)


def test_size_parts_add_up_and_the_expert_pool_dominates_memory():
    s = moe.moe_size(PRESETS["Mixtral-8x7B"])
    assert s.shared + s.experts_total == s.total and s.shared + s.experts_active == s.active
    assert s.experts_total == 32 * 8 * 3 * 4096 * 14336
    assert s.bytes(s.total, "bf16") == 2 * s.total
    assert s.bytes(s.total, "bf16") / 1e9 == pytest.approx(93.4, abs=0.1)


def test_mixtral_is_not_8_times_its_dense_twin():
    dense = moe.moe_size(moe.with_experts(PRESETS["Mixtral-8x7B"], 1, 1))
    assert dense.total == pytest.approx(PUBLISHED_PARAMS["Mistral-7B"], rel=0.02)   # same shape as Mistral 7B
    assert moe.moe_size(PRESETS["Mixtral-8x7B"]).total < 0.85 * 8 * dense.total


def test_a_dense_model_is_all_active():
    s = moe.moe_size(PRESETS["Llama-3-8B"])
    assert s.total == s.active and s.idle == 0


def test_with_experts_rejects_k_above_the_expert_count():
    with pytest.raises(ValueError):
        moe.with_experts(PRESETS["Mixtral-8x7B"], 4, 5)
    assert math.isclose(moe.moe_size(moe.with_experts(PRESETS["Mixtral-8x7B"], 8, 1)).active / 1e9, 7.25, abs_tol=0.1)


def test_table_edits_fold_into_the_logits_clipped_and_cleared_cells_kept():
    from explorer import moe
    base = np.array(moe.TOY_LOGITS)
    m = moe.apply_edits(base, {"0": {"catalog": 3.0}, 1: {"billing": 1e9, "returns": None, "nonsense": 5}})
    assert m[0, 2] == 3.0 and m[1, 3] == moe.MAX_ABS_LOGIT and m[1, 0] == base[1, 0]
    assert (np.delete(m.ravel(), [2, 7]) == np.delete(base.ravel(), [2, 7])).all()
    from explorer.text import digest
    assert digest("a") == digest("a") != digest("b")


def test_routing_and_dropped_rows_name_experts_and_weights():
    from explorer import moe
    r = moe.route(np.array(moe.TOY_LOGITS), 2)
    rows = moe.routing_rows(r, moe.TOY_TOKENS, moe.TOY_EXPERTS)
    assert [x["expert"] for x in rows] == ["returns", "catalog", "shipping", "catalog"]
    chosen = np.array([[0, 1], [0, 1], [0, 2]])
    res = moe.apply_capacity(chosen, 3, 1)
    dropped = moe.dropped_rows(res, chosen, np.full((3, 2), 0.5), ["a", "b", "c"], ["E0", "E1", "E2"])
    assert [d["position"] for d in dropped] == [1, 2]
    assert dropped[0]["left with"] == "the residual only" and "E0 (choice 1, weight 0.50)" in dropped[1]["dropped"]
