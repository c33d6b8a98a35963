"""The three families of language models side by side: who sees whom, what each is trained to
predict, and in-context (few-shot) classification measured on a real decoder.

Masks are visibility matrices `[query, key]` of 0/1: row i says which tokens position i may attend
to. An encoder (the analyst, BERT) sees every token; a decoder (the author, GPT-2) sees only tokens
at or before its own position; an encoder-decoder (the translator, T5) has both — a bidirectional
encoder, a causal decoder — and a cross-attention in which every output position sees every input
token.

Few-shot classification (the lessons' support-ticket example) asks a decoder which label comes next:

    Classify each customer message as Refund, Shipping or Account.

    Message: I never received my package.
    Label: Shipping

    Message: <the message to classify>
    Label:

and compares log P(" Refund" | prompt), log P(" Shipping" | prompt), log P(" Account" | prompt).
A label the tokenizer splits into several tokens is scored by the product of its tokens'
conditional probabilities (the probability that the next tokens spell it); for a one-token label
that is exactly the next-token probability. `few_shot_accuracy` runs every number of shots and
every order of the examples over a held-out set.
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from explorer import hf, runtime

# ------------------------------------------------------------------ masks
FAMILIES = ("encoder", "decoder", "encoder-decoder")
FAMILY_ROLES = {"encoder": "the analyst", "decoder": "the author", "encoder-decoder": "the translator"}

# the lesson's example sentence and its tokens
LESSON_TOKENS = ("<bos>", "refund", "approved", "<eos>")


def bidirectional_mask(n: int) -> np.ndarray:
    """[n, n] all ones: every token sees every token (encoder self-attention)."""
    return np.ones((n, n), dtype=np.int8)


def causal_mask(n: int) -> np.ndarray:
    """[n, n] lower triangle: token i sees tokens 0..i, never a later one (decoder self-attention)."""
    return np.tril(np.ones((n, n), dtype=np.int8))


def cross_mask(n_out: int, n_in: int) -> np.ndarray:
    """[n_out, n_in] all ones: every output position sees the whole input (decoder -> encoder)."""
    return np.ones((n_out, n_in), dtype=np.int8)


@dataclass
class MaskPanel:
    """One attention's visibility: rows are queries, columns keys."""
    name: str                  # "encoder self-attention", ...
    kind: str                  # "bidirectional" | "causal" | "cross"
    queries: list[str]
    keys: list[str]
    mask: np.ndarray           # int8 [query, key]

    @property
    def visible_share(self) -> float:
        return float(self.mask.mean()) if self.mask.size else 0.0


def family_masks(family: str, tokens: Sequence[str], out_tokens: Sequence[str] | None = None) -> list[MaskPanel]:
    """The masks of one family for given tokens.

    encoder -> [bidirectional]; decoder -> [causal]; encoder-decoder -> [encoder bidirectional over
    `tokens`, decoder causal over `out_tokens`, cross from `out_tokens` to `tokens`].
    """
    tokens = list(tokens)
    n = len(tokens)
    if family == "encoder":
        return [MaskPanel("encoder self-attention", "bidirectional", tokens, tokens, bidirectional_mask(n))]
    if family == "decoder":
        return [MaskPanel("decoder self-attention", "causal", tokens, tokens, causal_mask(n))]
    if family == "encoder-decoder":
        out = list(out_tokens if out_tokens is not None else tokens)
        m = len(out)
        return [MaskPanel("encoder self-attention", "bidirectional", tokens, tokens, bidirectional_mask(n)),
                MaskPanel("decoder self-attention", "causal", out, out, causal_mask(m)),
                MaskPanel("cross-attention (decoder -> encoder)", "cross", out, tokens, cross_mask(m, n))]
    raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")


def mass_outside(attn: np.ndarray, mask: np.ndarray) -> float:
    """Largest share of any attention row that falls where the mask says 0 (0.0 for a model that obeys it).

    attn: [..., query, key] rows summing to 1; mask: [query, key].
    """
    a = np.asarray(attn, dtype=np.float64)
    hidden = (np.asarray(mask) == 0)
    if not hidden.any():
        return 0.0
    return float((a * hidden).sum(-1).max())


# ------------------------------------------------------------------ few-shot classification
@dataclass(frozen=True)
class Example:
    text: str
    label: str


LABELS = ("Refund", "Shipping", "Account")

# the lessons' three examples, in the lessons' order
LESSON_EXAMPLES = (
    Example("I never received my package.", "Shipping"),
    Example("I want my money back.", "Refund"),
    Example("I forgot my password.", "Account"),
)

