"""Train the bundled tiny models:  python -m explorer.zoo.train [--only tiny-gpt2,...] [--out assets/models]

Seeded and reproducible on a CPU (the same seed, corpus and package versions give the same
weights up to floating-point summation order across thread counts). Each model folder gets
config.json, model.safetensors (float16, loaded back as float32), tokenizer files,
metrics.json and MODEL_CARD.md with the measured quality bar.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from explorer.zoo import corpus as corpus_mod
from explorer.zoo.data import bert_sequences, causal_stream, causal_windows, encode_lines, mask_for_mlm
from explorer.zoo.metrics import (causal_eval_windows, causal_perplexity, mlm_eval_sequences, mlm_top_k_accuracy,
                                  unigram_perplexity)
from explorer.zoo.tokenizer import BERT_SPECIALS, as_transformers, train_bpe, train_wordpiece

SEED = 0
VOCAB = 4096
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "assets" / "models"


@dataclass
class Recipe:
    name: str
    twin_of: str            # the real model this one stands in for
    tokenizer: str          # "bpe" | "wordpiece"
    seq_len: int
    batch: int
    steps: int
    lr: float
    config: dict = field(default_factory=dict)
    # start a learned absolute position table from the sinusoids of "Attention is all you need"
    # instead of noise (used for the tiny BERT). Measured on the tiny GPT-2: it did not make
    # previous-token heads form within 700 steps (max score 0.05 either way), and it would put
    # structure into GPT-2's position table by construction, which the RoPE page contrasts, so
    # the GPT-2 twin keeps the random start.
    sinusoidal_positions: bool = False
    position_std: float = 0.02  # scale of that sinusoid table (token embeddings start at std 0.02)
    mask_rate: float = 0.15   # masked LM: share of tokens chosen for prediction during training
    warmup: int = 40

    def build(self, vocab_size: int, special: dict):
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM
        cfg = AutoConfig.for_model(vocab_size=vocab_size, **special, **self.config)
        cfg._attn_implementation = "eager"
        auto = AutoModelForMaskedLM if self.tokenizer == "wordpiece" else AutoModelForCausalLM
        model = auto.from_config(cfg)
        if self.sinusoidal_positions:
            emb = _position_table(model)
            with torch.no_grad():
                emb.weight.copy_(sinusoids(*emb.weight.shape) * (self.position_std / 0.7071))
        return model


def _position_table(model):
    for name, module in model.named_modules():
        if name.endswith("wpe") or name.endswith("position_embeddings"):
            return module
    raise ValueError("model has no learned position table")


def sinusoids(n_positions: int, dim: int) -> torch.Tensor:
    """[n_positions, dim] sin/cos table of Vaswani et al. (2017), values in [-1, 1] (std ~0.7)."""
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    inv = 10000 ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * inv)
    table[:, 1::2] = torch.cos(pos * inv)
    return table


COMMON = dict(tie_word_embeddings=True)
RECIPES = {
    "tiny-gpt2": Recipe("tiny-gpt2", "gpt2", "bpe", 256, 16, 700, 2e-3, dict(
        model_type="gpt2", n_positions=512, n_embd=128, n_layer=4, n_head=4, n_inner=512,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **COMMON)),
    "tiny-bert": Recipe("tiny-bert", "bert-base-uncased", "wordpiece", 48, 96, 1000, 2e-3, dict(
        model_type="bert", hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=512, max_position_embeddings=512, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, **COMMON), sinusoidal_positions=True,
        # masked LM learns from the masked share only: 30% masking and short sequences (a gloss and
        # its examples) got past the unigram plateau where 15% x 128 tokens stayed (top-5 15%)
        mask_rate=0.3),
    "tiny-llama": Recipe("tiny-llama", "HuggingFaceTB/SmolLM2-135M", "bpe", 256, 16, 700, 2e-3, dict(
        model_type="llama", hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=352, max_position_embeddings=512,
        rope_theta=10000.0, **COMMON)),
    "tiny-mixtral": Recipe("tiny-mixtral", "mistralai/Mixtral-8x7B-v0.1", "bpe", 256, 16, 600, 2e-3, dict(
        model_type="mixtral", hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=256, num_local_experts=4, num_experts_per_tok=2,
        max_position_embeddings=512, rope_theta=10000.0, router_aux_loss_coef=0.02,
        output_router_logits=True, sliding_window=None, **COMMON)),
}


def lr_at(step: int, total: int, peak: float, warmup: int = 40) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def special_ids(tok, kind: str) -> dict:
    if kind == "bpe":
        return dict(bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    return dict(pad_token_id=tok.pad_token_id)


def train_one(recipe: Recipe, tok, train_lines: list[str], heldout_lines: list[str], out: Path,
              steps: int | None = None, log=print, init_from: Path | None = None) -> dict:
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED + (1 if init_from else 0))   # a continuation sees a new data order
    model = recipe.build(len(tok), special_ids(tok, recipe.tokenizer))
    if init_from:   # continue training from an earlier run's weights (its card names that run)
        from explorer.models.loader import load_folder
        model.load_state_dict(load_folder(init_from).model.state_dict())
    encoded = encode_lines(tok, train_lines)
    if recipe.tokenizer == "bpe":
        stream = causal_stream(encoded, tok.eos_token_id)
        data = causal_windows(stream, recipe.seq_len)
    else:
        specials = [tok.convert_tokens_to_ids(t) for t in BERT_SPECIALS]
        data = bert_sequences(encoded, recipe.seq_len, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(0.9, 0.98), weight_decay=0.01)
    steps = steps or recipe.steps
    model.train()
    t0 = time.time()
    order = torch.randperm(len(data), generator=g)
    pos = 0
    for step in range(steps):
        if pos + recipe.batch > len(order):
            order, pos = torch.randperm(len(data), generator=g), 0
        batch = data[order[pos: pos + recipe.batch]]
        pos += recipe.batch
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, recipe.lr, recipe.warmup)
        if recipe.tokenizer == "bpe":
            loss = model(input_ids=batch, labels=batch).loss
        else:
            inputs, labels = mask_for_mlm(batch, specials, tok.mask_token_id, len(tok), g, rate=recipe.mask_rate)
            loss = model(input_ids=inputs, attention_mask=(batch != tok.pad_token_id).long(), labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"{recipe.name} step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
    train_seconds = time.time() - t0

    folder = out / recipe.name
    folder.mkdir(parents=True, exist_ok=True)
    model.config.output_router_logits = False  # capture asks for router logits explicitly
    model.to(torch.float16).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    metrics = evaluate(folder, recipe, train_lines, heldout_lines)
    metrics.update(train_steps=steps, train_seconds=round(train_seconds, 1),
                   tokens_seen=steps * recipe.batch * recipe.seq_len,
                   parameters=sum(p.numel() for p in model.parameters()))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(model_card(recipe, metrics, model.config))
    log(f"{recipe.name}: {metrics}")
    return metrics


def evaluate(folder: Path, recipe: Recipe, train_lines: list[str], heldout_lines: list[str]) -> dict:
    """Reload the saved model (float16 on disk -> float32) and measure the quality bar."""
    from explorer.models.loader import load_folder
    lm = load_folder(folder)
    tok, model = lm.tokenizer, lm.model
    if recipe.tokenizer == "bpe":
        windows = causal_eval_windows(tok, heldout_lines, recipe.seq_len)
        train_stream = causal_stream(encode_lines(tok, train_lines), tok.eos_token_id)
        ppl = causal_perplexity(model, windows)
        uni = unigram_perplexity(train_stream, windows, len(tok))
        return dict(heldout_perplexity=round(ppl, 2), unigram_perplexity=round(uni, 2),
                    perplexity_ratio=round(ppl / uni, 4), heldout_tokens=int(windows[:, 1:].numel()))
    seqs = mlm_eval_sequences(tok, heldout_lines, recipe.seq_len)
    specials = [tok.convert_tokens_to_ids(t) for t in BERT_SPECIALS]
    acc5 = mlm_top_k_accuracy(model, seqs, specials, tok.mask_token_id, tok.pad_token_id, k=5)
    acc1 = mlm_top_k_accuracy(model, seqs, specials, tok.mask_token_id, tok.pad_token_id, k=1)
    return dict(mlm_top5_accuracy=round(acc5, 4), mlm_top1_accuracy=round(acc1, 4),
                heldout_sequences=len(seqs))


def model_card(recipe: Recipe, metrics: dict, config) -> str:
    keys = [k for k in recipe.config if k not in ("model_type",)]
    cfg = "\n".join(f"| {k} | {getattr(config, k, recipe.config[k])} |" for k in keys)
    command = "\n".join(f"- {c}" for c in metrics["commands"]) if metrics.get("commands") else (
        f"`python -m explorer.zoo.train --only {recipe.name} --threads 1` (seed {SEED}; {metrics['train_steps']} steps "
        f"of {recipe.batch} x {recipe.seq_len} tokens, AdamW, peak lr {recipe.lr}; {metrics['train_seconds']} s on "
        f"{platform.machine()} CPU with torch {torch.__version__}).")
    held = (f"{metrics['heldout_sequences']:,} packed sequences of up to {recipe.seq_len} tokens"
            if "heldout_sequences" in metrics else f"{metrics['heldout_tokens']:,} tokens")
    if "mlm_top5_accuracy" in metrics:
        bar = (f"- held-out masked-token top-5 accuracy: **{metrics['mlm_top5_accuracy']:.1%}** "
               f"(top-1 {metrics['mlm_top1_accuracy']:.1%}); bar: at least 35%")
    else:
        bar = (f"- held-out perplexity: **{metrics['heldout_perplexity']}** vs. a unigram model's "
               f"{metrics['unigram_perplexity']} on the same {metrics['heldout_tokens']:,} tokens "
               f"(ratio {metrics['perplexity_ratio']}; bar: at most 0.5)")
    return f"""# {recipe.name}

