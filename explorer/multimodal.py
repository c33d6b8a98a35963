"""A picture becomes tokens for a decoder: image -> patches -> vision encoder -> projector -> decoder.

    from explorer import multimodal as M
    image, notes = M.read_upload(data)                 # or M.scene_image(M.BUNDLED["two"]) / M.built(...)
    run = M.caption(lm, image)                         # one generation + one forward pass (the cache's unit)
    run.trace                                          # [Stage]: shapes read from the config and the tensors
    run.patch_attention(step, layer, head=None)        # [grid, grid]: the written token's look at the image
    M.encoder_attention(run, layer, head)              # [N+cls, N+cls] the vision tower's own attention
    M.ablations(lm, image, other)                      # image removed / patches shuffled / another image
    M.parts(lm), M.stages(lm)                          # parameters per part; frozen per training stage

Shapes in docstrings: N image patches in a grid x grid, p pixels per patch side, T decoder positions.
Works for any `LlavaForConditionalGeneration` (CLIP or SigLIP tower, with or without a class token).
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer import runtime
from explorer.errors import ExplainedError
from explorer.generation import Generation, Sampling
from explorer.text import display_token
from explorer.zoo import scenes

MAX_UPLOAD_BYTES = 5 * 2**20            # an upload larger than this is refused before decoding
MAX_PIXELS = 16_000_000                 # declared width x height above this: a decompression bomb
MIN_SIDE = 16                           # pixels; smaller images say nothing at patch size
FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_NEW_TOKENS = 20
PROMPT = scenes.PROMPT
# bundled scenes: (colour, shape, column, row) per object
BUNDLED = {
    "two": [("red", "circle", "left", "top"), ("blue", "square", "right", "bottom")],
    "three": [("yellow", "triangle", "left", "centre"), ("green", "circle", "middle", "top"),
              ("red", "square", "right", "bottom")],
    "one": [("blue", "triangle", "middle", "centre")],
    "pair": [("green", "square", "left", "bottom"), ("yellow", "circle", "middle", "centre")],
}


class ImageRejected(ExplainedError):
    """An upload that is not an image we can read; the message is one sentence."""


# ------------------------------------------------------------------ images in
def read_upload(data: bytes, name: str = "the file") -> tuple["Image.Image", list[str]]:  # noqa: F821
    """Decode an uploaded PNG / JPEG / WebP into RGB; (image, notes about what was changed).
    Anything else raises ImageRejected with one sentence."""
    from PIL import Image, UnidentifiedImageError
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(f"The file is {len(data) / 2**20:.1f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB "
                            "are accepted.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageRejected(f"The image declares {w:,} x {h:,} pixels, more than the {MAX_PIXELS:,} accepted "
                                    "(a file that small claiming that much is a decompression bomb).")
            fmt = img.format
            if fmt == "GIF" and getattr(img, "n_frames", 1) > 1:
                raise ImageRejected("Animated GIFs are not accepted; upload one frame as PNG, JPEG or WebP.")
            if fmt not in FORMATS:
                raise ImageRejected(f"{fmt or 'This'} images are not accepted; upload a PNG, JPEG or WebP.")
            if getattr(img, "n_frames", 1) > 1:
                raise ImageRejected("Animated images are not accepted; upload a single picture.")
            if min(w, h) < MIN_SIDE:
                raise ImageRejected(f"The image is {w} x {h} pixels; at least {MIN_SIDE} x {MIN_SIDE} are needed "
                                    "to cut it into patches.")
            img.load()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, ValueError) as e:
        raise ImageRejected("The file is not an image that can be read (PNG, JPEG or WebP).") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected(f"The image declares more than {MAX_PIXELS:,} pixels (a decompression bomb).") from e
    except (OSError, SyntaxError, EOFError) as e:
        raise ImageRejected("The image file is damaged or cut short (truncated), so it cannot be decoded.") from e
    notes = []
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.split()[-1])
        img = flat
        notes.append("The image's transparent parts are drawn on white.")
    elif img.mode == "CMYK":
        img = img.convert("RGB")
        notes.append("The CMYK image was converted to RGB colours.")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    return img, notes


def scene_image(items) -> "Image.Image":  # noqa: F821
    """A scene drawn from [(colour, shape, column, row)] (ValueError on a bad choice)."""
    return scenes.render(scenes.build(list(items)))


# ------------------------------------------------------------------ the model's geometry
@dataclass(frozen=True)
class Geometry:
    image_size: int      # pixels per side the vision tower reads
    patch: int           # pixels per patch side
    grid: int            # patches per side
    cls: int             # vision tokens before the patches (CLIP's class token: 1; SigLIP: 0)
    dropped: int         # vision tokens not passed to the projector (class token under "default")

    @property
    def n_patches(self) -> int:
        return self.grid * self.grid

    def box(self, k: int) -> tuple[int, int, int, int]:
        """Patch k (row-major) as (x0, y0, x1, y1) pixels of the model's input image (x1, y1 exclusive)."""
        r, c = divmod(int(k), self.grid)
        return c * self.patch, r * self.patch, (c + 1) * self.patch, (r + 1) * self.patch


