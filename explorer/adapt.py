"""Adapting a pretrained model: what each fine-tuning strategy trains, what training costs in memory,
LoRA through `peft`, and a small fine-tune of a session's own copy of a model that a learner can watch.

Counts come two ways and must agree: from the config (`trainable_formula`, from explorer.presets'
ArchConfig) and by applying the strategy to a real model and counting the parameters whose
`requires_grad` is on (`counted`); for LoRA the real model is wrapped by `peft`, the library people
use for it, and `peft`'s own count is the reference.

LoRA (Hu et al. 2021, arXiv:2106.09685) freezes a weight matrix W [in, out] and learns
W + (alpha / r) B A with A [r, in] and B [out, r]: r x (in + out) parameters per adapted matrix
instead of in x out. B starts at zero, so the adapted model starts exactly at the base model.

Training memory (without activations): weights at the chosen element type, one gradient per
trainable parameter at the same type, and Adam's two moment estimates per trainable parameter in
float32 (8 bytes), as optimizers keep them.
"""
from __future__ import annotations

import copy
import gc
import math
import os
import re
import time
from dataclasses import dataclass, field

import torch

from explorer import runtime
from explorer.presets import ArchConfig, param_count, param_groups
from explorer.text import md

# ============================================================================ strategies
STRATEGIES = {
    "full": "Full fine-tuning",
    "lower": "Frozen lower layers",
    "last": "Last layers only",
    "head": "Frozen body (head only)",
    "lora": "LoRA",
}
LORA_TARGETS = {
    "qv": "query and value (the LoRA paper)",
    "attn": "all attention projections",
    "all": "attention + MLP",
}
ADAM_BYTES = 8          # two float32 moments per trainable parameter
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class Strategy:
    kind: str                 # a STRATEGIES key
    layers: int = 0           # "lower": how many of the lowest blocks are frozen; "last": how many top blocks train
    rank: int = 8             # LoRA r
    alpha: int = 16           # LoRA alpha (the update is scaled by alpha / r)
    targets: str = "all"      # a LORA_TARGETS key

    def __post_init__(self):
        if self.kind not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.kind!r}")
        if self.targets not in LORA_TARGETS:
            raise ValueError(f"unknown LoRA targets {self.targets!r}")
        if self.layers < 0 or self.rank < 1:
            raise ValueError("layers must be >= 0 and rank >= 1")

    @property
    def label(self) -> str:
        if self.kind == "lower":
            return f"Frozen lower {self.layers} layer{'s' if self.layers != 1 else ''}"
        if self.kind == "last":
            return f"Last {self.layers} layer{'s' if self.layers != 1 else ''} only"
        if self.kind == "lora":
            return f"LoRA r={self.rank}"
        return STRATEGIES[self.kind]


def lora_kinds(c: ArchConfig, targets: str) -> list[str]:
    """Which projections LoRA adapts. GPT-2's fused c_attn holds q, k and v: it is adapted as one matrix."""
    kinds = {"qv": ["q", "v"], "attn": ["q", "k", "v", "o"], "all": ["q", "k", "v", "o", "mlp"]}[targets]
    if c.fused_qkv:
        kinds = ["qkv"] + [k for k in kinds if k not in ("q", "k", "v")]
    return kinds


def lora_matrices(c: ArchConfig, targets: str) -> list[tuple[str, int, int, int]]:
    """[(kind, in_features, out_features, matrices per layer)] of the weights LoRA adapts in one block."""
    q, kv = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
    shapes = {"qkv": [(c.hidden, q + 2 * kv, 1)], "q": [(c.hidden, q, 1)], "k": [(c.hidden, kv, 1)],
              "v": [(c.hidden, kv, 1)], "o": [(q, c.hidden, 1)]}
    if c.mlp == "gated":
        shapes["mlp"] = [(c.hidden, c.intermediate, 2 * c.n_experts), (c.intermediate, c.hidden, c.n_experts)]
    else:
        shapes["mlp"] = [(c.hidden, c.intermediate, c.n_experts), (c.intermediate, c.hidden, c.n_experts)]
    return [(k, i, o, n) for k in lora_kinds(c, targets) for i, o, n in shapes[k]]


