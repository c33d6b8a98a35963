"""The run object (explorer/forward.py): encode, one forward pass, named capture points that equal what the
model itself computes."""
import fnmatch

import pytest
import torch

from explorer import forward as F
from tests.conftest import bundled_model

TEXT = "the river flooded the town after the heavy rain"


def _documented(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p.replace("{i}", "*")) for p in F.POINTS)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-bert", "tiny-llama", "tiny-mixtral"])
def test_patterns_hidden_states_and_logits_equal_the_models_own_outputs(name):
    lm = bundled_model(name)
    enc = F.encode(lm, TEXT, 32)
    run = F.forward(lm, enc, hooks=("blocks.*.attn.hook_pattern", "blocks.*.hook_resid_pre",
                                    "ln_final.hook_normalized", "logits"))
    with torch.no_grad():
        ids = torch.tensor([enc.ids])
        out = lm.model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True,
                       output_hidden_states=True)
    L = lm.model.config.num_hidden_layers
    assert torch.equal(run.stack("blocks.*.attn.hook_pattern"), torch.stack(out.attentions)[:, 0])
    assert torch.equal(run.stack("blocks.*.hook_resid_pre"), torch.stack(out.hidden_states[:L])[:, 0])
    assert torch.equal(run["ln_final.hook_normalized"], out.hidden_states[-1][0])
    if hasattr(out, "logits"):
        assert torch.equal(run["logits"], out.logits[0].float())
    assert all(_documented(n) for n in run.captures), sorted(run.captures)


def test_queries_and_keys_are_the_projections_of_the_normed_residual_stream():
    lm = bundled_model("tiny-llama")
    run = F.forward(lm, F.encode(lm, TEXT), hooks=("blocks.1.attn.hook_q", "blocks.1.attn.hook_k",
                                                   "blocks.1.hook_resid_pre"))
    block = lm.model.model.layers[1]
    with torch.no_grad():
        x = block.input_layernorm(run["blocks.1.hook_resid_pre"])
        q, k = block.self_attn.q_proj(x), block.self_attn.k_proj(x)
    T, cfg = len(run.ids), lm.model.config
    assert run["blocks.1.attn.hook_q"].shape == (T, cfg.num_attention_heads, cfg.head_dim)
    assert run["blocks.1.attn.hook_k"].shape == (T, cfg.num_key_value_heads, cfg.head_dim)
    assert torch.allclose(run["blocks.1.attn.hook_q"].reshape(T, -1), q, atol=1e-5)
    assert torch.allclose(run["blocks.1.attn.hook_k"].reshape(T, -1), k, atol=1e-5)
    assert set(run.captures) == {"blocks.1.attn.hook_q", "blocks.1.attn.hook_k", "blocks.1.hook_resid_pre"}


def test_gpt2_fused_projection_is_split_into_queries_and_keys():
    lm = bundled_model("tiny-gpt2")
    run = F.forward(lm, F.encode(lm, TEXT), hooks=("blocks.0.attn.hook_q", "blocks.0.attn.hook_k",
                                                   "blocks.0.hook_resid_pre"))
    block = lm.model.transformer.h[0]
    with torch.no_grad():
        q, k, _ = block.attn.c_attn(block.ln_1(run["blocks.0.hook_resid_pre"])).split(lm.model.config.n_embd, -1)
    T = len(run.ids)
    assert torch.allclose(run["blocks.0.attn.hook_q"].reshape(T, -1), q, atol=1e-5)
    assert torch.allclose(run["blocks.0.attn.hook_k"].reshape(T, -1), k, atol=1e-5)


def test_hooks_are_removed_and_a_missing_capture_is_a_clear_error():
    lm = bundled_model("tiny-llama")
    proj = lm.model.model.layers[0].self_attn.q_proj
    before = len(proj._forward_hooks)
    run = F.forward(lm, F.encode(lm, TEXT), hooks=("blocks.*.attn.hook_q",))
    assert len(proj._forward_hooks) == before
    with pytest.raises(KeyError, match="was not captured"):
        run["blocks.0.attn.hook_pattern"]
    with pytest.raises(KeyError, match="nothing captured"):
        run.stack("blocks.*.mlp.hook_in")


def test_encode_keeps_to_the_models_limit_and_refuses_no_tokens():
    lm = bundled_model("tiny-bert")
    enc = F.encode(lm, "word " * 1000)
    assert len(enc.ids) == lm.max_length and enc.truncated and enc.notice
    assert len(F.encode(lm, "word " * 1000, 16).ids) == 16
    gpt2 = bundled_model("tiny-gpt2")
    with pytest.raises(ValueError, match="no tokens"):
        F.encode(gpt2, "")