# held out: never used as a shot; four per label
HELDOUT_TICKETS = (
    Example("Please refund the charge for my cancelled order.", "Refund"),
    Example("The blender arrived broken and I would like a full refund.", "Refund"),
    Example("You charged me twice, please return the extra payment.", "Refund"),
    Example("How long until the money for my return shows up on my card?", "Refund"),
    Example("Where is my order? The tracking number has not changed in a week.", "Shipping"),
    Example("The courier left my parcel at the wrong address.", "Shipping"),
    Example("Can you deliver to a different address?", "Shipping"),
    Example("My package says delivered but it is not here.", "Shipping"),
    Example("I can't log in to my account.", "Account"),
    Example("How do I change the email address on my profile?", "Account"),
    Example("Please delete my account and all my data.", "Account"),
    Example("The password reset link in your email does not work.", "Account"),
)

INSTRUCTION = "Classify each customer message as {labels}."


def _label_list(labels: Sequence[str]) -> str:
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def prompt_parts(message: str, shots: Sequence[Example] = (), labels: Sequence[str] = LABELS,
                 instruction: bool = True) -> tuple[str, str]:
    """(prefix, query): the instruction and the shots, then `Message: ...\nLabel:`.

    The model reads the token ids of each part one after the other (tokenized separately, so the
    shared prefix is computed once for every test message); the label is scored as ' <label>'.
    """
    parts = [INSTRUCTION.format(labels=_label_list(labels)) + "\n\n"] if instruction else []
    parts += [f"Message: {ex.text}\nLabel: {ex.label}\n\n" for ex in shots]
    return "".join(parts), f"Message: {message}\nLabel:"


def build_prompt(message: str, shots: Sequence[Example] = (), labels: Sequence[str] = LABELS,
                 instruction: bool = True) -> str:
    """The whole prompt as text, ending in `Label:`."""
    return "".join(prompt_parts(message, shots, labels, instruction))


def prompt_ids(tokenizer, prefix: str, query: str) -> list[int]:
    """The ids the model reads: each part tokenized on its own, then joined."""
    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    return ids + tokenizer(query, add_special_tokens=False)["input_ids"]


class PromptTooLong(ValueError):
    """The prompt and a label do not fit in the model's positions."""


@dataclass
class LabelScores:
    """A decoder's verdict on one prompt."""
    labels: tuple[str, ...]
    logprobs: np.ndarray        # float64 [label]: log P(' label' | prompt), summed over the label's tokens
    first_token_probs: np.ndarray  # float64 [label]: next-token probability of each label's first token
    n_label_tokens: tuple[int, ...]  # tokens per label

    @property
    def probs(self) -> np.ndarray:
        """[label] P(label | prompt) renormalised over the candidate labels (sums to 1)."""
        z = self.logprobs - self.logprobs.max()
        e = np.exp(z)
        return e / e.sum()

    @property
    def predicted(self) -> str:
        return self.labels[int(np.argmax(self.logprobs))]

    def table(self) -> dict[str, list | np.ndarray]:
        """The numbers behind the label-probability figure."""
        return {"label": list(self.labels), "probability_among_labels": self.probs, "log_probability": self.logprobs,
                "first_token_probability": self.first_token_probs, "label_tokens": list(self.n_label_tokens)}

    def note(self) -> str:
        """How each label is scored, with the next-token probability of each label's first token."""
        return ("Each label is scored as the text that follows `Label:` (with its leading space); labels the tokenizer "
                "splits into several tokens are scored by the product of their tokens' probabilities. Next-token "
                "probability of each label's first token: " +
                ", ".join(f"{lab} {p:.2%}" for lab, p in zip(self.labels, self.first_token_probs)) + ".")


def _model_limit(model) -> int:
    cfg = model.config
    return int(getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None) or 1024)


