"""Our rotation, applied to the pre-rotary q and k captured from the bundled tiny Llama, reproduces the
model's own rotated q and k — captured independently by spying on transformers' apply_rotary_pos_emb."""
import threading
from unittest import mock

import numpy as np
import pytest
import torch

from explorer import rope as R
from explorer.models.loader import LoadedModel
from tests.conftest import bundled_model

TEXT = "The cat sat on the mat because it was tired, and then the cat slept on the mat all day long."


@pytest.fixture(scope="module")
def lm():
    return bundled_model("tiny-llama")


@pytest.fixture(scope="module")
def captured(lm):
    return R.capture(lm, TEXT, 64)


@pytest.fixture(scope="module")
def models_own(lm):
    """The model's own (q, k) before and after its rotary step, per layer, from transformers' function itself."""
    import transformers.models.llama.modeling_llama as modeling_llama
    original = modeling_llama.apply_rotary_pos_emb
    seen = []

    def spy(q, k, cos, sin, *args, **kwargs):
        q_rot, k_rot = original(q, k, cos, sin, *args, **kwargs)
        seen.append(tuple(t[0].detach().float().numpy().copy() for t in (q, k, q_rot, k_rot)))
        return q_rot, k_rot

    ids = torch.tensor([lm.tokenizer(TEXT)["input_ids"][:64]])
    with mock.patch.object(modeling_llama, "apply_rotary_pos_emb", spy), torch.no_grad():
        lm.model(input_ids=ids)
    return seen


def test_the_spy_saw_every_layer(lm, models_own):
    assert len(models_own) == lm.model.config.num_hidden_layers


def test_hooks_capture_exactly_the_models_pre_rotary_q_and_k(captured, models_own):
    for layer, (q, k, _, _) in enumerate(models_own):
        assert captured.q_pre[layer].shape == q.shape                  # [head, position, head_dim]
        assert np.array_equal(captured.q_pre[layer], q)
        assert np.array_equal(captured.k_pre[layer], k)


def test_our_rotation_reproduces_the_models_rotated_q_and_k_to_1e_5(captured, models_own):
    s = captured.settings
    ang = R.model_angles(s, captured.positions)
    for layer, (q, k, q_rot, k_rot) in enumerate(models_own):
        ours_q = R.rotate(q, captured.positions, s.inv_freq, "half", s.attention_scaling, ang)
        ours_k = R.rotate(k, captured.positions, s.inv_freq, "half", s.attention_scaling, ang)
        assert np.abs(ours_q - q_rot).max() < 1e-5
        assert np.abs(ours_k - k_rot).max() < 1e-5


def test_reproduce_agrees_with_the_kv_cache_and_the_attention_probabilities(captured, models_own):
    check = R.reproduce(captured)
    assert check.k_error < 1e-5 and check.attn_error < 1e-5
    for layer, (_, _, q_rot, k_rot) in enumerate(models_own):
        assert np.abs(check.q_rot[layer] - q_rot).max() < 1e-5
        assert np.abs(captured.k_model[layer] - k_rot).max() < 1e-6   # the cache holds the rotated keys


def test_the_papers_interleaved_pairing_does_not_match_hugging_face_llama(captured):
    check = R.reproduce(captured)
    assert check.k_error_other_pairing > 1e-2 > check.k_error
    assert R.reproduce(captured, pairing="interleaved").k_error > 1e-2


def test_settings_come_from_the_config_and_match_the_models_rotary_buffer(lm, captured):
    s = captured.settings
    cfg = lm.model.config
    assert s.head_dim == cfg.head_dim == 32 and s.rope_theta == 10000.0 and s.source == "explorer.rope"
    assert np.allclose(s.inv_freq, lm.model.model.rotary_emb.inv_freq.double().numpy(), rtol=1e-6)


def test_gqa_query_heads_share_key_heads(captured):
    assert (captured.n_heads, captured.n_kv_heads) == (4, 2)
    assert [captured.kv_head_of(h) for h in range(4)] == [0, 0, 1, 1]


