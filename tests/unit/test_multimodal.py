"""The multimodal engine against what the loaded model computes: the shape trace, the patch -> region map,
the overlay, the caption, the encoder views, uploads, what is trained; and the real-model path (SigLIP tower,
Qwen2 decoder, no class token) through a random-init tiny config of the same class."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import multimodal as M
from explorer.attention import combine_heads, rollout
from explorer.zoo import llava, scenes
from tests.conftest import bundled_model


@pytest.fixture(scope="module")
def lm():
    return bundled_model("tiny-llava")


@pytest.fixture(scope="module")
def image():
    return M.scene_image(M.BUNDLED["two"])


@pytest.fixture(scope="module")
def run(lm, image):
    return M.caption(lm, image)


def test_shape_trace_equals_the_tensors(lm, image, run):
    model = lm.model
    enc = M.inputs(lm, image)
    pv = enc["pixel_values"]
    with torch.no_grad():
        vis = model.model.vision_tower(pv, output_hidden_states=True)
        feats = model.model.get_image_features(pixel_values=pv).pooler_output[0]
        embeds = model.model.get_input_embeddings()(torch.tensor([run.ids]))
        logits = model(input_ids=torch.tensor([run.ids]), pixel_values=pv).logits
    shapes = {s.name: s.shape for s in run.trace}
    vc = model.config.vision_config
    n = (vc.image_size // vc.patch_size) ** 2
    assert shapes["image"] == tuple(pv.shape[1:]) == (3, vc.image_size, vc.image_size)
    assert shapes["patches"] == (n, 3 * vc.patch_size ** 2)
    assert shapes["vision encoder"] == tuple(vis.hidden_states[-1][0, 1:].shape) == (n, vc.hidden_size)
    assert shapes["projector"] == tuple(feats.shape) == (n, model.config.text_config.hidden_size)
    assert shapes["decoder input"] == tuple(embeds[0].shape)
    assert shapes["decoder output"] == tuple(logits[0].shape)
    assert len(run.image_positions) == n == int((torch.tensor(run.ids) == model.config.image_token_index).sum())


def test_patches_are_what_the_patch_embedding_reads(lm, image):
    """The [N, 3·p·p] rows, times the convolution's weights, are the convolution's output at each patch."""
    pv = M.inputs(lm, image)["pixel_values"]
    conv = M.vision_embeddings(lm.model).patch_embedding
    with torch.no_grad():
        want = conv(pv)[0].flatten(1).T                                  # [N, d]
        got = M.patches(pv[0], conv.kernel_size[0]) @ conv.weight.flatten(1).T + (0 if conv.bias is None else conv.bias)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k", [0, 9, 27, 54, 63])
def test_a_marker_inside_patch_k_changes_patch_k_only(lm, image, k):
    geo = M.geometry(lm.model)
    marked = np.asarray(image).copy()
    x0, y0, x1, y1 = geo.box(k)
    marked[y0 + 2: y1 - 2, x0 + 2: x1 - 2] = (0, 0, 0)
    a = M.inputs(lm, image)["pixel_values"]
    b = M.inputs(lm, Image.fromarray(marked))["pixel_values"]
    conv = M.vision_embeddings(lm.model).patch_embedding
    changed = (M.patches(a[0], geo.patch) != M.patches(b[0], geo.patch)).any(1)
    with torch.no_grad():
        enc_changed = (conv(a)[0].flatten(1) != conv(b)[0].flatten(1)).any(0)   # the encoder's input, per patch
    assert changed.nonzero().flatten().tolist() == [k]
    assert enc_changed.nonzero().flatten().tolist() == [k]


def test_overlay_equals_output_attentions(lm, image, run):
    enc = M.inputs(lm, image)
    with torch.no_grad():
        att = lm.model(input_ids=torch.tensor([run.ids]), pixel_values=enc["pixel_values"],
                       output_attentions=True).attentions
    img = (torch.tensor(run.ids) == lm.model.config.image_token_index).nonzero().flatten()
    for step in range(len(run.steps)):
        q = run.prompt_len + step - 1
        for layer in range(len(att)):
            want = att[layer][0, :, q, img].numpy()
            np.testing.assert_allclose(run.patch_attention(step, layer, 1).reshape(-1), want[1], atol=2e-3)
            np.testing.assert_allclose(run.patch_attention(step, layer).reshape(-1), want.mean(0), atol=2e-3)
    # and the step-by-step decoder's own attention row agrees at the image positions
    np.testing.assert_allclose(run.steps[0].attention[0, 0, img.numpy()].astype(np.float32),
                               att[0][0, 0, run.prompt_len - 1, img].numpy(), atol=2e-3)


def test_step_by_step_caption_is_the_models_greedy_caption(lm, image, run):
    enc = M.inputs(lm, image)
    with torch.no_grad():
        out = lm.model.generate(**enc, max_new_tokens=len(run.steps), do_sample=False)   # (capped at the trained length)
    want = lm.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert run.caption == " ".join(want.split())
    assert run.ids[: run.prompt_len] == enc["input_ids"][0].tolist()


def test_encoder_views_are_the_towers_attention(lm, image, run):
    pv = M.inputs(lm, image)["pixel_values"]
    with torch.no_grad():
        att = torch.stack(lm.model.model.vision_tower(pv, output_attentions=True).attentions)[:, 0].numpy()
    g = run.geometry
    assert g.cls == 1 and att.shape[-1] == g.n_patches + 1
    np.testing.assert_allclose(M.from_patch(run, 10, 1, 2).reshape(-1), att[1, 2, 11, 1:], atol=2e-3)
    rolled = rollout(combine_heads(att, "mean"))[-1]
    np.testing.assert_allclose(M.from_patch(run, 10, len(att) - 1, rollout=True).reshape(-1), rolled[11, 1:], atol=3e-3)


def test_word_patch_is_the_most_attended_patch_of_that_step(run):
    word = run.words[1]
    layer = 0
    first = run.words.index(word)
    assert M.word_patch(run, word, layer) == int(run.patch_attention(first, layer).argmax())
    assert M.word_patch(run, "zebra", layer) is None


def test_ablations_keep_the_decoder_and_change_the_eyes(lm, run):
    variants = M.ablations(lm, run, M.scene_image(M.BUNDLED["three"]))
    assert [v.name for v in variants] == ["the image", "image removed", "patches shuffled", "another image"]
    for v in variants:
        assert len(v.ref_probs) == len(v.ref_words) and ((v.ref_probs >= 0) & (v.ref_probs <= 1)).all()
    assert variants[0].caption == run.caption


def test_shuffled_patches_move_whole_patches():
    img = scenes.render(scenes.seeded_scenes(1, heldout=False)[0])
    out = np.asarray(llava.shuffle_patches(img, 8, 3))
    a = M.patches(torch.from_numpy(np.array(img)).permute(2, 0, 1), 8)
    b = M.patches(torch.from_numpy(out.copy()).permute(2, 0, 1), 8)
    assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, b.tolist())) and not torch.equal(a, b)


def test_parts_and_stages_are_counted_from_requires_grad(lm):
    parts = M.parts(lm)
    assert sum(parts.values()) == lm.n_params
    stages = M.stages(lm)
    card = json.loads((lm.spec.path / "metrics.json").read_text())["stages"]
    assert [(s["trainable"], s["frozen"]) for s in stages] == [(c["trainable"], c["frozen"]) for c in card]
    assert stages[0]["parts"]["vision encoder"] == "trained" and stages[1]["parts"]["vision encoder"] == "frozen"
    assert stages[1]["trainable"] == parts["projector"] + parts["decoder"]
    assert all(p.requires_grad for p in lm.model.parameters())           # the shared model's flags are put back


# ------------------------------------------------------------------ uploads
def _png(img) -> bytes:
    b = io.BytesIO()
    img.save(b, format="PNG")
    return b.getvalue()


def test_upload_accepts_an_ordinary_picture():
    img, notes = M.read_upload(_png(Image.new("RGB", (100, 80), (10, 200, 30))))
    assert img.size == (100, 80) and img.mode == "RGB" and notes == []


@pytest.mark.parametrize("case", ["not an image", "truncated", "1x1", "bomb", "animated gif", "still gif", "empty",
                                  "too many bytes"])
def test_bad_uploads_get_one_sentence(case):
    if case == "not an image":
        data = b"<html><script>alert(1)</script></html>"
    elif case == "truncated":
        data = _png(Image.effect_noise((200, 200), 60).convert("RGB"))[:3000]
    elif case == "1x1":
        data = _png(Image.new("RGB", (1, 1)))
    elif case == "bomb":
        data = _png(Image.new("1", (6000, 6000)))                       # a few kB that declare 36 million pixels
        assert len(data) < 100_000
    elif case in ("animated gif", "still gif"):
        b = io.BytesIO()
        frames = [Image.new("P", (32, 32), i) for i in range(3 if case == "animated gif" else 1)]
        frames[0].save(b, format="GIF", save_all=True, append_images=frames[1:])
        data = b.getvalue()
    elif case == "empty":
        data = b""
    else:
        data = b"\x89PNG" + b"0" * (M.MAX_UPLOAD_BYTES + 1)
    with pytest.raises(M.ImageRejected) as e:
        M.read_upload(data)
    msg = str(e.value)
    assert msg.endswith(".") and "\n" not in msg and "Traceback" not in msg and "<" not in msg


def test_alpha_and_cmyk_are_converted_with_a_note():
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    img, notes = M.read_upload(_png(rgba))
    assert img.mode == "RGB" and img.getpixel((5, 5)) == (255, 255, 255) and "transparent" in notes[0]
    b = io.BytesIO()
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(b, format="JPEG")
    img, notes = M.read_upload(b.getvalue())
    assert img.mode == "RGB" and "CMYK" in notes[0]


def test_an_upload_of_any_size_becomes_the_models_grid(lm):
    img, _ = M.read_upload(_png(Image.new("RGB", (300, 120), (200, 30, 30))))
    run = M.caption(lm, img)
    assert run.view.shape == (64, 64, 3) and run.patch_attention(0, 0).shape == (8, 8)


# ------------------------------------------------------------------ the real model's path, offline
def test_a_siglip_qwen2_llava_without_class_token_maps_patches_the_same_way(lm):
    """llava-interleave-qwen-0.5b's architecture (SigLIP tower, no class token, every patch kept; Qwen2 decoder),
    random-init and tiny: the engine reads its geometry from the config and the tensors."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor, Qwen2Config, SiglipVisionConfig
    from explorer.models.loader import LoadedModel
    tok = lm.tokenizer
    vc = SiglipVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=2)
    tc = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    cfg = LlavaConfig(vision_config=vc, text_config=tc, image_token_index=tok.convert_tokens_to_ids("<image>"),
                      vision_feature_layer=-1, vision_feature_select_strategy="full", image_seq_length=16)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(cfg).eval()
    ip = type(lm.processor.image_processor)(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                            image_mean=[0.5] * 3, image_std=[0.5] * 3)
    proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=8, vision_feature_select_strategy="full",
                          image_token="<image>", num_additional_image_tokens=0)
    real = LoadedModel.in_memory(model, tok, "random SigLIP+Qwen2 LLaVA", processor=proc)
    assert real.spec.family == "vision-language"
    image = M.scene_image(M.BUNDLED["two"])
    r = M.caption(real, image, max_new_tokens=3)
    g = r.geometry
    assert (g.grid, g.cls, g.dropped) == (4, 0, 0) and len(r.image_positions) == 16
    shapes = {s.name: s.shape for s in r.trace}
    assert shapes["patches"] == (16, 192) and shapes["vision encoder"] == (16, 32) and shapes["projector"] == (16, 32)
    with torch.no_grad():
        att = model(input_ids=torch.tensor([r.ids]), pixel_values=M.inputs(real, image)["pixel_values"],
                    output_attentions=True).attentions
    np.testing.assert_allclose(r.patch_attention(0, 1).reshape(-1),
                               att[1][0, :, r.prompt_len - 1, torch.from_numpy(r.image_positions)].mean(0).numpy(),
                               atol=2e-3)
    assert M.from_patch(r, 5, 0).shape == (4, 4)


def test_a_caption_never_draws_the_image_placeholder(lm):
    """Even when the decoder would rank `<image>` first, the caption never writes it: a written placeholder has
    no pixels behind it, and the next pass would fail (a random-init real model did write one)."""
    image_id = lm.model.config.image_token_index
    hook = lm.model.lm_head.register_forward_hook(lambda m, a, out: out.index_add(
        -1, torch.tensor([image_id]), torch.full((*out.shape[:-1], 1), 100.0)))
    try:
        run = M.caption(lm, M.scene_image(M.BUNDLED["two"]), max_new_tokens=4)
    finally:
        hook.remove()
    assert run.steps and image_id not in [s.token_id for s in run.steps] and "<image>" not in run.caption