@runtime.queued
@torch.no_grad()
def score_queries(model, tokenizer, prefix: str, queries: Sequence[str],
                  labels: Sequence[str] = LABELS) -> list[LabelScores]:
    """log P(' label' | prefix + query) for every query and label, sharing the prefix's work.

    The prefix (instruction and shots) is read once; its keys and values are repeated for every
    query (left-padded in one batch, positions continuing after the prefix), then for every
    label; the label's tokens are read after the query. The log-probability of a label is the
    sum over its tokens t of log_softmax(logits)[t - 1, id_t] — exactly what one unbatched pass
    over `prompt_ids(prefix, query) + label ids` gives (tests/unit/test_families.py pins it).
    """
    labels = tuple(labels)
    if not queries:
        return []
    label_ids = [tokenizer(" " + lab, add_special_tokens=False)["input_ids"] for lab in labels]
    if any(not ids for ids in label_ids):
        raise ValueError("a label has no tokens")
    pre = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    q_ids = [tokenizer(q, add_special_tokens=False)["input_ids"] for q in queries]
    if any(not q for q in q_ids):
        raise ValueError("a message has no tokens")
    limit = _model_limit(model)
    longest = len(pre) + max(map(len, q_ids)) + max(map(len, label_ids))
    if longest > limit:
        raise PromptTooLong(f"The prompt is {longest} tokens with its longest label, over this model's "
                            f"{limit} positions: use fewer or shorter examples.")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    device = next(model.parameters()).device
    P, M, L = len(pre), len(q_ids), len(labels)
    cache = None
    if P:
        cache = hf.output_cache(model(input_ids=torch.tensor([pre], device=device), use_cache=True))
        cache.batch_repeat_interleave(M)
    # the queries, left-padded so that every row's last column is its `Label:` colon
    W = max(map(len, q_ids))
    ids = torch.full((M, W), pad, dtype=torch.long)
    q_mask = torch.zeros((M, W), dtype=torch.long)
    for i, q in enumerate(q_ids):
        ids[i, W - len(q):] = torch.tensor(q)
        q_mask[i, W - len(q):] = 1
    pos = P + (q_mask.cumsum(-1) - 1).clamp(min=0)
    att = torch.cat([torch.ones((M, P), dtype=torch.long), q_mask], 1)
    out = model(input_ids=ids.to(device), attention_mask=att.to(device), position_ids=pos.to(device),
                **hf.cache_argument(cache), use_cache=True)
    first = torch.log_softmax(out.logits[:, -1].float(), -1).double().cpu()           # [M, vocab]
    logprobs = np.zeros((M, L))
    first_p = np.zeros((M, L))
    for l_i, lab in enumerate(label_ids):
        logprobs[:, l_i] = first[:, lab[0]].numpy()
        first_p[:, l_i] = np.exp(first[:, lab[0]].numpy())
    rest = max(map(len, label_ids)) - 1
    if rest > 0:   # the label's later tokens, after its first: one more batched pass, rows m * L + l
        cache = hf.output_cache(out)
        cache.batch_repeat_interleave(L)
        lab_in = torch.full((M * L, rest), pad, dtype=torch.long)
        lab_mask = torch.zeros((M * L, rest), dtype=torch.long)
        for l_i, lab in enumerate(label_ids):
            if len(lab) > 1:
                lab_in[l_i::L, : len(lab) - 1] = torch.tensor(lab[:-1])
                lab_mask[l_i::L, : len(lab) - 1] = 1
        q_len = torch.tensor([len(q) for q in q_ids]).repeat_interleave(L)
        pos2 = P + q_len[:, None] + torch.arange(rest)[None, :]
        att2 = torch.cat([att.repeat_interleave(L, 0), lab_mask], 1)
        out2 = model(input_ids=lab_in.to(device), attention_mask=att2.to(device), position_ids=pos2.to(device),
                     **hf.cache_argument(cache), use_cache=True)
        logp2 = torch.log_softmax(out2.logits.float(), -1).double().cpu()            # [M*L, rest, vocab]
        for l_i, lab in enumerate(label_ids):
            for j, t in enumerate(lab[1:]):
                logprobs[:, l_i] += logp2[l_i::L, j, t].numpy()
    n_tok = tuple(len(ids) for ids in label_ids)
    return [LabelScores(labels, logprobs[i], first_p[i], n_tok) for i in range(M)]


def classify(model, tokenizer, message: str, shots: Sequence[Example] = (), labels: Sequence[str] = LABELS,
             instruction: bool = True) -> LabelScores:
    """Per-label probabilities for one message after `shots` examples."""
    prefix, query = prompt_parts(message, shots, labels, instruction)
    return score_queries(model, tokenizer, prefix, [query], labels)[0]


@dataclass
class FewShotRun:
    """One number of shots in one order, evaluated on the whole test set."""
    k: int
    order: tuple[int, ...]          # indices into the examples, in prompt order
    shots: tuple[Example, ...]
    predictions: tuple[str, ...]    # [test message]
    gold: tuple[str, ...]
    scores: list[LabelScores] = field(repr=False, default_factory=list)

    @property
    def correct(self) -> int:
        return sum(p == g for p, g in zip(self.predictions, self.gold))

    @property
    def accuracy(self) -> float:
        return self.correct / len(self.gold) if self.gold else 0.0

    @property
    def order_label(self) -> str:
        """'none' for zero-shot, else the shots' labels in order: 'Shipping, Refund'."""
        return "none" if not self.shots else ", ".join(ex.label for ex in self.shots)