def vision_embeddings(model):
    """The vision tower's embedding module (patch_embedding: a convolution; position_embedding)."""
    tower = model.model.vision_tower
    return getattr(tower, "vision_model", tower).embeddings


def geometry(model) -> Geometry:
    vc = model.config.vision_config
    grid = vc.image_size // vc.patch_size
    emb = vision_embeddings(model)
    cls = int(emb.position_embedding.weight.shape[0]) - grid * grid
    dropped = cls if model.config.vision_feature_select_strategy == "default" else 0
    return Geometry(vc.image_size, vc.patch_size, grid, cls, dropped)


def patches(pixel_values: torch.Tensor, patch: int) -> torch.Tensor:
    """[3, H, W] -> [N, 3·p·p]: each patch's pixels, row-major over the grid, in the order the patch
    embedding (a convolution with kernel = stride = p) reads them."""
    c, h, w = pixel_values.shape
    g_h, g_w = h // patch, w // patch
    x = pixel_values[:, : g_h * patch, : g_w * patch].reshape(c, g_h, patch, g_w, patch)
    return x.permute(1, 3, 0, 2, 4).reshape(g_h * g_w, c * patch * patch)


def model_view(pixel_values: torch.Tensor, processor) -> np.ndarray:
    """[3, H, W] normalised pixels -> uint8 [H, W, 3]: the picture exactly as the model reads it."""
    ip = processor.image_processor
    mean = torch.tensor(ip.image_mean).view(3, 1, 1)
    std = torch.tensor(ip.image_std).view(3, 1, 1)
    x = (pixel_values * std + mean) * 255
    return x.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def inputs(lm, image, prompt: str = PROMPT) -> dict:
    """The processor's output for one image and the prompt: input_ids [1, T] (the image placeholder
    expanded to one token per patch), attention_mask, pixel_values [1, 3, H, W]."""
    proc = lm.processor
    token = getattr(proc, "image_token", "<image>")
    return dict(proc(images=[image], text=[f"{token} {prompt}"], return_tensors="pt"))


def text_only(lm, prompt: str = PROMPT) -> list[int]:
    """The prompt's ids without any image (the image-removed ablation)."""
    return lm.tokenizer(prompt)["input_ids"]


# ------------------------------------------------------------------ one run
@dataclass(frozen=True)
class Stage:
    name: str
    shape: tuple[int, ...]
    what: str