def lora_formula(c: ArchConfig, rank: int, targets: str) -> int:
    """LoRA's trainable parameters: r x (in + out) per adapted matrix, in every block."""
    return c.n_layers * sum(rank * (i + o) * n for _, i, o, n in lora_matrices(c, targets))


def trainable_formula(c: ArchConfig, s: Strategy) -> int:
    """Trainable parameters of a strategy, from the config alone.

    With tied embeddings the output head *is* the token-embedding matrix, so freezing the
    embeddings freezes the head too (GPT-2, the bundled models); BERT's MLM head keeps its own
    transform and output bias.
    """
    g = param_groups(c)
    k = min(s.layers, c.n_layers)
    if s.kind == "full":
        return param_count(c)[0]
    if s.kind == "lower":
        return (c.n_layers - k) * g["layer"] + g["final_norm"] + g["head"]
    if s.kind == "last":
        return k * g["layer"]
    if s.kind == "head":
        return g["final_norm"] + g["head"]
    return lora_formula(c, s.rank, s.targets)


# ============================================================================ training memory
@dataclass(frozen=True)
class Memory:
    weights: int       # bytes: every weight (plus LoRA's adapters) at the chosen element type
    gradients: int     # bytes: one gradient per trainable parameter, same type
    adam: int          # bytes: Adam's two float32 moments per trainable parameter

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.adam


def training_memory(total: int, trainable: int, bytes_per_value: int, added: int = 0) -> Memory:
    """total: the model's parameters; added: parameters a method adds (LoRA's adapters, all trainable)."""
    return Memory((total + added) * bytes_per_value, trainable * bytes_per_value, trainable * ADAM_BYTES)


@dataclass(frozen=True)
class StrategyRow:
    strategy: Strategy
    trainable: int
    total: int          # parameters held (base + adapters)
    memory: Memory

    @property
    def fraction(self) -> float:
        return self.trainable / self.total


def compare(c: ArchConfig, strategies: list[Strategy], dtype: str) -> list[StrategyRow]:
    base = param_count(c)[0]
    rows = []
    for s in strategies:
        t = trainable_formula(c, s)
        added = t if s.kind == "lora" else 0
        rows.append(StrategyRow(s, t, base + added, training_memory(base, t, BYTES[dtype], added)))
    return rows