@dataclass
class FewShotReport:
    labels: tuple[str, ...]
    examples: tuple[Example, ...]
    test: tuple[Example, ...]
    runs: list[FewShotRun]
    sampled_orders: dict[int, int]   # k -> how many orders exist, where only a sample was run

    @property
    def chance(self) -> float:
        return 1.0 / len(self.labels)

    @property
    def shots(self) -> list[int]:
        return sorted({r.k for r in self.runs})

    def runs_for(self, k: int) -> list[FewShotRun]:
        return [r for r in self.runs if r.k == k]

    def mean_accuracy(self, k: int) -> float:
        runs = self.runs_for(k)
        return float(np.mean([r.accuracy for r in runs])) if runs else float("nan")

    def accuracy_by_shots(self) -> dict[int, float]:
        """k -> accuracy averaged over every order of k examples."""
        return {k: self.mean_accuracy(k) for k in self.shots}

    @property
    def best(self) -> FewShotRun:
        return max(self.runs, key=lambda r: (r.accuracy, -r.k))

    def summary(self) -> list[dict]:
        """One row per number of shots: orders run, mean, worst–best, how many beat guessing."""
        rows = []
        for k in self.shots:
            runs = self.runs_for(k)
            acc = [r.accuracy for r in runs]
            rows.append({"shots": k, "orders": len(runs), "mean": f"{self.mean_accuracy(k):.0%}",
                         "worst–best": f"{min(acc):.0%}–{max(acc):.0%}",
                         "> guessing": f"{sum(self.above_chance(r) for r in runs)} of {len(runs)}"})
        return rows

    def by_shots(self) -> tuple[list[int], list[list[float]], list[list[str]]]:
        """(shots [n_k], accuracies[i], order labels[i]): every order's score for each number of shots."""
        ks = self.shots
        return (ks, [[r.accuracy for r in self.runs_for(k)] for k in ks],
                [[r.order_label for r in self.runs_for(k)] for k in ks])

    def table(self) -> dict[str, list]:
        """The numbers behind the accuracy figure: one row per run (shots, order, correct, total, accuracy)."""
        return {"shots": [r.k for r in self.runs], "order": [r.order_label for r in self.runs],
                "correct": [r.correct for r in self.runs], "total": [len(r.gold) for r in self.runs],
                "accuracy": [r.accuracy for r in self.runs]}

    def notes(self) -> list[str]:
        """Lines under the summary: which orders were sampled, and what "> guessing" means."""
        return ([f"{k} shots: {len(self.runs_for(k))} of the {total:,} orders, chosen at random (seeded)."
                 for k, total in self.sampled_orders.items()] +
                [f"Guessing: {self.chance:.0%}. \"> guessing\": orders whose score a one-sided binomial test at 5% on "
                 f"{len(self.test)} messages puts above guessing."])

    def per_order(self) -> list[dict]:
        """One row per run: the shots, their order, the score and every answer."""
        return [{"shots": r.k, "order of the examples": r.order_label, "correct": f"{r.correct}/{len(r.gold)}",
                 "answers": ", ".join(r.predictions)} for r in self.runs]

    def above_chance(self, run: FewShotRun, alpha: float = 0.05) -> bool:
        """True when `run`'s correct count is unlikely under guessing (one-sided binomial test)."""
        return binomial_tail(run.correct, len(run.gold), self.chance) < alpha

    def constant_label(self, run: FewShotRun) -> str | None:
        """The one label a run answers for every message, if it does (a sign it ignores the message)."""
        return run.predictions[0] if run.predictions and len(set(run.predictions)) == 1 else None

    def verdict(self) -> str:
        """One plain sentence: does this model classify better than guessing?"""
        n = len(self.test)
        best = self.best
        if not any(self.above_chance(r) for r in self.runs):
            p = binomial_tail(best.correct, n, self.chance)
            constant = {self.constant_label(r) for r in self.runs}
            same = (f" It answers {constant.pop()} to every message, whatever the examples." if len(constant) == 1
                    and None not in constant else "")
            return (f"At chance: no number of shots and no order beats guessing ({self.chance:.0%} with "
                    f"{len(self.labels)} labels). The best setting got {best.correct}/{n} right ({_shots(best.k)}); "
                    f"guessing does at least that well {p:.0%} of the time.{same} This model is too small to learn "
                    f"the task from examples in its prompt.")
        good = [k for k in self.shots if all(self.above_chance(r) for r in self.runs_for(k))]
        spread = {k: (min(r.accuracy for r in self.runs_for(k)), max(r.accuracy for r in self.runs_for(k)))
                  for k in self.shots}
        k_best = max(self.shots, key=self.mean_accuracy)
        lo, hi = spread[k_best]
        order = f" (orders range {lo:.0%}–{hi:.0%})" if hi > lo else ""
        steady = (f" Every order beats chance with {', '.join(map(str, good))} shot(s) in the prompt." if good else
                  " No number of shots beats chance in every order: the order of the examples matters.")
        return (f"Above chance: {self.mean_accuracy(k_best):.0%} on average with {_shots(k_best)}{order}, "
                f"vs {self.chance:.0%} by guessing.{steady}")


