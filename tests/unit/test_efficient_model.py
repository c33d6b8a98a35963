"""A sliding window imposed on the bundled models: the same as no window when it is long enough, exactly zero
weight outside it, the same as transformers' own sliding-window mechanism, and a KV cache capped at it."""
import numpy as np
import pytest
import torch

from explorer import efficient as E
from explorer import hf
from explorer import kvcache as kv
from tests.conftest import bundled_model

TEXT = "My order has not arrived. I asked for a refund last week, but the shipping status still says pending."


def ids_of(lm, text=TEXT):
    return lm.tokenizer(text)["input_ids"]


def test_explicit_causal_mask_is_the_models_own():
    lm = bundled_model("tiny-llama")
    ids = ids_of(lm)
    mask, how = E.model_mask(lm.model, len(ids), None)
    assert how == "mask" and torch.equal(mask[0, 0] == 0, torch.from_numpy(E.window_mask(len(ids), None)))
    with torch.no_grad():
        own = lm.model(input_ids=torch.tensor([ids]), output_attentions=True)
        mine = lm.model(input_ids=torch.tensor([ids]), attention_mask=mask, output_attentions=True)
    assert torch.equal(mine.logits, own.logits)
    assert all(torch.equal(a, b) for a, b in zip(mine.attentions, own.attentions))
    plain = E.window_forward(lm, ids, None).output           # no window: the model's own mask, untouched
    assert torch.equal(plain.logits, own.logits)


def test_a_window_at_least_the_length_changes_nothing():
    lm = bundled_model("tiny-llama")
    n = len(ids_of(lm))
    for window in (n, n + 1, 500):
        r = E.run_window(lm, TEXT, window)
        assert r.n_tokens == n
        assert np.array_equal(r.attn_full, r.attn_window)
        assert np.array_equal(r.probs_full, r.probs_window) and np.array_equal(r.top_ids_full, r.top_ids_window)
        assert (r.logit_diff == 0).all() and not r.argmax_changed.any()


@pytest.mark.parametrize("window", [1, 3, 8])
def test_tokens_outside_a_small_window_get_exactly_zero_weight(window):
    r = E.run_window(bundled_model("tiny-llama"), TEXT, window)
    outside = ~E.window_mask(r.n_tokens, window)
    assert (r.attn_window[..., outside] == 0).all() and r.outside_max == 0.0
    assert np.allclose(r.attn_window.astype(np.float32).sum(-1), 1, atol=2e-3)
    assert (r.attn_full[..., np.tril(outside)] > 0).any()          # without the window those keys had weight
    assert r.logit_diff[window:].max() > 0 and (r.logit_diff[:window] < 1e-4).all()
    assert r.mechanism == "mask"


def test_explicit_mask_on_llama_equals_transformers_sliding_window_in_mistral():
    """The same weights in transformers' MistralForCausalLM, with config.sliding_window: the library's own mechanism."""
    from transformers import MistralConfig, MistralForCausalLM
    lm = bundled_model("tiny-llama")
    ids = ids_of(lm)
    d = {k: v for k, v in lm.model.config.to_dict().items() if k not in ("architectures", "model_type")}
    for window in (2, 5):
        cfg = MistralConfig(**d, sliding_window=window)
        cfg._attn_implementation = "eager"
        twin = MistralForCausalLM(cfg).eval()
        assert not twin.load_state_dict(lm.model.state_dict(), strict=True).missing_keys
        with torch.no_grad():
            ref = twin(input_ids=torch.tensor([ids]), output_attentions=True)
        mine = E.window_forward(lm, ids, window).output
        assert torch.allclose(mine.logits, ref.logits, atol=1e-5)
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mine.attentions, ref.attentions))


def test_mixtral_takes_the_window_through_its_config():
    lm = bundled_model("tiny-mixtral")
    assert hf.has_sliding_window(lm.model.config) and not hf.has_sliding_window(bundled_model('tiny-llama').model.config)
    mask, how = E.model_mask(lm.model, 9, 3)
    assert how == "config" and mask.shape == (1, 1, 9, 9)
    assert torch.equal(mask[0, 0] == 0, torch.from_numpy(E.window_mask(9, 3)))
    assert lm.model.config.sliding_window != 3                # the shared model's config is untouched
    r = E.run_window(lm, TEXT, 4)
    assert r.mechanism == "config" and r.outside_max == 0.0


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-mixtral"])
def test_a_sliding_window_cache_holds_the_window_and_predicts_the_same(name):
    lm = bundled_model(name)
    window = 6
    r = E.run_window(lm, TEXT, window)
    m = r.cache
    assert m.shape.sliding_window == window
    assert list(m.lengths) == list(range(1, r.n_tokens + 1))
    assert np.array_equal(m.measured, m.formula)              # kvcache's formula, window - 1 tokens at rest
    assert m.key_shape[2] == window - 1
    per_token = 2 * m.shape.n_layers * m.shape.n_kv_heads * m.shape.head_dim * 4
    assert m.measured[-1] == per_token * (window - 1) == kv.cache_bytes(kv.KVShape(
        m.shape.n_layers, m.shape.n_heads, m.shape.n_kv_heads, m.shape.head_dim, window - 1), r.n_tokens, 1, 32)
    assert r.decode_diff < 1e-4                               # one token at a time through the capped cache


def test_long_text_is_cut_and_an_encoder_is_refused():
    lm = bundled_model("tiny-llama")
    r = E.run_window(lm, "refund " * 400, 4, max_tokens=32)
    assert r.truncated and r.n_tokens == 32 and r.total_tokens > 32
    with pytest.raises(ValueError):
        E.run_window(bundled_model("tiny-bert"), TEXT, 4)
    with pytest.raises(ValueError):
        E.run_window(lm, TEXT, 0)


def test_what_the_page_shows_of_a_run_comes_from_the_run():
    lm = bundled_model("tiny-llama")
    r = E.run_window(lm, TEXT, 5)
    m = r.cache
    full = E.full_cache_bytes(lm.model.config, m.lengths, m.element_size)
    assert full[-1] == E.full_cache_bytes(lm.model.config, r.n_tokens, m.element_size) > m.measured[-1]
    assert (full[:4] == m.measured[:4]).all()               # up to the window the capped cache is the full one
    table = r.next_token_table(3)
    assert table["full_token"] == r.top_tokens_full[3] and np.array_equal(table["window_p"], r.probs_window[3])
    assert "window − 1 = 4 keys" in r.how_it_ran() and f"{r.decode_diff:.1e}" in r.how_it_ran()
    assert "explicit mask" in E.MECHANISMS[r.mechanism]
