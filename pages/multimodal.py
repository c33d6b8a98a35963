"""Multimodal: a picture becomes tokens for a decoder — patches, a frozen vision encoder, a projector, and a
caption whose words look at the right part of the image."""
import numpy as np
import streamlit as st

from explorer import multimodal as M
from explorer.charts import generation as gen_charts
from explorer.charts import multimodal as charts
from explorer.text import md
from explorer.ui import multimodal as cached
from explorer.ui import nav
from explorer.ui.errors import guard
from explorer.ui.figures import show, table
from explorer.ui.page import Page
from explorer.ui.presenter import explain, presenting

page = Page("🖼️ Multimodal: pictures as tokens", prefix="mm_")
url = page.url

SECTIONS = {"tokens": "① Image → tokens", "caption": "② Caption", "encoder": "③ Vision encoder",
            "ablate": "④ Eyes vs brain", "train": "⑤ What is trained"}
SCENE_NAMES = {k: M.scenes.build(v).caption for k, v in M.BUNDLED.items()}
IMAGES = {**SCENE_NAMES, "build": "🧱 build a scene", "upload": "⬆️ upload an image"}


ROW: list = []     # the row under the section control: the image choice, then the section's own controls


def controls(label: str = "⚙️ Settings", slot: int = 1):
    """The section's controls, beside the image choice; presenter mode tucks them away so that the figure fits
    the projector's screen."""
    return st.expander(label, expanded=False) if presenting() else ROW[slot]


def head_label(h) -> str:
    return "mean" if h == "mean" else f"head {h}"


def choose_image():
    """(key, PIL image) of the chosen picture: a bundled scene, the builder's scene (in the link), or an upload."""
    url.choice("img", "two", list(IMAGES))
    with controls("🖼️ Image", slot=0):
        which = st.selectbox("Image", list(IMAGES), format_func=IMAGES.get, key=url.key("img"))
    if which in M.BUNDLED:
        return cached.scene_key(M.BUNDLED[which]), M.scene_image(M.BUNDLED[which])
    with controls("🧱 Scene builder or upload", slot=2):
        if which == "build":
            with st.expander("Scene builder (its choices are in the link)", expanded=True):
                items = cached.builder_items(url, page)
            return cached.scene_key(items), M.scene_image(items)
        f = st.file_uploader("A PNG, JPEG or WebP picture (up to 5 MB; an upload is not part of the link)",
                             type=["png", "jpg", "jpeg", "webp"])
    if f is None:
        st.info("Choose a picture to upload, or pick a bundled scene.", icon="⬆️")
        page.stop()
    data = f.getvalue()
    image, notes = cached.read_upload(cached.digest(data), data)
    page.note(*notes)
    return "upload:" + cached.digest(data), image


# ============================================================================ ① image -> tokens
def section_tokens(run: M.CaptionRun):
    g = run.geometry
    left, right = st.columns([2, 3])
    with left, page.main():
        show(charts.image_patches(run.view, g.patch, title=f"{g.n_patches} patches → {g.n_patches} image tokens"),
             "image patches", height=400, data={"patch": list(range(g.n_patches)),
                                                "box_x0_y0_x1_y1": [list(g.box(k)) for k in range(g.n_patches)]})
    with right:
        st.markdown("**The shape trace** (read from the model's tensors)")
        show(charts.shape_trace([s.name for s in run.trace], [s.shape for s in run.trace], [s.what for s in run.trace]),
             "shape trace", height=150, data={"stage": [s.name for s in run.trace],
                                              "shape": [str(s.shape) for s in run.trace]})
        with st.expander("What each shape means"):
            for s in run.trace:
                st.caption(f"**{md(s.name)}** {md(s.shape)}: {md(s.what)}")
    is_image = [i in set(run.image_positions.tolist()) for i in range(run.prompt_len)]
    show(charts.token_strip(run.tokens[: run.prompt_len], is_image, title="What the decoder reads: one row of tokens"),
         "token strip", height=150, data={"position": list(range(run.prompt_len)), "image": is_image,
                                          "token": run.tokens[: run.prompt_len]})
    explain("The picture is cut into a grid of square patches; each patch (3 colour channels × p × p pixels) becomes "
            "one vector. The vision encoder lets the patches look at each other; the projector maps each one to the "
            "decoder's width, and the results take the places of the `<image>` tokens in the prompt. From there the "
            "decoder treats them like any other tokens.")