def _shots(k: int) -> str:
    return f"{k} shot" if k == 1 else f"{k} shots"


def binomial_tail(correct: int, n: int, p: float) -> float:
    """P(X >= correct) for X ~ Binomial(n, p)."""
    return float(sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(correct, n + 1)))


def shot_orders(n_examples: int, k: int, max_orders: int | None = None, seed: int = 0) -> tuple[list[tuple[int, ...]], int]:
    """Every ordered choice of k of the examples (k-permutations), or a seeded sample of at most
    `max_orders` of them. Returns (orders, how many exist)."""
    total = math.perm(n_examples, k) if 0 <= k <= n_examples else 0
    if max_orders is None or total <= max_orders:
        return list(itertools.permutations(range(n_examples), k)), total
    rng = random.Random(seed * 1000 + k)
    chosen: set[tuple[int, ...]] = set()
    while len(chosen) < max_orders:
        chosen.add(tuple(rng.sample(range(n_examples), k)))
    return sorted(chosen), total


def few_shot_accuracy(model, tokenizer, examples: Sequence[Example] = LESSON_EXAMPLES,
                      test: Sequence[Example] = HELDOUT_TICKETS, labels: Sequence[str] = LABELS,
                      shots: Sequence[int] = (0, 1, 2, 3), max_orders: int | None = 24,
                      instruction: bool = True) -> FewShotReport:
    """Few-shot classification accuracy of a causal LM, for every number of shots and every order.

    For each k in `shots` and each ordered choice of k of `examples` (all k-permutations; a seeded
    sample of `max_orders` when there are more), every message of `test` is put after those shots
    (see `build_prompt`) and classified as the label with the highest log P(' label' | prompt).

    model:      a transformers causal LM (e.g. GPT2LMHeadModel) in eval mode
    tokenizer:  its tokenizer
    examples:   labelled examples the shots are drawn from (default: the lessons' three)
    test:       labelled messages to classify (default: the dozen held-out tickets)
    labels:     candidate labels (default: Refund, Shipping, Account)
    Returns a FewShotReport: `.accuracy_by_shots()` -> {k: mean accuracy over orders},
    `.runs` (one per k and order), `.chance`, `.verdict()`.

        >>> report = few_shot_accuracy(lm.model, lm.tokenizer)
        >>> report.accuracy_by_shots()        # {0: ..., 1: ..., 2: ..., 3: ...}, each in [0, 1]
        >>> report.verdict()                  # one sentence: above chance or not
    """
    labels = tuple(labels)
    examples, test = tuple(examples), tuple(test)
    if not test:
        raise ValueError("there are no test messages to classify")
    unknown = sorted({ex.label for ex in examples + test} - set(labels))
    if unknown:
        raise ValueError(f"labels not among the candidates {labels}: {unknown}")
    runs, sampled = [], {}
    gold = tuple(ex.label for ex in test)
    for k in shots:
        if k > len(examples):
            continue
        orders, total = shot_orders(len(examples), k, max_orders)
        if len(orders) < total:
            sampled[k] = total
        for order in orders:
            chosen = tuple(examples[i] for i in order)
            prefix = prompt_parts("", chosen, labels, instruction)[0]
            scores = score_queries(model, tokenizer, prefix, [prompt_parts(ex.text, (), labels, False)[1]
                                                              for ex in test], labels)
            runs.append(FewShotRun(k, tuple(order), chosen, tuple(s.predicted for s in scores), gold, scores))
    return FewShotReport(labels, examples, test, runs, sampled)


