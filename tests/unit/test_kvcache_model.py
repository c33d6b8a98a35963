"""Measured, not only computed: the real DynamicCache of the bundled models equals the formula, byte for byte."""
import numpy as np
import pytest
import torch

from explorer import kvcache as kv
from explorer.models.loader import LoadedModel
from tests.conftest import bundled_model


@pytest.mark.parametrize("name, kind, kv_heads", [("tiny-gpt2", "MHA", 4), ("tiny-llama", "GQA", 2)])
@pytest.mark.parametrize("batch", [1, 3])
def test_formula_equals_the_measured_cache_bytes(name, kind, kv_heads, batch):
    lm = bundled_model(name)
    m = kv.measure(lm, 40, batch)
    assert m.shape.kind == kind and m.shape.n_kv_heads == kv_heads
    assert list(m.lengths) == list(range(1, 41))
    assert m.element_size == 4 and m.dtype == "float32"     # the app runs models in float32
    assert np.array_equal(m.measured, m.formula)
    for t in (1, 7, 16, 40):   # several lengths, spelled out
        assert m.measured[t - 1] == 2 * 4 * kv_heads * 32 * t * batch * 4


def test_gqa_sharing_shows_in_the_cache_not_in_the_attention():
    m = kv.measure(bundled_model("tiny-llama"), 12, 2)
    assert m.key_shape == m.value_shape == (2, 2, 12, 32)       # [batch, kv_heads, tokens, head_dim]
    assert m.attention_shape == (2, 4, 1, 12)                    # repeat_kv: 4 query heads see 4 (copied) heads
    assert m.n_cache_layers == 4


def test_mha_cache_has_one_kv_head_per_query_head():
    m = kv.measure(bundled_model("tiny-gpt2"), 5)
    assert m.key_shape == (1, 4, 5, 32) and m.attention_shape == (1, 4, 1, 5)


def test_measurement_leaves_the_thread_count_alone():
    before = torch.get_num_threads()
    kv.measure(bundled_model("tiny-gpt2"), 2)
    assert torch.get_num_threads() == before


def _random(config_cls, model_cls, **kw):
    config = config_cls(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, **kw)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    return LoadedModel.in_memory(model_cls(config), name=config_cls.model_type)


def test_a_real_sliding_window_cache_stops_growing():
    from transformers import MistralConfig, MistralForCausalLM
    model = _random(MistralConfig, MistralForCausalLM, intermediate_size=64, num_key_value_heads=2,
                    sliding_window=8, max_position_embeddings=64)
    m = kv.measure(model, 20)
    assert m.shape.sliding_window == 8
    assert np.array_equal(m.measured, m.formula)
    # transformers keeps window - 1 tokens between steps (the new token makes the window full inside a step)
    per_token = 2 * 2 * 2 * 8 * 4
    assert list(m.measured) == [per_token * min(t, 7) for t in range(1, 21)]
    assert m.key_shape == (1, 2, 7, 8)


def test_falcon_multi_query_caches_one_kv_head():
    from transformers import FalconConfig, FalconForCausalLM
    model = _random(FalconConfig, FalconForCausalLM, multi_query=True, alibi=False)
    m = kv.measure(model, 6)
    assert m.shape.kind == "MQA" and m.key_shape == (1, 1, 6, 8) and m.attention_shape == (1, 4, 1, 6)
    assert np.array_equal(m.measured, m.formula)


def test_thread_settings_are_fixed_once_per_process(monkeypatch):
    from explorer import runtime
    monkeypatch.setenv("EXPLORER_TORCH_THREADS", "3")
    assert runtime.torch_threads() == 3
    monkeypatch.setenv("EXPLORER_TORCH_THREADS", "junk")
    assert 1 <= runtime.torch_threads() <= 4
    monkeypatch.setattr(runtime, "_configured", None)
    before = torch.get_num_threads()
    try:
        n = runtime.configure()
        assert torch.get_num_threads() == n
        torch.set_num_threads(max(1, n + 1))
        assert runtime.configure() == n and torch.get_num_threads() == n + 1   # a second call changes nothing
    finally:
        torch.set_num_threads(before)