# ============================================================================ ② caption
def section_caption(run: M.CaptionRun):
    n_layers, n_heads = run.decoder_attn.shape[:2]
    n = len(run.steps)
    words = run.words
    first = next((i for i, w in enumerate(words) if w in M.scenes.COLOURS), 0)
    url.int("tok", first, lo=0, hi=max(n - 1, 0))
    url.int("layer", M.grounding_layer(lm) or n_layers - 1, lo=0, hi=n_layers - 1)
    url.choice("head", "mean", ["mean", *range(n_heads)])
    with controls():
        c = st.columns([4, 1.5, 1.5], vertical_alignment="bottom")
        step = c[0].select_slider("Written token", list(range(n)), key=url.key("tok"),
                                  format_func=lambda i: f"{i + 1}: {words[i]}") if n > 1 else 0
        layer = c[1].selectbox("Decoder layer", list(range(n_layers)), key=url.key("layer"))
        head = c[2].selectbox("Head", ["mean", *range(n_heads)], key=url.key("head"), format_func=head_label)
    h = None if head == "mean" else int(head)
    att = run.patch_attention(step, layer, h)
    top = int(att.argmax())
    st.markdown("Caption: " + " ".join(f"**:orange[{md(w)}]**" if i == step else md(w) for i, w in enumerate(words)))
    left, right = st.columns([3, 2])
    with left, page.main():
        show(charts.image_patches(run.view, run.geometry.patch, overlay=att, selected=top, numbers=False,
                                  title=f"Writing “{words[step]}”: layer {layer}, {head_label(head)}"),
             "caption attention on the image", height=420, data={"patch": list(range(att.size)),
                                                                 "attention": att.reshape(-1)})
    s = run.steps[step]
    with right:
        show(gen_charts.mask_candidates(s.tokens[:8], s.p_model[:8], f"Step {step + 1}: the next token"),
             "caption top-k", height=300, data={"token": s.tokens, "probability": s.p_model})
        st.metric("Attention on the image", f"{run.image_share(step, layer, h):.0%}",
                  f"most on patch {top}", delta_color="off", delta_arrow="off", border=True)
    explain("Each written word comes from one decoder position; its attention row, cut to the image's positions and "
            "folded back into the grid, is drawn on the picture. In the layer the model card names, writing a colour "
            "or a shape word looks at that object. All of it comes from one forward pass: moving the token, layer or "
            "head only re-draws.")


