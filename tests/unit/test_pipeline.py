"""The pipeline engine: one captured forward pass reproduces the model, and the lessons' shape trace."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer import kvcache
from explorer import pipeline as P
from explorer.generation import final_norm
from explorer.models.loader import LoadedModel
from tests.conftest import bundled_model

MODELS = ["tiny-gpt2", "tiny-llama"]
PROMPT = "Where is my order?"


@pytest.fixture(scope="module", params=MODELS)
def traced(request):
    lm = bundled_model(request.param)
    return lm, P.trace(lm, PROMPT)


def plain(model, ids):
    """The model's own forward pass, nothing captured."""
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=True)


def test_residual_stream_reassembled_from_sublayers_is_the_models_final_hidden_state(traced):
    lm, t = traced
    ref = plain(lm.model, t.ids)
    hs = torch.stack(ref.hidden_states, 0)[:, 0]
    s = P.stream(t)                                        # embeddings + every attention and MLP output
    assert s.shape == (t.n_layers + 1, t.n_tokens, t.d_model)
    np.testing.assert_allclose(s[:-1], hs[:-1].numpy(), atol=1e-4)   # entering every block
    with torch.no_grad():
        final = final_norm(lm.model)(torch.from_numpy(s[-1])).numpy()
    np.testing.assert_allclose(final, hs[-1].numpy(), atol=1e-4)     # the model's final hidden state
    np.testing.assert_allclose(t.final_normed, hs[-1].numpy(), atol=1e-5)


def test_the_pages_logits_are_the_models(traced):
    lm, t = traced
    logits = plain(lm.model, t.ids).logits[0, -1]
    np.testing.assert_allclose(t.logits, logits.numpy(), atol=1e-4)
    assert t.picked == int(logits.argmax())
    assert abs(t.prob_sum - 1.0) < 1e-6


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("text", [PROMPT, "naïve café 🤖👩‍👩‍👧 日本語 مرحبا", "<script>alert(1)</script> **x** `y`",
                                  "  two  spaces\nand a newline"])
def test_token_ids_round_trip_to_the_text(name, text):
    lm = bundled_model(name)
    t = P.trace(lm, text)
    assert lm.tokenizer.decode(t.ids, skip_special_tokens=True) == text
    assert len(t.spans) == t.n_tokens and len(t.pieces) == t.n_tokens


def test_shapes_shown_are_the_tensors_shapes(traced):
    lm, t = traced
    ref = plain(lm.model, t.ids)
    T, d = t.n_tokens, t.d_model
    cache = ref.cache
    stacked = torch.stack([torch.stack([layer.keys, layer.values]) for layer in cache.layers])
    assert t.shapes["input ids"] == (1, T)
    assert t.shapes["token embeddings"] == tuple(lm.model.get_input_embeddings()(torch.tensor([t.ids])).shape)
    assert t.shapes["final normalized states"] == tuple(ref.hidden_states[-1].shape) == (1, T, d)
    assert t.shapes["last-position logits"] == tuple(ref.logits[:, -1].shape)
    assert t.shapes["next-token probabilities"] == tuple(torch.softmax(ref.logits[:, -1], -1).shape)
    assert t.shapes["cached K/V (layers, K and V, batch, KV heads, tokens, head_dim)"] == tuple(stacked.shape)
    assert t.kv_shape == tuple(stacked.shape)
    assert t.cache_bytes == stacked.numel() * stacked.element_size() == t.cache_formula_bytes
    assert ("position embeddings" in t.shapes) == (lm.model.config.model_type == "gpt2")
    # what the page shows of them: the path's boxes, the shape table beside the lessons' toy, the cache per layer
    nodes = P.path_nodes(t)
    assert [n[0] for n in nodes][:3] == ["tokens", "embed", "blocks"] and nodes[-1][2] == str(t.kv_shape)
    toy = P.lesson_trace()
    rows = {r["tensor"]: r for r in P.shape_rows(t, toy, "mine")}
    assert rows["input ids"] == {"tensor": "input ids", "mine": str((1, T)), "the lessons' toy decoder": "(1, 5)"}
    assert rows["next-token probabilities, summed"]["mine"] == f"{t.prob_sum:.6f}"
    layers = P.cache_rows(t)
    assert len(layers) == lm.model.config.num_hidden_layers
    assert layers[0]["K before"] == str(t.layer_shapes[0][0]) and layers[0]["K after"] == str(t.appended.layer_shapes[0][0])


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_the_lessons_shape_trace_on_a_toy_decoder_built_to_match(arch):
    if arch == "llama":
        model = P.lesson_toy()
    else:
        from transformers import GPT2Config, GPT2LMHeadModel
        torch.manual_seed(0)
        config = GPT2Config(n_embd=8, n_layer=4, n_head=2, vocab_size=6, n_positions=16)
        config._attn_implementation = "eager"
        model = GPT2LMHeadModel(config).eval()
    t = P.trace_ids(LoadedModel.in_memory(model), P.LESSON_IDS)
    assert t.shapes["final normalized states"] == (1, 5, 8)
    assert t.shapes["last-position logits"] == (1, 6)
    assert abs(t.prob_sum - 1.0) < 1e-6
    assert t.kv_shape == (4, 2, 1, 2, 5, 4)
    # and the same shapes straight from the toy model's own outputs
    ref = plain(model, P.LESSON_IDS)
    cache = ref.cache
    assert tuple(torch.stack([torch.stack([c.keys, c.values]) for c in cache.layers]).shape) == (4, 2, 1, 2, 5, 4)
    assert tuple(ref.hidden_states[-1].shape) == (1, 5, 8) and tuple(ref.logits[:, -1].shape) == (1, 6)
    assert t.appended.shapes["cached K/V after appending"] == (4, 2, 1, 2, 6, 4)