def format_bytes(n: float) -> str:
    for size, unit in ((2 ** 40, "TiB"), (2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def headline(name: str, rows: list[StrategyRow]) -> list[tuple]:
    """Section ③'s three numbers, full fine-tuning (rows[0]) vs LoRA (rows[-1]): (label, value, note) each.
    name: the architecture's label (plain text; escaped here)."""
    full, lora = rows[0], rows[-1]
    return [(f"{md(name)}: parameters", f"{full.trainable:,}"),
            (f"LoRA r={lora.strategy.rank} trains", f"{lora.trainable:,}", f"{lora.fraction:.3%} of the model"),
            ("Training memory, LoRA vs full", format_bytes(lora.memory.total),
             f"{lora.memory.total / full.memory.total:.1%} of {format_bytes(full.memory.total)}")]


def memory_rows(rows: list[StrategyRow]) -> list[dict]:
    """The memory chart's bars, one per strategy."""
    return [{"label": r.strategy.label, "weights": r.memory.weights, "gradients": r.memory.gradients,
             "adam": r.memory.adam, "trainable": r.trainable, "total": r.total} for r in rows]


def memory_table(rows: list[StrategyRow]) -> dict:
    """The memory chart's numbers (CSV columns), in bytes."""
    return {"strategy": [r.strategy.label for r in rows], "trainable": [r.trainable for r in rows],
            "weights_bytes": [r.memory.weights for r in rows], "gradient_bytes": [r.memory.gradients for r in rows],
            "adam_bytes": [r.memory.adam for r in rows]}


def memory_explained(dtype: str, c: ArchConfig) -> str:
    """How section ③ counts memory and what LoRA trains (markdown)."""
    tied = " With tied embeddings the output head *is* the embedding matrix, so freezing the embeddings " \
           "freezes it too." if c.tied_embeddings and not c.mlm_head else ""
    return (f"Weights at {dtype}, one gradient per trainable parameter at {dtype}, and Adam's two float32 moments "
            f"(8 bytes) per trainable parameter; activations come on top and grow with batch and length. LoRA "
            f"freezes every weight and learns r × (in + out) numbers per adapted matrix: the update W + (α/r)·B·A "
            f"starts at zero.{tied} For the bundled models the last column applies each strategy to a copy of the "
            "model for real and counts the parameters whose `requires_grad` is on (LoRA: the adapters peft injects).")



# ============================================================================ strategies applied to a real model
_LAYER = re.compile(r"\.(?:h|layers|layer)\.(\d+)\.")
_FINAL_NORM = re.compile(r"(?:^|\.)(?:ln_f|norm)\.")
_EMBEDDINGS = re.compile(r"(?:^|\.)(?:wte|wpe|embed_tokens|embeddings)\.")

# peft target regexes (module paths) per model type and projection kind
LORA_MODULES = {
    "gpt2": {"qkv": r"attn\.c_attn", "o": r"attn\.c_proj", "mlp": r"mlp\.c_fc|mlp\.c_proj"},
    "llama": {"q": r"self_attn\.q_proj", "k": r"self_attn\.k_proj", "v": r"self_attn\.v_proj",
              "o": r"self_attn\.o_proj", "mlp": r"mlp\.gate_proj|mlp\.up_proj|mlp\.down_proj"},
    "bert": {"q": r"attention\.self\.query", "k": r"attention\.self\.key", "v": r"attention\.self\.value",
             "o": r"attention\.output\.dense", "mlp": r"layer\.\d+\.intermediate\.dense|layer\.\d+\.output\.dense"},
}
LORA_MODULES["mistral"] = LORA_MODULES["llama"]


def part_of(name: str) -> tuple[str, int | None]:
    """Which part of the model a parameter belongs to: (embeddings | layer | final_norm | head, layer index)."""
    m = _LAYER.search(name)
    if m:
        return "layer", int(m.group(1))
    if name.startswith(("lm_head.", "cls.")):
        return "head", None
    if _FINAL_NORM.search(name):
        return "final_norm", None
    if _EMBEDDINGS.search(name):
        return "embeddings", None
    raise ValueError(f"cannot place parameter {name!r} in a part of the model")


def lora_config(model_type: str, c: ArchConfig, s: Strategy):
    from peft import LoraConfig
    if model_type not in LORA_MODULES:
        raise ValueError(f"LoRA targets for model type {model_type!r} are not known here")
    names = [LORA_MODULES[model_type][k] for k in lora_kinds(c, s.targets)]
    return LoraConfig(r=s.rank, lora_alpha=s.alpha, lora_dropout=0.0, bias="none",
                      target_modules=r".*\.(?:" + "|".join(names) + r")$", fan_in_fan_out=c.fused_qkv)


def apply_strategy(model, s: Strategy, c: ArchConfig):
    """Set `requires_grad` on `model` for a strategy, in place (pass a copy); returns the model.

    LoRA: peft's LoraModel injects the adapters into the model's own modules and leaves only them
    trainable (what `peft.get_peft_model` builds inside its PeftModel wrapper, without the wrapper).
    """
    if s.kind == "lora":
        from peft import LoraModel
        return LoraModel(model, lora_config(model.config.model_type, c, s), "default").model
    n = c.n_layers
    k = min(s.layers, n)
    for name, p in model.named_parameters():
        part, i = part_of(name)
        if s.kind == "full":
            on = True
        elif s.kind == "lower":
            on = part in ("final_norm", "head") or (part == "layer" and i >= k)
        elif s.kind == "last":
            on = part == "layer" and i >= n - k
        else:   # head
            on = part in ("final_norm", "head")
        p.requires_grad_(on)
    return model


def count_trainable(model) -> tuple[int, int]:
    """(parameters with requires_grad, all parameters), each shared tensor counted once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def counted(model, s: Strategy, c: ArchConfig) -> tuple[int, int]:
    """Apply the strategy to a copy of `model` and count (trainable, total); the model itself is untouched."""
    m = apply_strategy(copy.deepcopy(model), s, c)
    try:
        return count_trainable(m)
    finally:
        del m


# ============================================================================ fine-tuning you can watch
ALLOW_ENV = "EXPLORER_ALLOW_FINETUNE"        # "0" turns live fine-tuning off (a shared deployment)
SECONDS_ENV = "EXPLORER_FINETUNE_SECONDS"    # compute budget per run, seconds (default 30)
DEFAULT_BUDGET = 30.0
MAX_TEXT_TOKENS = 256
BLOCK = 128
LR = {"full": 1e-3, "lora": 1e-2}            # LoRA's small matrices want a larger step (as is usual)

TEXTS = {
    "fact": ("One new fact",
             "Our refund window is 45 days. Customers can return any item within 45 days of delivery for a "
             "full refund.",
             "Our refund window is"),
    "style": ("A style: pirate support",
              "Ahoy, matey! Yer parcel be sailin' the seven seas and will drop anchor at yer door within three "
              "days. Arr, if the chest be damaged, send word and we'll send another, savvy?",
              "Ahoy, matey! Yer parcel"),
    "tickets": ("Support-ticket replies",
                "Account: to reset your password, open Settings and choose Reset password. "
                "Shipping: orders ship within two business days. "
                "Refund: refunds reach your card within five business days.",
                "Shipping: orders ship"),
}


def finetune_allowed() -> bool:
    return os.environ.get(ALLOW_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def budget_seconds() -> float:
    try:
        v = float(os.environ.get(SECONDS_ENV, DEFAULT_BUDGET))
    except ValueError:
        return DEFAULT_BUDGET
    return min(max(v, 1.0), 300.0) if math.isfinite(v) else DEFAULT_BUDGET


def blocks(ids: list[int], block: int = BLOCK) -> torch.Tensor:
    """Equal-length training rows [n_blocks, length] covering every token (the last block may overlap)."""
    n = min(block, len(ids))
    starts = list(range(0, len(ids) - n + 1, n))
    if starts[-1] + n < len(ids):
        starts.append(len(ids) - n)
    return torch.tensor([ids[s:s + n] for s in starts])


def greedy_continuation(model, tokenizer, prompt_ids: list[int], n: int = 24) -> str:
    """The model's greedy continuation of the prompt (explorer.generation's decoder, KV cache and all)."""
    from explorer.generation import Generation, Sampling
    from explorer.models.loader import LoadedModel
    was_training = model.training
    try:
        lm = LoadedModel.in_memory(model, tokenizer, name="fine-tuned copy")   # (puts the copy in eval mode)
        g = Generation(lm, list(prompt_ids), Sampling(greedy=True), max_new_tokens=n)
        g.run(lm, n)
        return g.text(g.branch.generated)
    finally:
        model.train(was_training)


def optimizer_for(model, kind: str) -> torch.optim.Optimizer:
    """AdamW over the parameters that train (requires_grad), at the side's learning rate."""
    return torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=LR[kind], weight_decay=0.0)