@dataclass
class CaptionRun:
    """A greedy caption of one image, with every tensor the page draws (numpy; float16 for attention)."""
    geometry: Geometry
    view: np.ndarray                  # uint8 [H, W, 3]: the model's input image
    ids: list[int]                    # prompt (image tokens expanded) + caption
    tokens: list[str]                 # readable pieces of ids
    image_positions: np.ndarray       # int [N]: where the image's tokens sit among the decoder's positions
    prompt_len: int
    steps: list                       # explorer.generation.StepTrace per written token (top-k, attention row)
    decoder_attn: np.ndarray          # float16 [layer, head, T, T] over prompt + caption (one forward pass)
    vision_attn: np.ndarray           # float16 [layer, head, V, V], V = cls + N
    trace: list[Stage] = field(default_factory=list)

    @property
    def caption(self) -> str:
        return " ".join(s.token for s in self.steps if s.token_id not in self._eos).strip()

    @property
    def words(self) -> list[str]:
        return [s.token for s in self.steps]

    _eos: set = field(default_factory=set)

    def patch_attention(self, step: int, layer: int, head: int | None = None) -> np.ndarray:
        """[grid, grid]: attention of the position that writes token `step` over the image's patches, in one
        decoder layer, one head or (head=None) their mean. Sliced from the forward pass's output_attentions."""
        q = self.prompt_len + step - 1
        a = self.decoder_attn[layer, :, q][:, self.image_positions].astype(np.float32)
        a = a.mean(0) if head is None else a[head]
        g = self.geometry.grid
        return a.reshape(g, g)

    def image_share(self, step: int, layer: int, head: int | None = None) -> float:
        """Share of that attention row that goes to image tokens at all (the rest goes to text)."""
        return float(self.patch_attention(step, layer, head).sum())


def _vision_hidden(model, pixel_values):
    out = model.model.vision_tower(pixel_values, output_attentions=True, output_hidden_states=True)
    return out


@runtime.queued
@torch.no_grad()
def caption(lm, image, prompt: str = PROMPT, max_new_tokens: int = MAX_NEW_TOKENS) -> CaptionRun:
    """Greedy caption step by step (the Generation engine, image given to the pass that reads the prompt),
    then one forward pass over prompt + caption for the attention over the image and the shape trace."""
    model = lm.model
    geo = geometry(model)
    enc = inputs(lm, image, prompt)
    ids = enc["input_ids"][0].tolist()
    pv = enc["pixel_values"]
    gen = Generation(lm, ids, Sampling(greedy=True), max_new_tokens=max_new_tokens, extra={"pixel_values": pv})
    gen.run(lm, max_new_tokens)
    steps = gen.branch.steps
    full = gen.branch.ids
    image_id = model.config.image_token_index
    positions = np.flatnonzero(np.asarray(full) == image_id)

    got = {}
    hooks = [model.model.multi_modal_projector.register_forward_hook(lambda m, a, o: got.__setitem__("proj", o)),
             model.model.language_model.register_forward_pre_hook(
                 lambda m, a, kw: got.__setitem__("embeds", kw.get("inputs_embeds")), with_kwargs=True)]
    try:
        out = model(input_ids=torch.tensor([full]), pixel_values=pv, output_attentions=True, use_cache=False)
        vis = _vision_hidden(model, pv)
    finally:
        for h in hooks:
            h.remove()
    layer = model.config.vision_feature_layer
    features = vis.hidden_states[layer][0, geo.dropped:]
    vc, tc = model.config.vision_config, model.config.get_text_config()
    p = geo.patch
    trace = [
        Stage("image", tuple(pv.shape[1:]), f"3 colour channels x {pv.shape[2]} x {pv.shape[3]} pixels "
                                            f"(resized and normalised by the processor)"),
        Stage("patches", tuple(patches(pv[0], p).shape), f"{geo.n_patches} patches of 3 x {p} x {p} = {3 * p * p} "
                                                         f"numbers each ({geo.grid} x {geo.grid} grid)"),
        Stage("vision encoder", tuple(features.shape), f"{vc.num_hidden_layers} layers of width {vc.hidden_size}; "
              + (f"{geo.cls} class token dropped" if geo.dropped else "every patch kept")),
        Stage("projector", tuple(got["proj"][0].shape), f"a small MLP maps each patch to the decoder's width "
                                                        f"{tc.hidden_size}"),
        Stage("decoder input", tuple(got["embeds"][0].shape), f"{len(positions)} image vectors placed where the "
              f"image tokens sit, among {len(full) - len(positions)} text tokens"),
        Stage("decoder output", tuple(out.logits[0].shape), f"{tc.num_hidden_layers} layers, then a score for each "
                                                            f"of {tc.vocab_size} tokens at every position"),
    ]
    dec = torch.stack(out.attentions, 0)[:, 0].to(torch.float16).numpy()
    va = torch.stack(vis.attentions, 0)[:, 0].to(torch.float16).numpy()
    view = model_view(pv[0], lm.processor)
    toks = [display_token(t) for t in lm.tokenizer.convert_ids_to_tokens(full)]
    return CaptionRun(geo, view, full, toks, positions, len(ids), steps, dec, va, trace, gen.eos_ids)