def test_capture_leaves_no_hooks_behind_and_ignores_other_threads(lm):
    attn = lm.model.model.layers[0].self_attn
    before = len(attn.q_proj._forward_hooks)
    R.capture(lm, "a short text", 16)
    assert len(attn.q_proj._forward_hooks) == before
    # a forward pass in another thread while hooks are installed must not leak into this capture
    results = {}

    def other():
        with torch.no_grad():
            lm.model(input_ids=torch.tensor([lm.tokenizer("something else entirely here")["input_ids"]]))
    t = threading.Thread(target=other)
    t.start()
    results["cap"] = R.capture(lm, "a short text", 16)
    t.join()
    assert results["cap"].q_pre.shape[2] == len(lm.tokenizer("a short text")["input_ids"])
    assert R.reproduce(results["cap"]).k_error < 1e-5


def test_long_positions_still_match_because_we_round_angles_like_the_model(lm):
    cap = R.capture(lm, " ".join(["word"] * 600), 10_000)      # every position the model has
    check = R.reproduce(cap)
    assert cap.q_pre.shape[2] == lm.max_length >= 256 and check.k_error < 1e-5


@pytest.mark.parametrize("model_type, extra", [
    ("mistral", {"sliding_window": None}),
    ("qwen3", {}),                                   # normalises q and k per head (q_norm) before rotating
    ("llama", {"rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                   "original_max_position_embeddings": 128}, "max_position_embeddings": 512}),
    ("llama", {"rope_parameters": {"rope_type": "linear", "rope_theta": 500000.0, "factor": 2.0}}),
])
def test_capture_and_reproduce_work_across_the_llama_family(lm, model_type, extra):
    from transformers import AutoConfig, AutoModelForCausalLM
    torch.manual_seed(0)
    kwargs = dict(vocab_size=lm.tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=16, intermediate_size=128)
    kwargs.setdefault("max_position_embeddings", 512)
    kwargs.update(extra)
    cfg = AutoConfig.for_model(model_type, **kwargs)
    cfg._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(cfg).eval()
    fake = LoadedModel.in_memory(model, lm.tokenizer, f"random {model_type}")
    cap = R.capture(fake, TEXT, 64)
    check = R.reproduce(cap)
    assert cap.settings.rope_type == cfg.rope_parameters["rope_type"]
    assert check.k_error < 1e-5 and check.attn_error < 1e-5, (check.k_error, check.attn_error)


def test_rotating_one_head_on_demand_equals_the_full_reproduction(captured):
    check = R.reproduce(captured)
    assert np.array_equal(R.rotated(captured, captured.q_pre[2, 3]), check.q_rot[2, 3])
    assert np.array_equal(R.rotated(captured, captured.k_pre[1, 1]), check.k_rot[1, 1])


def test_what_the_page_shows_of_a_capture(lm, captured):
    pv = R.pair_view(captured, 0, 3, "q", [0, 5])
    labels = [f"t{i}" for i in range(len(captured.tokens))]
    table = pv.table(labels)
    half = len(captured.settings.inv_freq)
    assert list(table) == ["tokens", f"pair0_dims(0, {half})_before", f"pair5_dims(5, {5 + half})_before",
                           "pair0_after", "pair5_after"]
    np.testing.assert_array_equal(table["pair5_after"], pv.post[5])
    assert pv.dims_note("half") == f"Pairs: 0 = dims (0, {half}), 5 = dims (5, {5 + half})  — convention `half`: " \
                                   f"pair i = (i, i + {half})."
    facts = R.model_facts(captured, 3, "tiny *Llama*")
    assert facts.startswith(r"**tiny \*Llama\***: ") and f"reads key head {captured.kv_head_of(3)}" in facts
    check = R.reproduce(captured)
    assert [(label, value) for label, value, _ in check.numbers()] == [
        ("Our k vs the model's k", f"{check.k_error:.1e}"), ("Our attention vs the model's", f"{check.attn_error:.1e}"),
        ("k error, interleaved pairs", f"{check.k_error_other_pairing:.2f}")]