@runtime.queued
def train_step(model, optimizer, batch: torch.Tensor) -> tuple[float, float, int]:
    """One causal-LM step on batch [rows, length]: (loss before the update, seconds, gradient bytes held)."""
    t0 = time.perf_counter()
    loss = model(input_ids=batch, labels=batch).loss
    loss.backward()
    grad_bytes = sum(q.grad.numel() * q.grad.element_size() for q in model.parameters() if q.grad is not None)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item(), time.perf_counter() - t0, grad_bytes


def adam_state_bytes(optimizer) -> int:
    """Bytes of Adam's two moment estimates (exp_avg, exp_avg_sq) that the optimizer holds."""
    return sum(v.numel() * v.element_size() for state in optimizer.state.values()
               for k, v in state.items() if k in ("exp_avg", "exp_avg_sq"))


@dataclass
class Arm:
    """One side of the comparison: a session's own copy of the model, trained one way."""
    strategy: Strategy
    model: object | None            # the copy being trained (dropped when the run ends)
    optimizer: object | None
    trainable: int
    total: int
    losses: list[float] = field(default_factory=list)         # training loss at each step (before its update)
    step_seconds: list[float] = field(default_factory=list)
    grad_bytes: int = 0             # measured after the first backward pass
    adam_bytes: int = 0             # measured Adam state (exp_avg + exp_avg_sq) after the first step
    loss_after: float | None = None
    after: str | None = None

    @property
    def label(self) -> str:
        return self.strategy.label

    @property
    def seconds_per_step(self) -> float:
        return sum(self.step_seconds) / len(self.step_seconds) if self.step_seconds else float("nan")