# ============================================================================ ③ vision encoder
def section_encoder(run: M.CaptionRun):
    g = run.geometry
    n_layers, n_heads = run.vision_attn.shape[:2]
    url.int("patch", g.grid * (g.grid // 4) + g.grid // 6, lo=0, hi=g.n_patches - 1)
    url.int("vlayer", n_layers - 1, lo=0, hi=n_layers - 1)
    url.choice("vhead", "mean", ["mean", *range(n_heads)])
    url.flag("roll", False)
    with controls():
        c = st.columns([4, 1.5, 1.5, 1.5], vertical_alignment="bottom")
        patch = c[0].slider("From patch", 0, g.n_patches - 1, key=url.key("patch"))
        layer = c[1].selectbox("Encoder layer", list(range(n_layers)), key=url.key("vlayer"))
        roll = c[3].toggle("Rollout", key=url.key("roll"), help="Attention rollout through every layer up to this one")
        head = c[2].selectbox("Head", ["mean", *range(n_heads)], key=url.key("vhead"), format_func=head_label,
                              disabled=roll)
    a = M.from_patch(run, patch, layer, None if head == "mean" else int(head), rollout=roll)
    what = f"rollout up to layer {layer}" if roll else f"layer {layer}, {head_label(head)}"
    with page.main():
        show(charts.image_patches(run.view, g.patch, overlay=a, selected=patch, numbers=False,
                                  title=f"Where patch {patch} looks in the vision encoder ({what})"),
             "vision encoder attention", height=420, data={"patch": list(range(a.size)), "attention": a.reshape(-1)})
    explain("The vision encoder is a transformer encoder over patches: every patch may look at every other (no causal "
            "mask). Rollout (Abnar & Zuidema) multiplies the layers' attention, each mixed half-and-half with the "
            "residual path, to estimate what a patch's output draws on in the end."
            + (f" The class token's share ({g.cls} token) is left out." if g.cls else ""))


# ============================================================================ ④ eyes vs brain
def section_ablate(run: M.CaptionRun, key: str):
    others = {k: v for k, v in SCENE_NAMES.items() if cached.scene_key(M.BUNDLED[k]) != key}
    url.choice("other", list(others)[0], list(others))
    with controls():
        other = st.selectbox("Another image", list(others), format_func=others.get, key=url.key("other"))
    variants = cached.ablations(lm, key, run, other, M.scene_image(M.BUNDLED[other]))
    table({"what the decoder got": [v.name for v in variants],
           "its caption": [v.caption for v in variants],
           "p(original caption)": [f"{float(np.prod(v.ref_probs)):.2g}" for v in variants]},
          container=page.main())
    show(charts.variants([v.name for v in variants], variants[0].ref_words, [v.ref_probs for v in variants],
                         title="How likely each word of the original caption is"), "ablation word probabilities",
         height=360, data={"word": variants[0].ref_words, **{v.name: v.ref_probs for v in variants}})
    shuffled = M.card_metrics(lm).get("shuffled_exact_match")
    explain("The decoder is the same in every row; only what the eyes hand it changes. Without the image it cannot know "
            "the colours, and another image gets another caption: the brain writes, the eyes decide what. Shuffled "
            "patches keep every patch's pixels but not where they are."
            + (f" The bundled model's captions name each object's row (high, middle, low), which only the patches' places "
               f"tell: with them shuffled it still sees the colours, but gets {shuffled:.0%} of held-out captions right "
               "(per its model card). " if isinstance(shuffled, (int, float)) else ""))


# ============================================================================ ⑤ what is trained
def section_train():
    parts, stages = cached.parts(lm)
    c = page.main().columns(3)
    for col, (part, count) in zip(c, parts.items()):
        col.metric(part, f"{count:,}", "parameters", delta_color="off", delta_arrow="off", border=True)
    if stages:
        show(charts.stages(parts, stages), "training stages", height=260,
             data={"stage": [s["name"] for s in stages], "trainable": [s["trainable"] for s in stages],
                   "frozen": [s["frozen"] for s in stages]})
        for s in stages:
            st.caption(f"**Stage {md(s['name'])}**: {md(s['what'])} — {s['trainable']:,} trainable, "
                       f"{s['frozen']:,} frozen (counted from `requires_grad`).")
    else:
        st.info("This model's training recipe is not bundled; the tiny model's stages are read from its recipe.")
    st.page_link(nav.page("adapt").path, label="Train & adapt: which parameters each fine-tuning strategy trains",
                 icon="🏋️")
    explain("LLaVA-style training keeps the pretrained vision encoder frozen: first the eyes learn to see (here: to "
            "name the colour and shape under each patch), then only the projector and the decoder learn to talk "
            "about what the frozen eyes report.")


# ============================================================================ the page
lm = page.model("vision-language")
if lm is None or lm.processor is None:
    if lm is not None:
        st.error("This model has no image processor, so it cannot read pictures.", icon="⚠️")
    page.stop()
view = page.sections(SECTIONS)
ROW[:] = [*st.columns([2, 5], vertical_alignment="bottom"), st.container()]
with guard("the picture"):
    key, image = choose_image()
    run = cached.caption(lm, key, image)
    if view == "train":
        section_train()
    elif view == "ablate":
        section_ablate(run, key)
    else:
        {"tokens": section_tokens, "caption": section_caption, "encoder": section_encoder}[view](run)
page.finish()