A tiny `{config.model_type}` model that stands in for `{recipe.twin_of}` when the real one cannot be
had (offline, tests). It is small enough to commit and trained well enough that its attention has
structure and its text is word-like. It is a teaching tool, not a language model to rely on.

## Data
WordNet 3.0 glosses and example sentences (Debian package `wordnet-base`, read from
`/usr/share/wordnet/data.*`), one line per gloss or example. Held out: every
{corpus_mod.HELDOUT_EVERY}th synset, never seen in training ({held}).
License: WordNet 3.0 license — "Permission to use, copy, modify and distribute this software and
database and its documentation for any purpose and without fee or royalty is hereby granted,
provided that you agree to comply with the following copyright notice and statements, including
the disclaimer". WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.
THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS
OR WARRANTIES, EXPRESS OR IMPLIED.

## Command
{command}

## Config
| field | value |
|---|---|
| vocab_size | {config.vocab_size} ({'lower-cased WordPiece' if recipe.tokenizer == 'wordpiece' else 'byte-level BPE'}) |
{cfg}
| parameters | {metrics['parameters']:,} |
| stored as | float16 safetensors (loaded as float32) |

## Measured (held-out, recomputed by `tests/unit/test_zoo_quality.py`)
{bar}
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(RECIPES))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--cards", action="store_true", help="only rewrite MODEL_CARD.md from metrics.json")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--lr", type=float, default=None, help="override the recipe's peak learning rate")
    ap.add_argument("--mask-rate", type=float, default=None, help="override the masked-LM training mask rate")
    ap.add_argument("--init-from", default=None, help="start from the weights in this model folder")
    ap.add_argument("--steps", type=int, default=None, help="override the recipe's step count (for quick trials)")
    a = ap.parse_args(argv)
    if a.cards:
        from transformers import AutoConfig
        for name in a.only.split(","):
            folder = Path(a.out) / name
            metrics = json.loads((folder / "metrics.json").read_text())
            (folder / "MODEL_CARD.md").write_text(model_card(RECIPES[name], metrics, AutoConfig.from_pretrained(folder)))
        return
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(SEED)
    corpus = corpus_mod.load_corpus()
    toks = {}
    for name in a.only.split(","):
        recipe = RECIPES[name]
        if a.lr or a.mask_rate:
            from dataclasses import replace
            recipe = replace(recipe, lr=a.lr or recipe.lr, mask_rate=a.mask_rate or recipe.mask_rate)
        if recipe.tokenizer not in toks:
            trained = (train_bpe if recipe.tokenizer == "bpe" else train_wordpiece)(corpus.train, VOCAB)
            toks[recipe.tokenizer] = as_transformers(trained, recipe.tokenizer, 512 if recipe.tokenizer == "bpe" else 512)
        if a.init_from:   # continue with the earlier run's tokenizer: the ids must mean the same
            from transformers import AutoTokenizer
            toks[recipe.tokenizer] = AutoTokenizer.from_pretrained(a.init_from)
        train_one(recipe, toks[recipe.tokenizer], corpus.train, corpus.heldout, Path(a.out), a.steps,
                  init_from=Path(a.init_from) if a.init_from else None)


if __name__ == "__main__":
    main()