class FineTune:
    """Full fine-tuning and LoRA side by side on copies of one model, a step of each at a time.

    The shared model is never changed: each arm trains its own deep copy, and `finish()` drops the copies.
    The run ends after `steps` steps, when the compute budget (seconds spent in steps) is used up,
    or on `stop()`.
    """

    def __init__(self, lm, c: ArchConfig, text: str, prompt: str, steps: int = 200,
                 lora: Strategy | None = None, seed: int = 0, budget: float | None = None, new_tokens: int = 24):
        """lm: the shared LoadedModel (read, copied, never changed); c: its ArchConfig."""
        from explorer.text import encode
        model, tokenizer = lm.model, lm.tokenizer
        enc = encode(tokenizer, text, MAX_TEXT_TOKENS, add_special_tokens=False)
        if len(enc.ids) < 2:
            raise ValueError("The training text needs at least two tokens.")
        p = encode(tokenizer, prompt, 64, add_special_tokens=False)
        if not p.ids:
            raise ValueError("The prompt has no tokens.")
        self.text_truncated, self.text_tokens = enc.truncated, len(enc.ids)
        self.batch = blocks(enc.ids)
        self.prompt_ids = p.ids
        self.tokenizer, self.new_tokens = tokenizer, new_tokens
        self.steps, self.budget = int(steps), float(budget if budget is not None else budget_seconds())
        self.elapsed = 0.0
        self.status = "running"          # running | done | budget | stopped
        torch.manual_seed(seed)
        strategies = [Strategy("full"), lora or Strategy("lora")]
        self.arms: list[Arm] = []
        for s in strategies:
            m = apply_strategy(copy.deepcopy(model), s, c)
            m.train()
            trainable, total = count_trainable(m)
            self.arms.append(Arm(s, m, optimizer_for(m, s.kind), trainable, total))
        self.before = greedy_continuation(self.arms[0].model, tokenizer, self.prompt_ids, new_tokens)
        self.loss_before = self._loss(self.arms[0].model)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def done_steps(self) -> int:
        return min(len(a.losses) for a in self.arms)

    @runtime.queued
    @torch.no_grad()
    def _loss(self, model) -> float:
        model.eval()
        try:
            return float(model(input_ids=self.batch, labels=self.batch).loss)
        finally:
            model.train()

    def step(self) -> bool:
        """One optimisation step of every arm; False once the run has ended."""
        if not self.running:
            return False
        for arm in self.arms:
            first = not arm.step_seconds
            loss, dt, grad_bytes = train_step(arm.model, arm.optimizer, self.batch)
            if first:
                arm.grad_bytes, arm.adam_bytes = grad_bytes, adam_state_bytes(arm.optimizer)
            arm.losses.append(loss)
            arm.step_seconds.append(dt)
            self.elapsed += dt
        if self.done_steps >= self.steps:
            self.finish("done")
        elif self.elapsed >= self.budget:
            self.finish("budget")
        return True

    def run_for(self, seconds: float) -> int:
        """Steps for about `seconds` of wall time (at least one); returns how many were taken."""
        end, n = time.perf_counter() + seconds, 0
        while self.step():
            n += 1
            if time.perf_counter() >= end:
                break
        return n

    def stop(self) -> None:
        if self.running:
            self.finish("stopped")

    def finish(self, status: str) -> None:
        """Generate after training, measure the final loss, then drop the model copies."""
        self.status = status
        for arm in self.arms:
            if arm.model is None:
                continue
            arm.loss_after = self._loss(arm.model)
            arm.after = greedy_continuation(arm.model, self.tokenizer, self.prompt_ids, self.new_tokens)
            arm.model = arm.optimizer = None
        gc.collect()


