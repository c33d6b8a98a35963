"""The quality bar of the bundled models, recomputed by the tests in seconds.

- causal LMs: held-out perplexity vs. a unigram model fitted on the training tokens (add-one
  smoothing), scored on exactly the same held-out target tokens;
- masked LM: top-5 accuracy on held-out tokens replaced by [MASK] (15%, seeded).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from explorer.zoo.data import (bert_sequences, causal_stream, causal_windows, encode_lines, mask_for_mlm,
                              repeated_ngrams)

# the quality bars of issue 14, in one place: tests/unit/test_zoo_quality.py recomputes each from the shipped weights,
# explorer/zoo/train.py states them in the cards and checks every snapshot of a run against them (bar_checks)
BARS = dict(perplexity_ratio=0.2, new_tokens=40, repeated_4grams=0.1, previous_token=0.5, few_shot=0.6,
            mlm_top5=0.5)
# bars set for one model only (the other causal LMs: perplexity and continuations)
MODEL_BARS = {"tiny-gpt2": ("previous_token", "few_shot")}


def bar_checks(name: str, measured: dict) -> dict[str, bool]:
    """Every bar issue 14 sets for model `name`, checked on its measurements (train.measure's keys):
    {bar: passes}. A masked LM: held-out top-5; a causal LM: perplexity ratio to unigram, and per continuation
    (prompt | decoding) the new tokens before end-of-text and the repeated 4-gram share; the tiny GPT-2 also its best
    previous-token head and few-shot accuracy."""
    if "mlm_top5_accuracy" in measured:
        return {"mlm_top5": measured["mlm_top5_accuracy"] >= BARS["mlm_top5"]}
    checks = {"perplexity_ratio": measured["perplexity_ratio"] <= BARS["perplexity_ratio"]}
    for key, run in measured["continuations"].items():
        checks[f"new_tokens | {key}"] = run["new_tokens"] >= BARS["new_tokens"]
        checks[f"repeated_4grams | {key}"] = run["repeated_4grams"] < BARS["repeated_4grams"]
    extra = MODEL_BARS.get(name, ())
    if "previous_token" in extra:
        checks["previous_token"] = measured["previous_token_max"] >= BARS["previous_token"]
    if "few_shot" in extra:
        checks["few_shot"] = measured["few_shot_accuracy"] >= BARS["few_shot"]
    return checks


@torch.no_grad()
def causal_perplexity(model, windows: torch.Tensor, batch: int = 16) -> float:
    """exp(mean next-token NLL) over every target position of every window."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        ids = windows[i: i + batch]
        logits = model(input_ids=ids).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                                reduction="sum")
        total += nll.item()
        count += ids[:, 1:].numel()
    return math.exp(total / count)


def unigram_perplexity(train_stream: np.ndarray, windows: torch.Tensor, vocab_size: int) -> float:
    """Perplexity of an add-one unigram model on the same targets `causal_perplexity` scores."""
    counts = np.bincount(train_stream, minlength=vocab_size).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    targets = windows[:, 1:].reshape(-1).numpy()
    return float(math.exp(-logp[targets].mean()))


@torch.no_grad()
def mlm_top_k_accuracy(model, sequences: torch.Tensor, special_ids: list[int], mask_id: int, pad_id: int,
                       k: int = 5, seed: int = 0, batch: int = 32) -> float:
    model.eval()
    g = torch.Generator().manual_seed(seed)
    hits, count = 0, 0
    for i in range(0, len(sequences), batch):
        ids = sequences[i: i + batch]
        inputs, labels = mask_for_mlm(ids, special_ids, mask_id, model.config.vocab_size, g, replace_only=True)
        logits = model(input_ids=inputs, attention_mask=(ids != pad_id).long()).logits
        sel = labels != -100
        top = logits[sel].topk(k, dim=-1).indices
        hits += (top == labels[sel].unsqueeze(-1)).any(-1).sum().item()
        count += int(sel.sum())
    return hits / max(count, 1)


def causal_eval_windows(tokenizer, lines: list[str], seq_len: int) -> torch.Tensor:
    return causal_windows(causal_stream(encode_lines(tokenizer, lines), tokenizer.eos_token_id), seq_len)


def mlm_eval_sequences(tokenizer, lines: list[str], seq_len: int) -> torch.Tensor:
    return bert_sequences(encode_lines(tokenizer, lines), seq_len, tokenizer.cls_token_id,
                          tokenizer.sep_token_id, tokenizer.pad_token_id)