def test_lesson_trace_is_the_toy_run():
    t = P.lesson_trace()
    assert (t.n_layers, t.d_model, t.n_heads, t.n_kv_heads, t.head_dim, t.vocab_size) == (4, 8, 2, 2, 4, 6)


def test_embeddings_are_rows_of_the_models_tables():
    lm = bundled_model("tiny-gpt2")
    t = P.trace(lm, PROMPT)
    wte, wpe = lm.model.transformer.wte.weight, lm.model.transformer.wpe.weight
    np.testing.assert_array_equal(t.tok_embed, wte[t.ids].detach().numpy())
    np.testing.assert_array_equal(t.pos_embed, wpe[: t.n_tokens].detach().numpy())
    llama = P.trace(bundled_model("tiny-llama"), PROMPT)
    assert llama.pos_embed is None and not llama.learned_positions
    np.testing.assert_array_equal(llama.tok_embed,
                                  bundled_model("tiny-llama").model.model.embed_tokens.weight[llama.ids].detach().numpy())


def test_logit_lens_top_row_is_the_models_prediction_at_every_position(traced):
    lm, t = traced
    logits = plain(lm.model, t.ids).logits[0]
    for pos in (0, t.n_tokens // 2, t.n_tokens - 1):
        ids, probs = P.lens_at(lm.model, t, pos)
        assert ids.shape == probs.shape == (t.n_layers + 1, P.LENS_K)
        assert ids[-1].tolist() == torch.topk(logits[pos], P.LENS_K).indices.tolist()
        np.testing.assert_allclose(probs[-1], torch.topk(torch.softmax(logits[pos], -1), P.LENS_K).values.numpy(),
                                   atol=1e-5)
        assert np.all(np.diff(probs, axis=1) <= 0)
    # the stored last position is what a fresh lens computes
    fresh = P.lens_topk(lm.model, t.hidden[:, -1:], P.LENS_K)[0][:, 0]
    np.testing.assert_array_equal(t.lens_ids, fresh)


def test_appending_the_pick_reads_the_cache_and_equals_a_full_forward(traced):
    lm, t = traced
    a = t.appended
    assert a.token_id == t.picked and a.position == t.n_tokens
    full = plain(lm.model, t.ids + [t.picked]).logits[0, -1]
    assert a.next_ids.tolist() == torch.topk(full, P.LENS_K).indices.tolist()
    assert a.attention.shape == (t.n_layers, t.n_heads, t.n_tokens + 1)
    np.testing.assert_allclose(a.attention.sum(-1), 1.0, atol=1e-5)     # one query row over T + 1 keys
    assert a.shapes["new token's input ids"] == (1, 1)
    assert a.shapes["new query's attention (each layer)"] == (1, t.n_heads, 1, t.n_tokens + 1)
    assert a.shapes["cached K/V after appending"] == t.kv_shape[:4] + (t.n_tokens + 1, t.head_dim)
    shape = kvcache.shape_from_config(lm.model.config)
    assert a.cache_bytes == kvcache.cache_bytes(shape, t.n_tokens + 1, 1, 32)
    assert all(k == v == (1, t.n_kv_heads, t.n_tokens + 1, t.head_dim) for k, v in a.layer_shapes)


def test_block_changes_are_norms_and_cosines_of_the_captures(traced):
    _, t = traced
    pos = t.n_tokens - 1
    c = P.block_changes(t, pos)
    np.testing.assert_allclose(c.attn_norm, np.linalg.norm(t.attn_out[:, pos], axis=-1), rtol=1e-5)
    np.testing.assert_allclose(c.mlp_norm, np.linalg.norm(t.mlp_out[:, pos], axis=-1), rtol=1e-5)
    assert np.all(np.abs(c.attn_cos) <= 1 + 1e-9) and np.all(np.abs(c.mlp_cos) <= 1 + 1e-9)
    s = P.stream(t)[:, pos]
    expect = (t.attn_out[0, pos] @ s[0]) / (np.linalg.norm(t.attn_out[0, pos]) * np.linalg.norm(s[0]))
    assert c.attn_cos[0] == pytest.approx(expect, abs=1e-5)
    np.testing.assert_allclose(c.stream_norm, np.linalg.norm(s, axis=-1), rtol=1e-5)


def test_temperature_reshapes_but_never_reorders_and_sums_to_one(traced):
    _, t = traced
    one = P.next_token(t.logits, 1.0, 10)
    np.testing.assert_allclose(one.probs, torch.softmax(torch.from_numpy(t.logits), -1)[one.ids].numpy(), rtol=1e-5)
    cold, hot = P.next_token(t.logits, 0.5, 10), P.next_token(t.logits, 2.0, 10)
    assert one.ids.tolist() == cold.ids.tolist() == hot.ids.tolist() and one.ids[0] == t.picked
    assert cold.probs[0] > one.probs[0] > hot.probs[0]
    assert cold.entropy < one.entropy < hot.entropy
    for n in (one, cold, hot):
        assert abs(n.total - 1.0) < 1e-6
        np.testing.assert_allclose(n.cum, np.cumsum(n.probs), rtol=1e-5)


def test_splits_show_byte_tokens_of_an_emoji_and_multi_token_words():
    lm = bundled_model("tiny-gpt2")
    t = P.trace(lm, "Where is my order? 🤖")
    found = {(s.kind, s.text): s for s in P.splits(t.text, t.spans, t.pieces)}
    emoji = found[("character", "🤖")]
    assert emoji.n_bytes == 4 and len(emoji.tokens) == 4       # byte-level BPE: one token per UTF-8 byte here
    assert all(s.kind in ("word", "character") for s in found.values())
    multi = [s for s in found.values() if s.kind == "word"]
    assert multi and all(len(s.tokens) > 1 for s in multi)
    ids = [lm.tokenizer.convert_tokens_to_ids(p) for p in lm.tokenizer.convert_ids_to_tokens(t.ids)]
    assert ids == t.ids
    # the token strip marks exactly the emoji's byte tokens as parts of one character
    parts = P.byte_parts(t)
    assert sum(parts) == 4 and all(parts[-4:]) and not any(parts[:-4])


def test_capture_hooks_are_removed_and_named_in_forward_order():
    lm = bundled_model("tiny-llama")

    def hooks():   # transformers installs output-capturing hooks of its own on first use: compare, don't count
        return {(name, h) for name, m in lm.model.named_modules() for h in m._forward_hooks.values()}
    P.trace(lm, PROMPT)
    before = hooks()
    t = P.trace(lm, PROMPT)
    assert t.hooks == P.hook_names(t.n_layers, learned_positions=False)
    assert hooks() == before


def test_long_prompts_are_cut_and_leave_room_to_append():
    lm = bundled_model("tiny-gpt2")
    t = P.trace(lm, "word " * 400, max_tokens=64)
    assert t.n_tokens == 64 and t.truncated and t.total_tokens > 64 and t.appended is not None


def test_other_architectures_are_refused_with_a_sentence():
    lm = bundled_model("tiny-bert")
    with pytest.raises(ValueError, match="GPT-2 and Llama-style decoders"):
        P.trace(lm, PROMPT)


def test_vector_preview():
    assert P.vector_preview(np.arange(10) / 10) == "[0.000, 0.100, 0.200, 0.300, 0.400, 0.500, …, 0.900]"
    assert P.vector_preview(np.array([1.0, -2.0])) == "[1.000, -2.000]"