# ------------------------------------------------------------------ views of a run (no forward pass)
def encoder_attention(run: CaptionRun, layer: int, head: int | None = None) -> np.ndarray:
    """[V, V]: the vision tower's attention in one layer (head or mean), V = class token(s) + N patches."""
    a = run.vision_attn[layer].astype(np.float32)
    return a.mean(0) if head is None else a[head]


def from_patch(run: CaptionRun, patch: int, layer: int, head: int | None = None, rollout: bool = False) -> np.ndarray:
    """[grid, grid]: where patch `patch` looks in the vision tower (one layer, or attention rollout
    through every layer up to it), over the patches (the class token's share left out)."""
    from explorer.attention import combine_heads, rollout as roll
    g = run.geometry
    if rollout:
        a = roll(combine_heads(run.vision_attn[: layer + 1], "mean"))[-1]
    else:
        a = encoder_attention(run, layer, head)
    return np.asarray(a[g.cls + patch, g.cls:], dtype=np.float32).reshape(g.grid, g.grid)


def top_patch(run: CaptionRun, step: int, layer: int, head: int | None = None) -> int:
    """The image patch (row-major index) the position writing token `step` attends to most."""
    return int(run.patch_attention(step, layer, head).argmax())


def word_patch(run: CaptionRun, word: str, layer: int, head: int | None = None, nth: int = 0) -> int | None:
    """Which patch does the caption's word (e.g. 'red') look at: the most-attended patch at the step that
    wrote its nth occurrence, in `layer` (head or mean); None if the caption does not contain the word."""
    hits = [i for i, w in enumerate(run.words) if w.strip().lower() == word.strip().lower()]
    if len(hits) <= nth:
        return None
    return top_patch(run, hits[nth], layer, head)


def on_object(scene: "scenes.Scene", geo: Geometry, patch: int, word_index: int) -> bool:
    """Does patch `patch` touch the object that the caption's word number `word_index` names?"""
    objects = sorted(scene.objects, key=lambda o: o.x)
    i = word_index // scenes.WORDS_PER_OBJECT
    if i >= len(objects):
        return False
    m = scenes.object_map(scene)
    x0, y0, x1, y1 = geo.box(patch)
    return bool((m[y0:y1, x0:x1] == scene.objects.index(objects[i]) + 1).any())


def card_metrics(lm) -> dict:
    """The bundled model's measured metrics (its metrics.json, recomputed by the zoo test); {} for other models."""
    import json
    from pathlib import Path
    try:
        m = json.loads((Path(lm.path) / "metrics.json").read_text())
    except (OSError, ValueError, TypeError):
        return {}
    return m if isinstance(m, dict) else {}


def grounding_layer(lm) -> int | None:
    """The decoder layer the bundled model's card names for grounding (None for other models)."""
    try:
        return int(card_metrics(lm)["grounding_layer"])
    except (KeyError, TypeError, ValueError):
        return None


# ------------------------------------------------------------------ ablations
@dataclass
class Variant:
    name: str
    caption: str
    ref_words: list[str]              # the original image's caption, word by word
    ref_probs: np.ndarray             # float32: the probability this variant gives each of those words


def shuffled(image_view: np.ndarray, patch: int, seed: int = 0):
    from explorer.zoo.llava import shuffle_patches
    from PIL import Image
    return shuffle_patches(Image.fromarray(image_view), patch, seed)


