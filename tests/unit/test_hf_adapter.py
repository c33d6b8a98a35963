"""explorer/hf.py is the one place that knows transformers' object layout. These tests pin every fact it
relies on against the installed transformers and the bundled models: a library upgrade that moves one of
them fails here, by name, instead of drawing a blank or wrong figure."""
import numpy as np
import pytest
import torch

from explorer import hf
from tests.conftest import bundled_model

ALL = ["tiny-gpt2", "tiny-bert", "tiny-llama", "tiny-mixtral"]


@pytest.mark.parametrize("name", ALL)
def test_blocks_are_the_models_layers_in_order(name):
    lm = bundled_model(name)
    b = hf.blocks(lm.model)
    assert len(b) == lm.model.config.num_hidden_layers
    named = [m for _, m in lm.model.named_modules()]
    assert [named.index(x) for x in b] == sorted(named.index(x) for x in b)


@pytest.mark.parametrize("name", ALL)
def test_query_key_sites_emit_the_projections_the_attention_uses(name):
    lm = bundled_model(name)
    cfg = lm.model.config
    sites = hf.qk_sites(lm.model)
    assert len(sites) == cfg.num_hidden_layers
    d = cfg.hidden_size
    out = sites[0].q(torch.zeros(1, 3, d))
    if sites[0].fused:                        # GPT-2's c_attn: q, k and v side by side
        assert name == "tiny-gpt2" and out.shape == (1, 3, 3 * d)
    else:
        head_dim = getattr(cfg, "head_dim", None) or d // cfg.num_attention_heads
        assert out.shape[-1] == cfg.num_attention_heads * head_dim
        kv = getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
        assert sites[0].k(torch.zeros(1, 3, d)).shape[-1] == kv * head_dim


def test_the_mixtral_router_returns_logits_weights_and_experts():
    lm = bundled_model("tiny-mixtral")
    blocks = hf.moe_blocks(lm.model)
    cfg = lm.model.config
    assert len(blocks) == cfg.num_hidden_layers
    out = blocks[0].gate(torch.randn(5, cfg.hidden_size))
    choice = hf.router_choice(out)
    assert choice is not None, "the router no longer returns (logits, weights, experts)"
    weights, experts = choice
    assert weights.shape == experts.shape == (5, cfg.num_experts_per_tok)
    assert experts.dtype in (torch.int64, torch.int32) and int(experts.max()) < cfg.num_local_experts
    assert torch.allclose(weights.sum(-1), torch.ones(5), atol=1e-5)      # Mixtral renormalises the top-k


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_cache_layers_hold_keys_and_values_batch_kv_heads_tokens_head_dim(name):
    lm = bundled_model(name)
    cfg = lm.model.config
    cache = hf.new_cache(cfg)
    with torch.no_grad():
        out = lm.model(input_ids=torch.tensor([[1, 2, 3, 4]]), use_cache=True, **hf.cache_argument(cache))
    assert hf.output_cache(out) is cache          # the model extends the cache it was given
    layers = hf.cache_layers(cache)
    kv = getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    assert len(layers) == cfg.num_hidden_layers
    assert all(k.shape == v.shape == (1, kv, 4, head_dim) for k, v in layers)
    assert hf.cache_length(cache) == 4
    hf.crop_cache(cache, 2)
    assert hf.cache_length(cache) == 2 and hf.cache_layers(cache)[0][0].shape[2] == 2


@pytest.mark.parametrize("name, scheme", [("tiny-bert", "wordpiece"), ("tiny-gpt2", "bpe"), ("tiny-llama", "bpe")])
def test_subword_scheme_of_each_tokenizer(name, scheme):
    tok = bundled_model(name).tokenizer
    assert hf.subword_scheme(tok) == scheme
    pieces = tok.tokenize("unbelievably antidisestablishmentarian")
    assert any(p.startswith("##") for p in pieces) == (scheme == "wordpiece")


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_final_norm_is_what_the_model_applies_to_its_last_hidden_state(name):
    lm = bundled_model(name)
    with torch.no_grad():
        out = lm.model(input_ids=torch.tensor([[1, 2, 3]]), output_hidden_states=True)
        # transformers returns the last hidden state already normalised: the unembedding of it is the logits
        assert torch.allclose(lm.model.get_output_embeddings()(out.hidden_states[-1]), out.logits, atol=1e-4)
        norm = hf.final_norm(lm.model)
        assert isinstance(norm, torch.nn.Module) and not any(norm is b for b in hf.blocks(lm.model))


def test_rotary_module_and_learned_positions():
    llama, gpt2 = bundled_model("tiny-llama"), bundled_model("tiny-gpt2")
    rot = hf.rotary_module(llama.model)
    cfg = llama.model.config
    assert rot is not None and rot.inv_freq.shape == ((getattr(cfg, "head_dim", None) or
                                                        cfg.hidden_size // cfg.num_attention_heads) // 2,)
    assert hf.rotary_module(gpt2.model) is None
    wpe = hf.learned_positions(gpt2.model)
    assert tuple(wpe.shape) == (gpt2.model.config.n_positions, gpt2.model.config.n_embd)
    with pytest.raises(ValueError):
        hf.learned_positions(llama.model)
    assert hf.softmax_scale(llama.model, 32) == pytest.approx(float(np.float32(hf.self_attention(llama.model).scaling)))


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_embeddings_are_the_token_table_and_gpt2s_position_table(name):
    lm = bundled_model(name)
    tok, pos = hf.embeddings(lm.model)
    assert tok is lm.model.get_input_embeddings()
    if name == "tiny-gpt2":
        assert pos is not None and pos.weight is hf.learned_positions(lm.model)
    else:
        assert pos is None


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_sublayers_are_each_blocks_attention_and_mlp(name):
    lm = bundled_model(name)
    subs = hf.sublayers(lm.model)
    assert len(subs) == len(hf.blocks(lm.model))
    d = lm.model.config.hidden_size
    attn, mlp = subs[0]
    assert mlp(torch.zeros(1, 3, d)).shape == (1, 3, d)          # the MLP returns what it adds to the stream
    block = hf.blocks(lm.model)[0]
    assert any(m is attn for m in block.children()) and any(m is mlp for m in block.children())


def test_sublayers_refuse_an_encoder_in_one_sentence():
    with pytest.raises(ValueError, match="GPT-2 and Llama-style decoders"):
        hf.sublayers(bundled_model("tiny-bert").model)
