"""The bundled vision-language model: a tiny LLaVA (CLIP-style vision tower, projector, Llama decoder)
that captions synthetic scenes ("a high red circle left of a low blue square"), trained in the lessons' order.

Stage 1, the eyes alone: the vision tower (with two small linear heads that are thrown away afterwards)
learns to name the colour and the shape under each image patch. Stage 2, the brain: the vision tower is
frozen (requires_grad False) while the projector and the decoder learn to caption from its features.

Run: python -m explorer.zoo.train --only tiny-llava --threads 1   (or python -m explorer.zoo.llava)
"""
from __future__ import annotations

import json
import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from explorer.zoo import scenes

SEED = 0
IMAGE_TOKEN = "<image>"
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", IMAGE_TOKEN]
EVAL_SCENES = 300        # held-out scenes the bars are measured on
LAYER_PICK_SCENES = 100  # training scenes the grounding layer is chosen on (never the held-out ones)
BARS = dict(exact_match=0.6, words=0.9, grounding=0.7, shuffled_exact_match=0.1)
# which parts each stage trains; everything else is frozen (requires_grad False) in that stage
STAGES = (
    dict(name="1 vision", trains=("vision_tower",),
         what="the vision tower learns alone to name the colour and shape under each patch "
              "(two linear heads on its patch outputs, discarded afterwards)"),
    dict(name="2 caption", trains=("multi_modal_projector", "language_model", "lm_head"),
         what="the vision tower is frozen; the projector and the decoder learn to caption"),
)
PARTS = {"vision_tower": "vision encoder", "multi_modal_projector": "projector",
         "language_model": "decoder", "lm_head": "decoder"}