# ------------------------------------------------------------------ the labelled set as text (for links)
MAX_SHOTS_IN_SET = 6
MAX_TEST_IN_SET = 24
MAX_MESSAGE_CHARS = 200
ROLES = {"S": "example (shot)", "T": "test"}


def format_set(shots: Sequence[Example], test: Sequence[Example]) -> str:
    """One line per message, `S|Label|text` for an example used as a shot, `T|Label|text` for a test message."""
    return "\n".join([f"S|{ex.label}|{ex.text}" for ex in shots] + [f"T|{ex.label}|{ex.text}" for ex in test])


def parse_set(text: str, labels: Sequence[str] = LABELS) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """The inverse of `format_set`; raises ValueError with a short reason for anything else."""
    shots, test = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("|", 2)
        if len(parts) != 3 or parts[0] not in ROLES:
            raise ValueError(f"line {n} is not `S|Label|text` or `T|Label|text`")
        role, label, message = parts[0], parts[1].strip(), " ".join(parts[2].split())
        if label not in labels:
            raise ValueError(f"line {n}: label is not one of {', '.join(labels)}")
        if not message or len(message) > MAX_MESSAGE_CHARS:
            raise ValueError(f"line {n}: a message has 1 to {MAX_MESSAGE_CHARS} characters")
        (shots if role == "S" else test).append(Example(message, label))
    if len(shots) > MAX_SHOTS_IN_SET or len(test) > MAX_TEST_IN_SET:
        raise ValueError(f"at most {MAX_SHOTS_IN_SET} examples and {MAX_TEST_IN_SET} test messages")
    if not test:
        raise ValueError("no test messages")
    return tuple(shots), tuple(test)


DEFAULT_SET = format_set(LESSON_EXAMPLES, HELDOUT_TICKETS)


def set_table(text: str) -> list[dict]:
    """The labelled set as table rows ({"use as", "label", "message"}), examples first."""
    shots, test = parse_set(text)
    return ([{"use as": "example", "label": e.label, "message": e.text} for e in shots] +
            [{"use as": "test", "label": e.label, "message": e.text} for e in test])


def set_from_table(rows: Sequence[dict], edits: dict) -> tuple[str | None, list[str]]:
    """Fold a table editor's report (edited, deleted and added rows) into the set's text. Rows without a
    message or a known label (or with a `|`, the text format's separator) are left out, the set is cut to
    its limits; returns (text or None when no test message would remain, the notes to show)."""
    rows = [dict(r) for r in rows]
    for i, change in (edits.get("edited_rows") or {}).items():
        if 0 <= int(i) < len(rows):
            rows[int(i)].update({k: v for k, v in change.items() if v is not None})
    for i in sorted((int(i) for i in edits.get("deleted_rows") or []), reverse=True):
        if 0 <= i < len(rows):
            rows.pop(i)
    rows += [dict(r) for r in edits.get("added_rows") or []]
    from explorer.text import clean
    shots, test, dropped, notes = [], [], 0, []
    for r in rows:
        msg = " ".join(clean(str(r.get("message") or "")).text.split())[:MAX_MESSAGE_CHARS]
        if not msg or r.get("label") not in LABELS or "|" in msg:
            dropped += 1
            continue
        (shots if r.get("use as") == "example" else test).append(Example(msg, r["label"]))
    if len(shots) > MAX_SHOTS_IN_SET or len(test) > MAX_TEST_IN_SET:
        notes.append(f"Kept the first {MAX_SHOTS_IN_SET} examples and {MAX_TEST_IN_SET} test messages.")
        shots, test = shots[:MAX_SHOTS_IN_SET], test[:MAX_TEST_IN_SET]
    if dropped:
        notes.append(f"Left out {dropped} row(s) without a message or label (or with a `|` in the message).")
    if not test:
        return None, notes + ["Kept the previous set: at least one test message is needed."]
    return format_set(shots, test), notes


# ------------------------------------------------------------------ encoder-decoder, live
def task_note(model_id: str) -> str:
    """What the chosen encoder-decoder was trained to do, in one line."""
    if model_id == "tiny-t5":
        return ("The bundled tiny T5 was trained on one task: spell the input backwards (WordNet words and phrases "
                "of up to 16 letters; other characters become `<unk>`).")
    return ("T5 small was trained with task prefixes, e.g. `translate English to German: The refund was approved.` "
            "or `summarize: …`.")


def expected_output(model_id: str, text: str) -> str | None:
    """What the bundled tiny T5 should answer (its task is known); None for other models."""
    if model_id != "tiny-t5":
        return None
    from explorer.zoo.seq2seq import reverse_text
    return reverse_text(" ".join(text.split()))