# ---------------------------------------------------------------- what a learner sees on the Generation page
PROMPTS = ("Where is my order?", "a small animal that")      # the lessons' prompts
SAMPLED = dict(temperature=0.8, top_p=0.9, seed=0)            # the sampled setting of the quality bar
RUN_TOKENS = 64                                               # new tokens asked for per run
GREEDY_PREFIX = 8                                             # held-out documents' first tokens continued greedily


def repeated_ngram_share(ids: list[int], n: int = 4) -> float:
    """Share of the n-grams of `ids` that already occurred earlier in `ids` (0 = no loop at all)."""
    again = repeated_ngrams(ids, n)
    return sum(again) / len(again) if again else 0.0


def until_eos(ids: list[int], eos_id: int) -> list[int]:
    """`ids` up to (not including) the first end-of-text."""
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


@torch.no_grad()
def greedy_continue(model, prefixes: torch.Tensor, new: int, eos_id: int, suppress_eos: bool = False) -> torch.Tensor:
    """model.generate's greedy continuation of every row of `prefixes` [rows, k] (rows of one length, no padding) by
    `new` tokens, a row that ends padded with end-of-text (with suppress_eos: end-of-text never written, every row
    `new` tokens long); the model left in the mode it was in.  [rows, k + new]"""
    was_training = model.training
    model.eval()
    extra = dict(suppress_tokens=[eos_id], min_new_tokens=new) if suppress_eos else {}
    out = model.generate(prefixes, attention_mask=torch.ones_like(prefixes), max_new_tokens=new, do_sample=False,
                         eos_token_id=eos_id, pad_token_id=eos_id, **extra)
    model.train(was_training)
    return out


def continuation(lm, prompt: str, greedy: bool, max_new: int = RUN_TOKENS) -> dict:
    """One run of the app's decoder (explorer.generation): new tokens before end-of-text and 4-gram loops."""
    from explorer.generation import Generation, Sampling
    tokenizer = lm.tokenizer
    sampling = Sampling(greedy=True) if greedy else Sampling(**SAMPLED)
    run = Generation(lm, tokenizer(prompt)["input_ids"], sampling, max_new)
    run.run(lm, max_new)
    before = until_eos(run.branch.generated, tokenizer.eos_token_id)
    return dict(new_tokens=len(before), ended=run.done() == "end-of-text",
                repeated_4grams=round(repeated_ngram_share(before), 4), text=tokenizer.decode(before))


def greedy_heldout_repeats(model, tokenizer, docs: list[str], prefix: int = GREEDY_PREFIX,
                           new: int = RUN_TOKENS) -> tuple[float, int]:
    """How much greedy decoding loops beyond the lessons' two prompts: the mean repeated-4-gram share of greedy
    continuations (`new` tokens, cut at end-of-text) of the first `prefix` tokens of each of `docs` (held-out
    documents; shorter ones skipped), all in one batch. Returns (that mean, the documents continued)."""
    starts = torch.tensor([ids[:prefix] for ids in encode_lines(tokenizer, docs) if len(ids) >= prefix])
    out = greedy_continue(model, starts, new, tokenizer.eos_token_id)[:, prefix:].tolist()
    shares = [repeated_ngram_share(until_eos(row, tokenizer.eos_token_id)) for row in out]
    return float(np.mean(shares)), len(shares)


def continuations(lm) -> dict:
    """{'<prompt> | greedy': continuation(...), '<prompt> | sampled': ...} for the lessons' prompts."""
    return {f"{p} | {'greedy' if g else 'sampled'}": continuation(lm, p, g)
            for p in PROMPTS for g in (True, False)}


@torch.no_grad()
def previous_token_scores(model, tokenizer, text: str, n_tokens: int) -> np.ndarray:
    """previous_token_score of every head [layer, head] on the first n_tokens of `text`."""
    from explorer.attention import previous_token_score
    ids = tokenizer(text, return_tensors="pt")["input_ids"][:, :n_tokens]
    was_training = model.training
    model.eval()
    attn = torch.stack(model(input_ids=ids, output_attentions=True).attentions)[:, 0].float().numpy()
    model.train(was_training)
    return previous_token_score(attn)


# ---------------------------------------------------------------- few-shot labels (the lessons' support tickets)
def few_shot_lesson_accuracy(model, tokenizer, items) -> float:
    """Accuracy with the lessons' three examples as shots, scored as the Families page scores
    (explorer.families.few_shot_accuracy: label log-probability after `Label:`), averaged over all six
    orders of the three examples. items: [(message, label)] held-out synthetic tickets."""
    from explorer import families
    test = [families.Example(m, lab) for m, lab in items]
    report = families.few_shot_accuracy(model, tokenizer, families.LESSON_EXAMPLES, test, shots=(3,))
    return report.mean_accuracy(3)
