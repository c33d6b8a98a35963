"""The bundled encoder-decoder: a tiny T5 that spells a word (or a short phrase) backwards.

Task: `refund` -> `dnufer`, `ice cream` -> `maerc eci`. The learner sees at a glance whether it
worked, and the cross-attention has a shape to recognise: each output letter looks at the input
letter it copies, so the pattern runs along the anti-diagonal.

Data: every lemma of WordNet 3.0 (`/usr/share/wordnet/index.*`, the same package and license as
the running-text corpus) made of letters, apostrophes, hyphens and spaces, 2 to 16 characters.
Held out by the word itself (a hash of the lemma), never seen in training; some training lemmas
are Title-cased or UPPER-cased so typed capitals work.

Tokenizer: T5's own class (SentencePiece-style unigram with `▁` for a space) over single characters
only, so every letter is one token. Config: `T5ForConditionalGeneration`, relative position
buckets wide enough that every offset within a 16-letter word is exact.
"""
from __future__ import annotations

import json
import platform
import random
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from explorer.zoo.corpus import WORDNET_LICENSE, find_wordnet

SEED = 0
INDEX_FILES = ("index.noun", "index.verb", "index.adj", "index.adv")
CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'-"
MAX_CHARS = 16            # longest lemma trained on (spaces included)
HELDOUT_MOD = 20          # 1 in 20 lemmas (by crc32 of the lemma) is held out
EVAL_SIZE = 600           # held-out lemmas in the quality bar (the first ones in sorted order of their hash)


@dataclass(frozen=True)
class T5Recipe:
    name: str
    twin_of: str
    seq_len: int              # longest input in tokens: MAX_CHARS characters, a leading ▁ and </s>
    steps: int
    batch: int
    lr: float
    config: dict
    warmup: int = 100
    cased_share: float = 0.2      # share of training lemmas shown Title-cased (half) or UPPER-cased (half)


def reverse_text(text: str) -> str:
    """The target: the characters in reverse order ('ice cream' -> 'maerc eci')."""
    return text[::-1]


def read_lemmas(folder: Path | None = None) -> list[str]:
    """Sorted unique WordNet lemmas (underscores as spaces) of allowed characters, 2..MAX_CHARS long."""
    folder = folder or find_wordnet()
    allowed = set(CHARS.lower()) | {" "}
    out = set()
    for name in INDEX_FILES:
        with open(folder / name, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):       # license header
                    continue
                lemma = line.split(" ", 1)[0].replace("_", " ")
                if 2 <= len(lemma) <= MAX_CHARS and set(lemma) <= allowed and lemma.strip() == lemma \
                        and "  " not in lemma:
                    out.add(lemma)
    return sorted(out)


def is_heldout(lemma: str) -> bool:
    return zlib.crc32(lemma.encode()) % HELDOUT_MOD == 0


def split_lemmas(lemmas: list[str]) -> tuple[list[str], list[str]]:
    """(train, held-out): the held-out list ordered by hash, so its head is a fixed, unbiased sample."""
    train = [w for w in lemmas if not is_heldout(w)]
    held = sorted((w for w in lemmas if is_heldout(w)), key=lambda w: (zlib.crc32(w.encode(), 1), w))
    return train, held


def eval_words(held: list[str], n: int = EVAL_SIZE) -> list[str]:
    return held[:n]


def char_tokenizer():
    """T5's tokenizer class over single characters: <pad>=0, </s>=1, <unk>=2, ▁ (space), then CHARS."""
    from transformers import T5TokenizerFast
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)] + [(c, -3.0) for c in CHARS]
    return T5TokenizerFast(vocab=vocab, extra_ids=0, model_max_length=MAX_CHARS + 2)   # its trained length


def build_model(recipe: T5Recipe, tok):
    from transformers import T5Config, T5ForConditionalGeneration
    cfg = T5Config(vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                   decoder_start_token_id=tok.pad_token_id, **recipe.config)
    cfg._attn_implementation = "eager"
    return T5ForConditionalGeneration(cfg)


def _cased(word: str, rng: random.Random, share: float) -> str:
    r = rng.random()
    if r < share / 2:
        return word.title()
    if r < share:
        return word.upper()
    return word


def _batch(tok, words: list[str]):
    enc = tok(words, padding=True, return_tensors="pt")
    lab = tok([reverse_text(w) for w in words], padding=True, return_tensors="pt")["input_ids"]
    lab[lab == tok.pad_token_id] = -100
    return enc["input_ids"], enc["attention_mask"], lab


@torch.no_grad()
def reverse_words(model, tok, words: list[str], batch: int = 200) -> list[str]:
    """Greedy outputs of the model for each input, decoded without special tokens."""
    out = []
    for i in range(0, len(words), batch):
        enc = tok(words[i: i + batch], padding=True, return_tensors="pt")
        gen = model.generate(**enc, max_new_tokens=MAX_CHARS + 4, do_sample=False, num_beams=1)
        out += tok.batch_decode(gen, skip_special_tokens=True)
    return out


def exact_match(model, tok, words: list[str]) -> float:
    got = reverse_words(model, tok, words)
    return sum(g == reverse_text(w) for g, w in zip(got, words)) / len(words)