@runtime.queued
@torch.no_grad()
def _score(lm, prompt_ids: list[int], words: list[int], extra: dict | None) -> np.ndarray:
    ids = prompt_ids + words
    kw = dict(input_ids=torch.tensor([ids]), use_cache=False)
    if extra:
        kw.update(extra)
    logp = torch.softmax(lm.model(**kw).logits[0].float(), -1)
    return np.array([float(logp[len(prompt_ids) + i - 1, w]) for i, w in enumerate(words)], dtype=np.float32)


@torch.no_grad()
def _greedy(lm, prompt_ids: list[int], extra: dict | None) -> str:
    gen = Generation(lm, prompt_ids, Sampling(greedy=True), max_new_tokens=MAX_NEW_TOKENS, extra=extra)
    gen.run(lm, MAX_NEW_TOKENS)
    return lm.tokenizer.decode([s.token_id for s in gen.branch.steps], skip_special_tokens=True).strip()


def ablations(lm, run: CaptionRun, other_image, shuffle_seed: int = 0) -> list[Variant]:
    """The original caption's words scored (teacher-forced) and a fresh greedy caption for: the image, no image,
    its patches shuffled, another image. The decoder is the same in each; only what the eyes give it changes."""
    words = [s.token_id for s in run.steps if s.token_id not in run._eos]
    names = [s.token for s in run.steps if s.token_id not in run._eos]
    geo = run.geometry
    out = []
    for name, image in (("the image", None), ("image removed", "none"),
                        ("patches shuffled", shuffled(run.view, geo.patch, shuffle_seed)), ("another image", other_image)):
        if image == "none":
            ids, extra = text_only(lm), None
        else:
            enc = inputs(lm, image if image is not None else _image(run.view))
            ids, extra = enc["input_ids"][0].tolist(), {"pixel_values": enc["pixel_values"]}
        out.append(Variant(name, _greedy(lm, ids, extra), names, _score(lm, ids, words, extra)))
    return out


def _image(view: np.ndarray):
    from PIL import Image
    return Image.fromarray(view)


# ------------------------------------------------------------------ what is trained
PARTS = (("vision encoder", "vision_tower"), ("projector", "multi_modal_projector"),
         ("decoder", "language_model"), ("decoder", "lm_head"))


def parts(lm) -> dict[str, int]:
    """Parameters per part, counted from the model: {vision encoder, projector, decoder} (tied weights once)."""
    counts = {"vision encoder": 0, "projector": 0, "decoder": 0}
    for name, p in lm.model.named_parameters():     # named_parameters lists a tied weight once
        for part, prefix in PARTS:
            if prefix in name.split("."):
                counts[part] += p.numel()
                break
    return counts


def stages(lm) -> list[dict] | None:
    """Per training stage of the bundled model (its recipe, explorer.zoo.llava.STAGES): the parts it trains and
    the parameters trainable / frozen, counted from requires_grad after the stage's freezing is applied to a
    copy of the flags (the shared model's own flags are put back). None for a model without a recipe."""
    from explorer.zoo import llava
    if lm.spec.id not in llava.RECIPES and not str(lm.path).rstrip("/").endswith(tuple(llava.RECIPES)):
        return None
    model = lm.model
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    out = []
    try:
        for stage in llava.STAGES:
            llava.apply_stage(model, stage)
            by_part = {}
            for name, p in model.named_parameters():
                part = next((pt for pt, prefix in PARTS if prefix in name.split(".")), "other")
                d = by_part.setdefault(part, [0, 0])
                d[0 if p.requires_grad else 1] += p.numel()
            out.append(dict(name=stage["name"], what=stage["what"], trains=list(stage["trains"]),
                            trainable=sum(v[0] for v in by_part.values()), frozen=sum(v[1] for v in by_part.values()),
                            parts={k: ("trained" if v[0] else "frozen") for k, v in by_part.items()}))
    finally:
        for n, p in model.named_parameters():
            p.requires_grad = before[n]
    return out
