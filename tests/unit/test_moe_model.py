"""Routing captured from the bundled tiny Mixtral equals a recomputation from its gate weights."""
import numpy as np
import pytest
import torch

from explorer import moe
from tests.conftest import bundled_model

TEXT = "a river is a large natural stream of water flowing in a channel to the sea"


@pytest.fixture(scope="module")
def cap():
    return moe.capture(bundled_model("tiny-mixtral"), TEXT, 64, keep_hidden=True)


def test_router_logits_equal_gate_weight_times_the_hidden_states_entering_each_moe_block(cap):
    assert cap.hidden_in.shape == (4, cap.n_tokens, 128)
    for layer in range(cap.n_layers):
        ours = cap.hidden_in[layer].astype(np.float64) @ cap.gate_weight[layer].T.astype(np.float64)
        np.testing.assert_allclose(ours, cap.logits[layer], atol=1e-5)


def test_recomputed_top2_and_weights_equal_what_the_model_routed(cap):
    for layer in range(cap.n_layers):
        h = cap.hidden_in[layer].astype(np.float64)
        r = moe.route(h @ cap.gate_weight[layer].T.astype(np.float64), cap.top_k, renormalize=True)
        np.testing.assert_array_equal(r.chosen, cap.model_chosen[layer])
        np.testing.assert_allclose(r.weights, cap.model_weights[layer], atol=1e-5)
        np.testing.assert_allclose(r.weights.sum(-1), 1.0, atol=1e-12)
    same, err = cap.agreement()
    assert same == 1.0 and err < 1e-5


def test_the_hook_input_is_the_post_attention_layernorm_output(cap):
    lm = bundled_model("tiny-mixtral")
    seen = {}
    layer0 = lm.model.model.layers[0]
    h = layer0.post_attention_layernorm.register_forward_hook(lambda m, a, o: seen.setdefault("out", o.detach()))
    try:
        with torch.no_grad():
            lm.model(input_ids=torch.tensor([cap.ids]))
    finally:
        h.remove()
    np.testing.assert_allclose(seen["out"][0].numpy(), cap.hidden_in[0], atol=1e-6)


def test_counts_per_expert_sum_to_tokens_times_top_k(cap):
    counts = cap.counts()
    assert counts.shape == (4, 4)
    assert counts.sum(axis=1).tolist() == [cap.n_tokens * 2] * 4


def test_aux_loss_equals_the_models_own_aux_loss_and_transformers_function(cap):
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func
    theirs = float(load_balancing_loss_func(tuple(torch.tensor(x) for x in cap.logits), 4, 2))
    assert cap.aux_loss() == pytest.approx(theirs, rel=1e-5)
    assert cap.aux_loss() == pytest.approx(cap.model_aux_loss, rel=1e-5)
    assert cap.aux_coef == 0.02


def test_tiny_mixtral_size_from_its_config_matches_its_parameter_count():
    lm = bundled_model("tiny-mixtral")
    c = lm.model.config
    arch = moe.ArchConfig("tiny-mixtral", "", c.num_hidden_layers, c.hidden_size, c.num_attention_heads,
                          c.num_key_value_heads, c.hidden_size // c.num_attention_heads, c.intermediate_size,
                          c.vocab_size, c.max_position_embeddings, n_experts=c.num_local_experts,
                          experts_per_token=c.num_experts_per_tok, tied_embeddings=True)
    assert moe.moe_size(arch).total == lm.n_params