@dataclass
class Seq2SeqStep:
    """One generated token and the candidates the decoder weighed for it."""
    step: int
    token_id: int
    token: str
    ids: np.ndarray            # int64 [k], most likely first
    tokens: list[str]
    probs: np.ndarray          # float32 [k]


@dataclass
class Seq2SeqRun:
    """Input -> output of an encoder-decoder, with every attention of the final sequence.

    Decoder position t reads `dec_tokens[t]` (the start token, then the outputs so far) and
    predicts `out_tokens[t]`. Attention patterns are float16:
      encoder [layer, head, src, src], decoder [layer, head, out, out], cross [layer, head, out, src].
    """
    src_ids: list[int]
    src_tokens: list[str]
    out_ids: list[int]
    out_tokens: list[str]
    dec_tokens: list[str]
    encoder: np.ndarray
    decoder: np.ndarray
    cross: np.ndarray
    steps: list[Seq2SeqStep]
    text: str                  # the output, decoded without special tokens
    finished: bool             # ended with the end-of-sequence token (not the length limit)
    truncated: bool
    total_tokens: int
    eos_id: int | None = None

    @property
    def n_layers(self) -> int:
        return self.cross.shape[0]

    def written(self, step: int) -> str:
        """The output after the first `step` generated tokens, as text (the end token left out)."""
        return "".join(t.token for t in self.steps[:step] if t.token_id != self.eos_id).replace("␣", " ").strip()

    @property
    def n_heads(self) -> int:
        return self.cross.shape[1]


def seq2seq_part(run: Seq2SeqRun, part: str) -> tuple["MaskPanel", np.ndarray, list[str], str, str]:
    """One of an encoder-decoder's three attentions ("enc", "dec", "cross") beside its mask:
    (mask panel, attention [layer, head, q, k], row labels, query axis title, key axis title)."""
    panels = {p.kind: p for p in family_masks("encoder-decoder", run.src_tokens, run.dec_tokens)}
    panel = panels[{"enc": "bidirectional", "dec": "causal", "cross": "cross"}[part]]
    attn = {"enc": run.encoder, "dec": run.decoder, "cross": run.cross}[part]
    rows = run.out_tokens if part == "cross" else panel.queries
    q_axis = {"cross": "output being predicted", "dec": "decoder input", "enc": "input token"}[part]
    k_axis = "decoder input (earlier)" if part == "dec" else "input token (encoder)"
    return panel, attn, list(rows), q_axis, k_axis


def pick(a: np.ndarray, layer: int, head: int | None) -> np.ndarray:
    """[layer, head, q, k] -> [q, k] of one head, or the mean of the layer's heads (head None)."""
    a = a[layer].astype(np.float32)
    return a.mean(0) if head is None else a[head]


def _pieces(tokenizer, ids) -> list[str]:
    from explorer.text import display_token
    return [display_token(t) for t in tokenizer.convert_ids_to_tokens([int(i) for i in ids])]


@runtime.queued
@torch.no_grad()
def run_seq2seq(model, tokenizer, text: str, max_input_tokens: int = 64, max_new_tokens: int = 40,
                k: int = 5) -> Seq2SeqRun:
    """Greedy generation, token by token (the encoder runs once; the decoder once per new token, over
    everything it has written), then one teacher-forced pass for every attention of the result."""
    from explorer.text import encode
    enc = encode(tokenizer, text, max_input_tokens)
    src = torch.tensor([enc.ids])
    start = model.config.decoder_start_token_id
    eos = model.config.eos_token_id
    encoder_out = model.get_encoder()(input_ids=src)
    dec = [start]
    steps = []
    for step in range(max_new_tokens):
        logits = model(encoder_outputs=encoder_out, decoder_input_ids=torch.tensor([dec])).logits[0, -1].float()
        p = torch.softmax(logits, -1)
        vals, top = torch.topk(p, min(k, p.numel()))
        token = int(top[0])
        steps.append(Seq2SeqStep(step, token, _pieces(tokenizer, [token])[0], top.numpy().astype(np.int64),
                                 _pieces(tokenizer, top), vals.numpy().astype(np.float32)))
        dec.append(token)
        if token == eos:
            break
    out_ids = dec[1:]
    out = model(input_ids=src, decoder_input_ids=torch.tensor([dec[:-1]]), output_attentions=True)

    def stack(attns):
        return torch.stack(attns, 0)[:, 0].float().numpy().astype(np.float16)
    return Seq2SeqRun(enc.ids, _pieces(tokenizer, enc.ids), out_ids, _pieces(tokenizer, out_ids),
                      _pieces(tokenizer, dec[:-1]), stack(out.encoder_attentions), stack(out.decoder_attentions),
                      stack(out.cross_attentions), steps, tokenizer.decode(out_ids, skip_special_tokens=True),
                      bool(out_ids) and out_ids[-1] == eos, enc.truncated, enc.total_tokens, eos)