@dataclass(frozen=True)
class LlavaRecipe:
    name: str
    twin_of: str
    seq_len: int                 # longest training sequence: <s>, the image's tokens, prompt, caption, </s>
    vision_steps: int
    caption_steps: int
    vision_batch: int
    caption_batch: int
    vision_lr: float
    caption_lr: float
    vision_config: dict = field(default_factory=dict)
    text_config: dict = field(default_factory=dict)
    patch: int = 8
    warmup: int = 50

    @property
    def n_patches(self) -> int:
        return (scenes.IMAGE // self.patch) ** 2


def tokenizer(recipe: LlavaRecipe):
    """A word-level tokenizer over the captions' words (Llama's <s>/</s> around the text), with <image>."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    vocab = {w: i for i, w in enumerate(SPECIALS + scenes.words())}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Split(IMAGE_TOKEN, "isolated")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", extra_special_tokens={"image_token": IMAGE_TOKEN},
                                   model_max_length=recipe.seq_len)


def processor(recipe: LlavaRecipe, tok):
    from transformers import LlavaProcessor
    try:
        from transformers import CLIPImageProcessorPil as ImageProcessor   # no torchvision here
    except ImportError:  # pragma: no cover
        from transformers import CLIPImageProcessor as ImageProcessor
    ip = ImageProcessor(size={"shortest_edge": scenes.IMAGE}, crop_size={"height": scenes.IMAGE, "width": scenes.IMAGE},
                        image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], do_convert_rgb=True)
    return LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=recipe.patch,
                          vision_feature_select_strategy="default", image_token=IMAGE_TOKEN,
                          num_additional_image_tokens=1)


def config(recipe: LlavaRecipe, tok):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig
    vc = CLIPVisionConfig(image_size=scenes.IMAGE, patch_size=recipe.patch, **recipe.vision_config)
    tc = LlamaConfig(vocab_size=len(tok), max_position_embeddings=recipe.seq_len, bos_token_id=tok.bos_token_id,
                     eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **recipe.text_config)
    cfg = LlavaConfig(vision_config=vc, text_config=tc, image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN),
                      vision_feature_layer=-1, vision_feature_select_strategy="default",
                      image_seq_length=recipe.n_patches, projector_hidden_act="gelu", tie_word_embeddings=True)
    cfg._attn_implementation = "eager"
    return cfg


def pixels(images) -> torch.Tensor:
    """[B, 3, H, W] in [-1, 1]: what the processor gives for IMAGE x IMAGE RGB images (mean = std = 0.5;
    the zoo test checks that the saved processor agrees)."""
    arr = np.stack([np.asarray(im, dtype=np.float32) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2) / 127.5 - 1.0


def shuffle_patches(image, patch: int, seed: int):
    """The same pixels with the patches in a seeded random order (what the shuffled-patches ablation shows)."""
    from PIL import Image
    a = np.asarray(image)
    g = a.shape[0] // patch
    blocks = a.reshape(g, patch, g, patch, 3).transpose(0, 2, 1, 3, 4).reshape(g * g, patch, patch, 3)
    order = np.random.default_rng(seed).permutation(g * g)
    out = blocks[order].reshape(g, g, patch, patch, 3).transpose(0, 2, 1, 3, 4).reshape(a.shape)
    return Image.fromarray(np.ascontiguousarray(out))


class _Scenes:
    """Training scenes in seed order (held-out captions skipped), rendered on demand."""

    def __init__(self, start: int):
        self.seed = start

    def take(self, n: int) -> list[scenes.Scene]:
        out = []
        while len(out) < n:
            s = scenes.scene(self.seed)
            self.seed += 1
            if not s.heldout:
                out.append(s)
        return out


def _update(opt, loss, params, lr: float) -> None:
    """One AdamW step at learning rate lr, gradients clipped to norm 1."""
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def train_vision(recipe: LlavaRecipe, log=print):
    """Stage 1: a CLIP vision tower plus per-patch colour and shape heads, trained alone."""
    from transformers import CLIPVisionConfig, CLIPVisionModel
    from explorer.zoo.train import lr_at
    torch.manual_seed(SEED)
    vc = CLIPVisionConfig(image_size=scenes.IMAGE, patch_size=recipe.patch, **recipe.vision_config)
    vc._attn_implementation = "eager"
    tower = CLIPVisionModel(vc)
    d = vc.hidden_size
    heads = torch.nn.ModuleDict(dict(colour=torch.nn.Linear(d, len(scenes.COLOURS) + 1),
                                     shape=torch.nn.Linear(d, len(scenes.SHAPES) + 1)))
    params = list(tower.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=recipe.vision_lr, weight_decay=0.01)
    data = _Scenes(scenes.TRAIN_SEED)
    tower.train()
    t0 = time.time()
    for step in range(recipe.vision_steps):
        batch = data.take(recipe.vision_batch)
        labels = [scenes.patch_labels(s, recipe.patch) for s in batch]
        colour = torch.from_numpy(np.stack([c for c, _ in labels]))
        shape = torch.from_numpy(np.stack([s for _, s in labels]))
        h = tower(pixel_values=pixels([scenes.render(s) for s in batch])).last_hidden_state[:, 1:]
        loss = torch.nn.functional.cross_entropy(heads["colour"](h).flatten(0, 1), colour.flatten()) + \
            torch.nn.functional.cross_entropy(heads["shape"](h).flatten(0, 1), shape.flatten())
        _update(opt, loss, params, lr_at(step, recipe.vision_steps, recipe.vision_lr, recipe.warmup))
        if step % 100 == 0 or step == recipe.vision_steps - 1:
            acc = ((heads["colour"](h).argmax(-1) == colour) & (heads["shape"](h).argmax(-1) == shape)).float().mean()
            log(f"{recipe.name} stage 1 step {step}/{recipe.vision_steps} loss {loss.item():.3f} "
                f"patch accuracy {acc:.3f} ({time.time() - t0:.0f}s)")
    tower.eval()
    return tower, heads, data.seed, time.time() - t0


@torch.no_grad()
def patch_accuracy(tower, heads, batch: list[scenes.Scene], patch: int) -> float:
    labels = [scenes.patch_labels(s, patch) for s in batch]
    colour = torch.from_numpy(np.stack([c for c, _ in labels]))
    shape = torch.from_numpy(np.stack([s for _, s in labels]))
    h = tower(pixel_values=pixels([scenes.render(s) for s in batch])).last_hidden_state[:, 1:]
    return float(((heads["colour"](h).argmax(-1) == colour) & (heads["shape"](h).argmax(-1) == shape)).float().mean())


def prompt_ids(tok, n_patches: int) -> list[int]:
    """<s>, the image's tokens (one per patch), then the prompt's words: what the processor writes."""
    return tok(IMAGE_TOKEN * n_patches + " " + scenes.PROMPT)["input_ids"]


def caption_batch(tok, batch: list[scenes.Scene], n_patches: int):
    prompt = prompt_ids(tok, n_patches)
    rows, labels = [], []
    for s in batch:
        cap = tok(s.caption, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append(prompt + cap)
        labels.append([-100] * len(prompt) + cap)
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tok.pad_token_id)
    lab = torch.full((len(rows), width), -100)
    for i, (r, lb) in enumerate(zip(rows, labels)):
        ids[i, : len(r)] = torch.tensor(r)
        lab[i, : len(lb)] = torch.tensor(lb)
    return ids, (ids != tok.pad_token_id).long(), lab


def apply_stage(model, stage: dict) -> None:
    """requires_grad True for the parts the stage trains, False for every other parameter."""
    for name, p in model.named_parameters():
        p.requires_grad = any(part in name.split(".") for part in stage["trains"])


def train_caption(recipe: LlavaRecipe, tok, tower, start_seed: int, log=print):
    """Stage 2: the LLaVA model with the stage-1 tower inside, frozen; projector and decoder learn to caption."""
    from transformers import LlavaForConditionalGeneration
    from explorer.zoo.train import lr_at
    torch.manual_seed(SEED + 1)
    model = LlavaForConditionalGeneration(config(recipe, tok))
    model.model.vision_tower.load_state_dict(tower.state_dict())
    apply_stage(model, STAGES[1])
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=recipe.caption_lr, betas=(0.9, 0.98), weight_decay=0.01)
    data = _Scenes(start_seed)
    model.train()
    t0 = time.time()
    for step in range(recipe.caption_steps):
        batch = data.take(recipe.caption_batch)
        ids, att, lab = caption_batch(tok, batch, recipe.n_patches)
        loss = model(input_ids=ids, attention_mask=att, pixel_values=pixels([scenes.render(s) for s in batch]),
                     labels=lab).loss
        _update(opt, loss, trainable, lr_at(step, recipe.caption_steps, recipe.caption_lr, recipe.warmup))
        if step % 100 == 0 or step == recipe.caption_steps - 1:
            log(f"{recipe.name} stage 2 step {step}/{recipe.caption_steps} loss {loss.item():.3f} "
                f"({time.time() - t0:.0f}s)")
    model.eval()
    return model, time.time() - t0


# ------------------------------------------------------------------ measuring
@torch.no_grad()
def captions(model, proc, images, batch: int = 50) -> list[str]:
    """Greedy captions (after the prompt) for PIL images."""
    out = []
    for i in range(0, len(images), batch):
        part = images[i: i + batch]
        enc = proc(images=part, text=[IMAGE_TOKEN + " " + scenes.PROMPT] * len(part), return_tensors="pt")
        gen = model.generate(**enc, max_new_tokens=20, do_sample=False, num_beams=1)
        out += proc.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return [" ".join(c.split()) for c in out]


def word_accuracy(got: list[str], want: list[str]) -> float:
    """Share of the reference's colour and shape words that the caption has at the same place."""
    keys = set(scenes.COLOURS) | set(scenes.SHAPES)
    right = total = 0
    for g, w in zip(got, want):
        gw, ww = g.split(), w.split()
        for i, word in enumerate(ww):
            if word in keys:
                total += 1
                right += i < len(gw) and gw[i] == word
    return right / total


@torch.no_grad()
def grounding_by_layer(model, proc, batch: list[scenes.Scene]) -> np.ndarray:
    """[layers]: share of correctly written colour/shape words whose most-attended image patch (the decoder's
    attention, mean over heads, from the position that writes the word) lies on the object the word names."""
    tok = proc.tokenizer
    keys = set(scenes.COLOURS) | set(scenes.SHAPES)
    images = [scenes.render(s) for s in batch]
    got = captions(model, proc, images)
    n_layers = model.config.text_config.num_hidden_layers
    hits, total = np.zeros(n_layers), 0
    image_id = model.config.image_token_index
    patch = model.config.vision_config.patch_size
    g = scenes.IMAGE // patch
    for s, img, cap in zip(batch, images, got):
        want = s.caption.split()
        enc = proc(images=[img], text=[IMAGE_TOKEN + " " + scenes.PROMPT + " " + cap], return_tensors="pt")
        ids = enc["input_ids"][0]
        att = model(**enc, output_attentions=True).attentions       # layers x [1, heads, T, T]
        img_pos = (ids == image_id).nonzero()[:, 0]
        start = len(ids) - len(cap.split())                          # position of the caption's first word
        objects = sorted(s.objects, key=lambda o: o.x)
        omap = scenes.object_map(s)
        blocks = omap.reshape(g, patch, g, patch).transpose(0, 2, 1, 3).reshape(g * g, -1)
        for i, word in enumerate(cap.split()):
            if word not in keys or i >= len(want) or want[i] != word:
                continue
            obj = s.objects.index(objects[i // scenes.WORDS_PER_OBJECT]) + 1
            total += 1
            for layer, a in enumerate(att):
                k = int(a[0, :, start + i - 1, img_pos].mean(0).argmax())
                hits[layer] += bool((blocks[k] == obj).any())
    return hits / max(total, 1)


def evaluate(folder: Path, recipe: LlavaRecipe | None = None) -> dict:
    """Reload the saved model (float16 on disk -> float32) and measure the bars on held-out scenes."""
    from transformers import AutoProcessor
    from explorer.models.loader import load_folder
    recipe = recipe or RECIPES["tiny-llava"]
    model = load_folder(folder).model
    proc = AutoProcessor.from_pretrained(folder)
    held = scenes.seeded_scenes(EVAL_SCENES, heldout=True)
    images = [scenes.render(s) for s in held]
    want = [s.caption for s in held]
    got = captions(model, proc, images)
    shuffled = captions(model, proc, [shuffle_patches(im, recipe.patch, i) for i, im in enumerate(images)])
    pick = grounding_by_layer(model, proc, scenes.seeded_scenes(LAYER_PICK_SCENES, heldout=False,
                                                                start=scenes.HELDOUT_SEED))
    layer = int(pick.argmax())
    ground = grounding_by_layer(model, proc, held)
    return dict(heldout_scenes=len(held), exact_match=round(float(np.mean([g == w for g, w in zip(got, want)])), 4),
                word_accuracy=round(word_accuracy(got, want), 4),
                shuffled_exact_match=round(float(np.mean([g == w for g, w in zip(shuffled, want)])), 4),
                shuffled_word_accuracy=round(word_accuracy(shuffled, want), 4),
                grounding_layer=layer, grounding=round(float(ground[layer]), 4),
                grounding_by_layer=[round(float(x), 4) for x in ground],
                grounding_pick_by_layer=[round(float(x), 4) for x in pick],
                examples={w: g for w, g in list(zip(want, got))[:6]})


def train_llava(recipe: LlavaRecipe, out: Path, log=print) -> dict:
    tok = tokenizer(recipe)
    proc = processor(recipe, tok)
    tower, heads, next_seed, s1 = train_vision(recipe, log)
    vision_acc = patch_accuracy(tower, heads, scenes.seeded_scenes(200, heldout=True), recipe.patch)
    log(f"{recipe.name} stage 1 held-out patch accuracy {vision_acc:.3f}")
    model, s2 = train_caption(recipe, tok, tower, next_seed, log)
    folder = out / recipe.name
    folder.mkdir(parents=True, exist_ok=True)
    for p in model.parameters():
        p.requires_grad = True
    model.to(torch.float16).save_pretrained(folder, safe_serialization=True)
    proc.save_pretrained(folder)
    counts = stage_counts(model)
    metrics = dict(vision_steps=recipe.vision_steps, caption_steps=recipe.caption_steps,
                   vision_batch=recipe.vision_batch, caption_batch=recipe.caption_batch,
                   vision_seconds=round(s1, 1), caption_seconds=round(s2, 1),
                   training_scenes_seen=next_seed, vision_patch_accuracy=round(vision_acc, 4),
                   parameters=sum(p.numel() for p in model.parameters()), stages=counts)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")   # the run's facts, then its bars
    return write_evaluation(folder, recipe, log)


def write_evaluation(folder: Path, recipe: LlavaRecipe, log=print) -> dict:
    """Measure the saved model and write metrics.json (the run's facts kept) and MODEL_CARD.md."""
    from transformers import AutoConfig
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics.update(evaluate(folder, recipe))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(model_card(recipe, metrics, AutoConfig.from_pretrained(folder)))
    log(f"{recipe.name}: {metrics}")
    return metrics


def stage_counts(model) -> list[dict]:
    """Per stage: trainable and frozen parameters of the LLaVA model, counted from requires_grad after the
    stage's freezing is applied (stage 1 also trained two small heads that are not part of the model)."""
    out = []
    for stage in STAGES:
        apply_stage(model, stage)
        trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        out.append(dict(name=stage["name"], trains=list(stage["trains"]), trainable=trained, frozen=frozen))
    for p in model.parameters():
        p.requires_grad = True
    return out


def model_card(recipe: LlavaRecipe, m: dict, cfg) -> str:
    vc, tc = cfg.vision_config, cfg.text_config
    layers = ", ".join(f"layer {i}: {x:.0%}" for i, x in enumerate(m["grounding_by_layer"]))
    stages = "\n".join(f"| {s['name']} | {', '.join(s['trains'])} | {s['trainable']:,} | {s['frozen']:,} |"
                       for s in m["stages"])
    return f"""# {recipe.name}

A tiny LLaVA-style vision-language model (`LlavaForConditionalGeneration`: a CLIP-style vision tower,
a two-layer projector, a Llama-style decoder) that stands in for `{recipe.twin_of}` when the real one
cannot be had (offline, tests). It captions synthetic scenes of one to three shapes
("a high red circle left of a low blue square"), which is enough to see a picture become tokens and the
caption's words look at the right shapes. It is a teaching tool, nothing more.

## Data
Scenes drawn with Pillow from a seed (`explorer/zoo/scenes.py`): {scenes.IMAGE} x {scenes.IMAGE} pixels, one to three
shapes ({', '.join(scenes.SHAPES)}) in {', '.join(scenes.COLOURS)}, in distinct columns, each in one of
three rows ({', '.join(scenes.ROW_WORDS)}; column and row jittered by up to 2 pixels); the caption names them from left
to right with their rows, so it depends on where each object is, not only on which objects there are. Held out, never trained on: every scene whose caption has
crc32 mod {scenes.HELDOUT_MOD} == 0 (so a held-out scene is a combination never captioned in training).
Training reads {m['training_scenes_seen']:,} seeds in order (held-out captions skipped); the bars use
{m['heldout_scenes']} held-out scenes from seed {scenes.HELDOUT_SEED:,} up. No outside data.

## Training, in the lessons' order
1. **Vision encoder alone** ({m['vision_steps']} steps of {m['vision_batch']} scenes, AdamW, peak lr {recipe.vision_lr}):
   {STAGES[0]['what']}. Held-out patch accuracy (colour and shape both right): {m['vision_patch_accuracy']:.1%}.
2. **Encoder frozen** ({m['caption_steps']} steps of {m['caption_batch']} scenes, AdamW, peak lr {recipe.caption_lr}):
   {STAGES[1]['what']}. Loss on the caption's words and `</s>` only.

| stage | trains | trainable parameters | frozen (requires_grad False) |
|---|---|---|---|
{stages}

## Command
`OMP_NUM_THREADS=1 nice -n 10 python -m explorer.zoo.train --only {recipe.name} --threads 1` (seed {SEED};
stage 1 {m['vision_seconds']} s, stage 2 {m['caption_seconds']} s on {platform.machine()} CPU with torch
{torch.__version__}, on a machine shared with other jobs).

## Config
| part | value |
|---|---|
| vision tower | CLIP, {vc.num_hidden_layers} layers, {vc.num_attention_heads} heads, width {vc.hidden_size}, patches of {vc.patch_size} x {vc.patch_size} px ({recipe.n_patches} + 1 class token); features from its last layer, class token dropped |
| projector | Linear {vc.hidden_size} -> {tc.hidden_size}, GELU, Linear {tc.hidden_size} -> {tc.hidden_size} |
| decoder | Llama, {tc.num_hidden_layers} layers, {tc.num_attention_heads} heads, width {tc.hidden_size}, {tc.vocab_size} word-level tokens, {tc.max_position_embeddings} positions (the longest training sequence) |
| image tokens | `{IMAGE_TOKEN}` (id {cfg.image_token_index}) x {recipe.n_patches}, one per patch, after `<s>` |
| parameters | {m['parameters']:,} |
| stored as | float16 safetensors (loaded as float32) |

## Measured (held-out, recomputed by `tests/unit/test_zoo_quality.py`)
- greedy caption exact match: **{m['exact_match']:.1%}** of {m['heldout_scenes']} held-out scenes (bar: at least {BARS['exact_match']:.0%})
- colour and shape words right at their place: **{m['word_accuracy']:.1%}** (bar: at least {BARS['words']:.0%})
- grounding, in decoder **layer {m['grounding_layer']}** (chosen on {LAYER_PICK_SCENES} training scenes): for a
  correctly written colour or shape word, the image patch that the position writing it attends to most
  (mean over heads) lies on that object in **{m['grounding']:.1%}** of cases (bar: at least {BARS['grounding']:.0%};
  by layer: {layers})
- with the image's patches shuffled: exact match **{m['shuffled_exact_match']:.1%}** (bar: at most
  {BARS['shuffled_exact_match']:.0%}; a caption guessed from the grammar is right far less than 1% of the time{
  "" if m['shuffled_exact_match'] <= BARS['shuffled_exact_match'] else
  " — **missed**"}), colour and shape words {m['shuffled_word_accuracy']:.1%}
"""


RECIPES = {
    "tiny-llava": LlavaRecipe(
        "tiny-llava", "llava-hf/llava-interleave-qwen-0.5b-hf", seq_len=1 + 64 + 3 + 16 + 1,
        vision_steps=400, caption_steps=1000, vision_batch=32, caption_batch=32, vision_lr=2e-3, caption_lr=2e-3,
        vision_config=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4,
                           projection_dim=64),
        text_config=dict(hidden_size=128, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4,
                         num_key_value_heads=4, rope_theta=10000.0, tie_word_embeddings=True)),
}


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="train the bundled tiny LLaVA")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "assets" / "models"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--evaluate", action="store_true")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    recipe = RECIPES["tiny-llava"]
    if a.evaluate:
        write_evaluation(Path(a.out) / recipe.name, recipe)
        return
    train_llava(recipe, Path(a.out))


if __name__ == "__main__":
    main()