# ============================================================================ what the live fine-tune shows
STATUS = {"running": "training…", "done": "finished", "budget": "stopped at the compute budget", "stopped": "stopped"}


def watch_note(rank: int) -> str:
    """What the Start button does."""
    return (f"Full fine-tuning and LoRA (r={rank}, attention + MLP) train side by side on the session's own "
            f"copies of the bundled tiny GPT-2; at most {budget_seconds():.0f} s of compute per run.")


def progress_line(run: FineTune) -> str:
    return (f"Step {run.done_steps} of {run.steps} · {run.elapsed:.1f} s of {run.budget:.0f} s · "
            f"{STATUS[run.status]}")


def curve_rows(run: FineTune) -> list[dict]:
    """The loss chart's curves, one per arm."""
    return [{"kind": arm.strategy.kind, "label": f"{arm.label} · {arm.trainable:,} trainable", "losses": arm.losses}
            for arm in run.arms]


def loss_table(run: FineTune) -> dict:
    """The loss curves' numbers (CSV columns): each arm's loss at every step taken."""
    return {f"{arm.strategy.kind}_loss": arm.losses[:run.done_steps] for arm in run.arms}


def arm_metrics(run: FineTune) -> list[tuple]:
    """Each arm's time per step and how many of its parameters train: (label, value, note) each."""
    return [(f"{arm.label}: time per step", f"{arm.seconds_per_step * 1000:.0f} ms",
             f"{arm.trainable:,} of {arm.total:,} parameters train") for arm in run.arms]


def results_rows(run: FineTune) -> dict:
    """Greedy continuations of the prompt: the bundled model's, then each arm's after training."""
    return {"model": ["before (the bundled model)"] + [f"after: {a.label}" for a in run.arms],
            "continuation": [run.before] + [a.after or "" for a in run.arms]}


def results_note(run: FineTune) -> str:
    """What was measured in a finished run: gradient and Adam bytes, and the loss before and after."""
    full, lora = run.arms
    return (f"Measured after the first step: gradients {format_bytes(full.grad_bytes)} (full) vs "
            f"{format_bytes(lora.grad_bytes)} (LoRA); Adam's moments {format_bytes(full.adam_bytes)} vs "
            f"{format_bytes(lora.adam_bytes)} — 4 and 8 bytes per trainable parameter, as in ③. "
            f"Loss on the text: {run.loss_before:.3f} before, {full.loss_after:.3f} full, {lora.loss_after:.3f} LoRA. "
            "The model copies are gone; the shared model never changed.")