# ------------------------------------------------------------------ what the page shows, computed here
def head_name(head: int | None) -> str:
    """A head for a title: "head 3", or "mean of heads" (head None)."""
    return "mean of heads" if head is None else f"head {head}"


def attention_part(family: str, tokens: Sequence[str], attn: np.ndarray
                   ) -> tuple["MaskPanel", np.ndarray, list[str], str, str]:
    """An encoder's or a decoder's self-attention beside its mask, like seq2seq_part: (mask panel, attention
    [layer, head, q, k], row labels, query axis title, key axis title). tokens: the model's pieces, shown readably."""
    from explorer.text import display_token
    panel = family_masks(family, [display_token(t) for t in tokens])[0]
    return panel, attn, panel.queries, "query (looking)", "key (looked at)"


@dataclass
class LessonExample:
    """The lesson's `<bos> refund approved <eos>` under both masks, read at the row of *approved*."""
    tokens: list[str]
    causal: np.ndarray
    bidirectional: np.ndarray
    row: int                   # the row of "approved"

    def masks(self) -> dict[str, np.ndarray]:
        return {"encoder (bidirectional)": self.bidirectional, "decoder (causal)": self.causal}

    def table(self) -> dict[str, list]:
        """The row of *approved* under each mask, token by token."""
        return {"token": self.tokens, "causal_row_approved": self.causal[self.row],
                "bidirectional_row_approved": self.bidirectional[self.row]}

    def note(self) -> str:
        """Both rows of *approved* and the future cell (approved -> <eos>), in markdown."""
        future = int(self.causal[self.row, self.tokens.index("<eos>")])
        return (f"Row of **approved** — causal: `{self.causal[self.row].tolist()}`, bidirectional: "
                f"`{self.bidirectional[self.row].tolist()}`. The future cell (approved → `<eos>`) is **{future}** in "
                "the decoder: while it reads *approved*, the decoder cannot see what follows.")


def lesson_example() -> LessonExample:
    toks = list(LESSON_TOKENS)
    return LessonExample(toks, causal_mask(len(toks)), bidirectional_mask(len(toks)), toks.index("approved"))


def left_of_mask(lm, text: str, mask: str):
    """What a decoder reads of a sentence with a blank: the text before the first `mask`, tokenized without special
    tokens (at most the model's positions - 1, and 512) -> explorer.text.Encoded, or None when nothing is there."""
    from explorer.text import encode
    left = text.split(mask)[0].rstrip()
    if not left.strip():
        return None
    return encode(lm.tokenizer, left, min(lm.max_length - 1, 512), add_special_tokens=False)


def verdict_note(model_id: str, source: str, output: str) -> str:
    """For the bundled tiny T5, whose task is known: does `output` spell `source` backwards? ("" for other models.)"""
    from explorer.text import md
    expected = expected_output(model_id, source)
    if expected is None:
        return ""
    return " — ✓ spelled backwards correctly" if output == expected else f" — ✗ expected: {md(expected, 80)}"


@dataclass
class Heatmap:
    """One attention pattern drawn as a heatmap, with its titles and the numbers behind it."""
    a: np.ndarray              # [row, col]
    rows: list[str]
    cols: list[str]
    title: str
    row_axis: str
    col_axis: str
    name: str                  # the figure's name (its downloads' file name)
    data: dict


def translator_heatmaps(run: Seq2SeqRun, layer: int, head: int | None) -> list[Heatmap]:
    """The encoder's self-attention and the decoder's cross-attention of one layer (one head, or their mean)."""
    enc, cross = pick(run.encoder, layer, head), pick(run.cross, layer, head)
    return [Heatmap(enc, run.src_tokens, run.src_tokens, f"Encoder self-attention, layer {layer}, {head_name(head)}",
                    "input token (looking)", "input token", "families encoder self attention",
                    {"tokens": run.src_tokens, "attention": enc}),
            Heatmap(cross, run.out_tokens, run.src_tokens, f"Cross-attention, layer {layer}, {head_name(head)}",
                    "output being predicted", "input token (encoder)", "families cross attention",
                    {"outputs": run.out_tokens, "inputs": run.src_tokens, "attention": cross})]