def train_t5(recipe: T5Recipe, out: Path, steps: int | None = None, log=print) -> dict:
    """Train, save (float16 safetensors), reload, measure held-out exact match, write the card."""
    from explorer.zoo.train import lr_at
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    train, held = split_lemmas(read_lemmas())
    tok = char_tokenizer()
    model = build_model(recipe, tok)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(0.9, 0.98), weight_decay=0.01)
    steps = steps or recipe.steps
    model.train()
    t0 = time.time()
    for step in range(steps):
        words = [_cased(w, rng, recipe.cased_share) for w in rng.sample(train, recipe.batch)]
        ids, att, labels = _batch(tok, words)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, recipe.lr, recipe.warmup)
        loss = model(input_ids=ids, attention_mask=att, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            log(f"{recipe.name} step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
    train_seconds = time.time() - t0
    folder = out / recipe.name
    folder.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    metrics = evaluate_t5(folder, held)
    metrics.update(train_steps=steps, train_seconds=round(train_seconds, 1), train_lemmas=len(train),
                   heldout_lemmas=len(held), pairs_seen=steps * recipe.batch,
                   parameters=sum(p.numel() for p in model.parameters()))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(model_card(recipe, metrics, model.config))
    log(f"{recipe.name}: {metrics}")
    return metrics


def evaluate_t5(folder: Path, held: list[str] | None = None) -> dict:
    """Reload the saved model (float16 on disk -> float32) and measure held-out exact match."""
    from explorer.models.loader import load_folder
    if held is None:
        held = split_lemmas(read_lemmas())[1]
    lm = load_folder(folder)
    words = eval_words(held)
    acc = exact_match(lm.model, lm.tokenizer, words)
    cased = exact_match(lm.model, lm.tokenizer, [w.title() for w in words[:200]])
    return dict(heldout_exact_match=round(acc, 4), heldout_exact_match_titlecase=round(cased, 4),
                heldout_eval_lemmas=len(words))


def model_card(recipe: T5Recipe, metrics: dict, config) -> str:
    keys = [k for k in recipe.config]
    cfg = "\n".join(f"| {k} | {getattr(config, k, recipe.config[k])} |" for k in keys)
    command = (f"`python -m explorer.zoo.train --only {recipe.name} --threads 1` "
               f"(seed {SEED}, from scratch; {metrics['train_steps']} steps of {recipe.batch} lemmas, AdamW, peak lr "
               f"{recipe.lr}; {metrics['train_seconds']} s of training on {platform.machine()} CPU with torch "
               f"{torch.__version__}, one thread of a 2-core machine running two other training runs). "
               f"`python -m explorer.zoo.seq2seq --threads 1` calls the same `train_t5` with the same recipe and seed.")
    return f"""# {recipe.name}

A tiny `t5` encoder-decoder (`T5ForConditionalGeneration`) that stands in for `{recipe.twin_of}` when
the real one cannot be had (offline, tests). It does one task you can check at a glance: it spells
its input backwards (`refund` -> `dnufer`), one character per token, so its cross-attention shows
each output letter looking at the input letter it copies. It is a teaching tool, nothing more.

## Data
Every lemma of WordNet 3.0 (Debian package `wordnet-base`, `/usr/share/wordnet/index.*`) made of
letters, `'`, `-` and spaces, 2 to {MAX_CHARS} characters: {metrics['train_lemmas']:,} for training,
{metrics['heldout_lemmas']:,} held out by the lemma itself (crc32 of the lemma mod {HELDOUT_MOD} == 0; never
seen in training). {recipe.cased_share:.0%} of training lemmas are shown Title-cased or UPPER-cased.
{WORDNET_LICENSE}

## Command
{command}

## Config
| field | value |
|---|---|
| vocab_size | {config.vocab_size} (T5's tokenizer class over single characters: `<pad>`, `</s>`, `<unk>`, `▁`, letters, `'`, `-`) |
{cfg}
| parameters | {metrics['parameters']:,} |
| stored as | float16 safetensors (loaded as float32) |

## Measured (held-out, recomputed by `tests/unit/test_zoo_quality.py`)
- greedy exact match on {metrics['heldout_eval_lemmas']} held-out lemmas: **{metrics['heldout_exact_match']:.1%}**
  (bar: at least 50%); the first 200 of them Title-cased: {metrics['heldout_exact_match_titlecase']:.1%}
"""


def rewrite_card(recipe: T5Recipe, out: Path) -> None:
    """Rewrite MODEL_CARD.md from the saved metrics.json (no training)."""
    from transformers import AutoConfig
    folder = out / recipe.name
    metrics = json.loads((folder / "metrics.json").read_text())
    (folder / "MODEL_CARD.md").write_text(model_card(recipe, metrics, AutoConfig.from_pretrained(folder)))


T5_RECIPES = {
    "tiny-t5": T5Recipe("tiny-t5", "google-t5/t5-small", seq_len=MAX_CHARS + 2, steps=1600, batch=64, lr=3e-3, warmup=60, config=dict(
        d_model=128, d_kv=32, d_ff=256, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=64, relative_attention_max_distance=64, dropout_rate=0.0,
        feed_forward_proj="relu", tie_word_embeddings=True)),
}


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="train the bundled tiny T5")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "assets" / "models"))
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    train_t5(T5_RECIPES["tiny-t5"], Path(a.out), a.steps)


if __name__ == "__main__":
    main()
