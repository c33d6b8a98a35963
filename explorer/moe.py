"""Mixture of experts: how a router sends each token to a few expert MLPs, toy and real.

A sparse MoE layer (Shazeer et al. 2017; Switch, Fedus et al. 2021; Mixtral, Jiang et al. 2024)
replaces the one MLP of a transformer block with E expert MLPs and a router: a linear map
hidden -> E logits per token. Mixtral (transformers' MixtralTopKRouter) turns the logits into
probabilities with a softmax over ALL experts, keeps the top-k, and divides the kept k by their
sum so the mixing weights add up to 1. That is the same as a softmax over the k chosen logits
alone (the other experts' exp terms cancel), which is how the lesson states it.

Everything here is numpy (float64 for the math) or torch for the capture; no Streamlit.
Shapes: [layer, token, expert] for router outputs, [layer, token, k] for the chosen experts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from explorer import hf
from explorer.errors import NotSupported
from explorer.presets import ArchConfig, param_count
from explorer.text import md

# --------------------------------------------------------------------------- the lesson's toy router
TOY_EXPERTS = ("returns", "shipping", "catalog", "billing")
TOY_TOKENS = ("refund", "delayed")
TOY_LOGITS = ((2.4, 0.3, 0.5, -0.2),    # "refund"
              (0.1, 2.2, 0.7, 0.0))     # "delayed"
TOY_K = 2
MAX_ABS_LOGIT = 50.0                    # what the toy editor accepts (exp() stays finite and readable)


def softmax(x, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def top_k(scores, k: int) -> np.ndarray:
    """Indices of the k largest scores along the last axis, largest first -> int [..., k].

    Ties go to the lower expert index (a stable sort), so a hand-typed tie routes predictably.
    """
    scores = np.asarray(scores)
    if not 1 <= k <= scores.shape[-1]:
        raise ValueError(f"k must be between 1 and the number of experts ({scores.shape[-1]})")
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k]


@dataclass
class Routing:
    """One router decision for T tokens over E experts."""
    logits: np.ndarray      # float64 [token, expert]
    probs: np.ndarray       # float64 [token, expert]: softmax over all experts
    chosen: np.ndarray      # int [token, k]: the experts used, best first
    weights: np.ndarray     # float64 [token, k]: how the chosen experts' outputs are mixed
    renormalized: bool      # weights sum to 1 (Mixtral) or are the plain all-expert probabilities

    @property
    def k(self) -> int:
        return self.chosen.shape[-1]


def route(logits, k: int, renormalize: bool = True) -> Routing:
    """Top-k routing of logits [token, expert], as MixtralTopKRouter does it.

    renormalize=True: weights = the chosen probabilities divided by their sum (== softmax over the
    chosen logits). False: the chosen experts keep their all-expert probabilities (OLMoE, Qwen2-MoE
    with norm_topk_prob=False), so the weights sum to less than 1.
    """
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    probs = softmax(logits)
    chosen = top_k(probs, k)
    picked = np.take_along_axis(probs, chosen, axis=-1)
    weights = picked / picked.sum(axis=-1, keepdims=True) if renormalize else picked
    return Routing(logits, probs, chosen, weights, renormalize)


def parse_logits(text: str, n_tokens: int = len(TOY_TOKENS), n_experts: int = len(TOY_EXPERTS)) -> np.ndarray:
    """'2.4,0.3,0.5,-0.2;0.1,2.2,0.7,0' -> float [token, expert]; ValueError on a wrong shape or value."""
    rows = [r.split(",") for r in str(text).split(";")]
    if len(rows) != n_tokens:
        raise ValueError(f"needs {n_tokens} rows separated by ';'")
    if any(len(r) != n_experts for r in rows):
        raise ValueError(f"needs {n_experts} numbers per row")
    m = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    if not np.all(np.isfinite(m)) or np.abs(m).max() > MAX_ABS_LOGIT:
        raise ValueError(f"logits must be finite numbers within ±{MAX_ABS_LOGIT:g}")
    return m


def format_logits(m) -> str:
    """The inverse of parse_logits, short enough for a URL ('0' not '0.0')."""
    return ";".join(",".join(f"{float(v):g}" for v in row) for row in np.asarray(m))


# --------------------------------------------------------------------------- load balance and capacity
def expert_counts(chosen, n_experts: int) -> np.ndarray:
    """How many (token, slot) assignments each expert received -> int [..., expert].

    chosen: int [..., token, k]. The counts of one layer add up to tokens x k.
    """
    chosen = np.asarray(chosen)
    flat = chosen.reshape(*chosen.shape[:-2], -1)
    return np.stack([(flat == e).sum(axis=-1) for e in range(n_experts)], axis=-1)


def switch_aux_loss(probs, chosen, n_experts: int) -> float:
    """Switch/Mixtral load-balancing loss of one layer: E * sum_i f_i * P_i.

    probs [token, expert]: softmax over all experts; chosen [token, k].
    f_i = assignments to expert i / tokens (top-k slots, so the f_i add up to k); P_i = mean router
    probability of expert i. Perfectly even routing gives E * E * (k/E) * (1/E) = k.
    """
    probs = np.asarray(probs, dtype=np.float64)
    T = probs.shape[0]
    f = expert_counts(chosen, n_experts) / T
    P = probs.mean(axis=0)
    return float(n_experts * np.sum(f * P))


def load_balancing_loss(logits, k: int) -> float:
    """transformers' load_balancing_loss_func (no padding mask) in numpy, for logits [layer, token, expert].

    It pools every layer's tokens before multiplying: f_i and P_i are averaged over layer x token
    rows, so the value is not the mean of the per-layer switch_aux_loss values.
    """
    logits = np.asarray(logits, dtype=np.float64)
    L, T, E = logits.shape
    probs = softmax(logits).reshape(L * T, E)
    return switch_aux_loss(probs, top_k(probs, k), E)


CAPACITY_ORDERS = ("position", "rank")
ORDER_LABELS = {"position": "token by token (first come, first served)",
                "rank": "first choices first (GShard / Switch priority)"}


def capacity(capacity_factor: float, n_tokens: int, k: int, n_experts: int) -> int:
    """Slots per expert: ceil(capacity_factor * tokens * k / experts)."""
    return int(math.ceil(capacity_factor * n_tokens * k / n_experts - 1e-9))


@dataclass
class CapacityResult:
    capacity: int
    order: str
    kept: np.ndarray          # bool [token, k]: this assignment fits into its expert's slots
    requested: np.ndarray     # int [expert]: assignments routed to each expert
    accepted: np.ndarray      # int [expert]: min(requested, capacity)

    @property
    def dropped(self) -> list[tuple[int, int]]:
        """(token, slot) pairs that did not fit, by token position."""
        return [tuple(x) for x in np.argwhere(~self.kept)]

    @property
    def fully_dropped_tokens(self) -> list[int]:
        """Tokens none of whose experts had room: the block passes them on through the residual alone."""
        return [int(t) for t in np.where(~self.kept.any(axis=1))[0]]


def apply_capacity(chosen, n_experts: int, cap: int, order: str = "position") -> CapacityResult:
    """Fill each expert's `cap` slots in a fixed order; assignments that find no slot are dropped.

    order "position": token 0's first then second choice, then token 1, ... (first come, first served).
    order "rank": every token's first choice in position order, then every second choice (GShard's
    and Switch's priority: a token's best expert wins over another token's runner-up).
    """
    chosen = np.asarray(chosen)
    T, k = chosen.shape
    if order == "position":
        sequence = [(t, s) for t in range(T) for s in range(k)]
    elif order == "rank":
        sequence = [(t, s) for s in range(k) for t in range(T)]
    else:
        raise ValueError(f"order must be one of {CAPACITY_ORDERS}")
    used = np.zeros(n_experts, dtype=np.int64)
    kept = np.zeros((T, k), dtype=bool)
    for t, s in sequence:
        e = chosen[t, s]
        if used[e] < cap:
            used[e] += 1
            kept[t, s] = True
    requested = expert_counts(chosen, n_experts)
    return CapacityResult(cap, order, kept, requested, np.minimum(requested, cap))


# --------------------------------------------------------------------------- a real model's routing
@dataclass
class RoutingCapture:
    model_id: str
    tokens: list[str]            # the tokenizer's pieces
    ids: list[int]
    total_tokens: int            # before truncation
    truncated: bool
    top_k: int                   # num_experts_per_tok
    renormalized: bool           # Mixtral: True; models with norm_topk_prob=False: False
    aux_coef: float              # router_aux_loss_coef (what the loss is multiplied by in training)
    logits: np.ndarray           # float32 [layer, token, expert]: the router's logits (model output)
    model_chosen: np.ndarray     # int [layer, token, k]: the experts the model's router picked
    model_weights: np.ndarray    # float32 [layer, token, k]: the mixing weights it returned
    model_aux_loss: float        # MoeCausalLMOutputWithPast.aux_loss (unscaled)
    hidden_in: np.ndarray | None = None   # float32 [layer, token, hidden]: input of each MoE block
    gate_weight: list[np.ndarray] = field(default_factory=list)   # float32 [expert, hidden] per layer

    @property
    def n_layers(self) -> int:
        return self.logits.shape[0]

    @property
    def n_tokens(self) -> int:
        return self.logits.shape[1]

    @property
    def n_experts(self) -> int:
        return self.logits.shape[2]

    def routing(self, layer: int) -> Routing:
        """Our routing from the captured logits (softmax over all, top-k, renormalise)."""
        return route(self.logits[layer], self.top_k, self.renormalized)

    @property
    def probs(self) -> np.ndarray:
        """float64 [layer, token, expert]: router probabilities, softmax over all experts."""
        return softmax(self.logits)

    @property
    def chosen(self) -> np.ndarray:
        """int [layer, token, k]: our top-k from the logits (equal to model_chosen up to exact ties)."""
        return top_k(self.probs, self.top_k)

    def counts(self) -> np.ndarray:
        """int [layer, expert]: tokens each expert received per layer (sums to tokens x k)."""
        return expert_counts(self.chosen, self.n_experts)

    def aux_loss(self) -> float:
        return load_balancing_loss(self.logits, self.top_k)

    def agreement(self) -> tuple[float, float]:
        """(share of (layer, token) whose expert set we pick exactly as the model did,
        max |our mixing weight - the model's|), our routing recomputed from the captured logits."""
        ours = [self.routing(i) for i in range(self.n_layers)]
        same = np.array([[set(r.chosen[t]) == set(self.model_chosen[i, t]) for t in range(self.n_tokens)]
                         for i, r in enumerate(ours)])
        err = 0.0
        for i, r in enumerate(ours):
            for t in range(self.n_tokens):
                mine = dict(zip(r.chosen[t].tolist(), r.weights[t]))
                theirs = dict(zip(self.model_chosen[i, t].tolist(), self.model_weights[i, t]))
                if mine.keys() == theirs.keys():
                    err = max(err, max(abs(mine[e] - theirs[e]) for e in mine))
        return float(same.mean()), float(err)

    def aux_loss_per_layer(self) -> np.ndarray:
        p, c = self.probs, self.chosen
        return np.array([switch_aux_loss(p[i], c[i], self.n_experts) for i in range(self.n_layers)])


def moe_settings(config) -> tuple[int, int, bool, float]:
    """(n_experts, top_k, renormalize, aux coef) from a transformers config (Mixtral, Qwen2-MoE, OLMoE)."""
    n_experts = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None)
    k = getattr(config, "num_experts_per_tok", None)
    if not n_experts or not k:
        raise NotSupported("This model's config names no experts (num_local_experts / num_experts_per_tok); choose a Mixtral-family model.")
    renorm = bool(getattr(config, "norm_topk_prob", True))   # Mixtral always renormalises
    return int(n_experts), int(k), renorm, float(getattr(config, "router_aux_loss_coef", 0.0) or 0.0)


def capture(lm, text: str, max_tokens: int, keep_hidden: bool = False) -> RoutingCapture:
    """One forward pass with the routers' outputs recorded.

    The logits are the model's own output (`blocks.*.mlp.hook_router_logits`); the chosen experts and
    weights are what each router really handed its experts (`hook_route_experts` / `hook_route_weights`).
    keep_hidden also keeps the hidden states entering each MoE block (`blocks.*.mlp.hook_in`, after
    post_attention_layernorm) and the gate weights, so a test can recompute the routing from scratch.
    """
    from explorer.forward import encode, forward

    model = lm.model
    n_experts, k, renorm, coef = moe_settings(model.config)
    blocks = hf.moe_blocks(model)
    hooks = ["blocks.*.mlp.hook_router_logits", "blocks.*.mlp.hook_route_weights", "blocks.*.mlp.hook_route_experts"]
    if keep_hidden:
        hooks.append("blocks.*.mlp.hook_in")
    run = forward(lm, encode(lm, text, max_tokens), hooks=hooks)
    logits = run.stack("blocks.*.mlp.hook_router_logits").numpy().astype(np.float32)
    if logits.shape[-1] != n_experts:
        raise RuntimeError(f"router logits have {logits.shape[-1]} experts, the config says {n_experts}")
    L = len(blocks)
    if all(f"blocks.{i}.mlp.hook_route_experts" in run for i in range(L)):
        model_w = run.stack("blocks.*.mlp.hook_route_weights").numpy()
        model_c = run.stack("blocks.*.mlp.hook_route_experts").numpy().astype(np.int64)
    else:   # an older router that returns logits only: the model's own choice is what top-k gives
        r = [route(logits[i], k, renorm) for i in range(L)]
        model_w = np.stack([x.weights for x in r]).astype(np.float32)
        model_c = np.stack([x.chosen for x in r])
    hidden = run.stack("blocks.*.mlp.hook_in").numpy() if keep_hidden else None
    gates = [b.gate.weight.detach().float().numpy().copy() for b in blocks] if keep_hidden else []
    aux = run.output.aux_loss
    return RoutingCapture(lm.spec.id, list(run.tokens), list(run.ids), run.enc.total_tokens, run.enc.truncated, k,
                          renorm, coef, logits, model_c, model_w.astype(np.float32),
                          float(aux) if aux is not None else float("nan"), hidden, gates)


@dataclass
class PathSummary:
    """Top-1 expert of every token in every layer, and how tokens move between experts."""
    top1: np.ndarray              # int [token, layer]
    transitions: np.ndarray       # int [layer - 1, expert_from, expert_to]: tokens per move


def paths(chosen, n_experts: int) -> PathSummary:
    """chosen: int [layer, token, k] -> each token's top-1 expert per layer and layer-to-layer moves."""
    top1 = np.asarray(chosen)[:, :, 0].T
    T, L = top1.shape
    moves = np.zeros((max(L - 1, 0), n_experts, n_experts), dtype=np.int64)
    for layer in range(L - 1):
        np.add.at(moves[layer], (top1[:, layer], top1[:, layer + 1]), 1)
    return PathSummary(top1, moves)


# --------------------------------------------------------------------------- dense vs sparse: parameters and memory
DTYPE_BITS = {"fp32": 32, "bf16": 16, "fp8": 8, "int4": 4}

# MoE configs not in explorer.presets (kept here so the KV-cache page's preset list is unchanged).
HF = "https://huggingface.co/{}/blob/main/config.json"
EXTRA_PRESETS: dict[str, ArchConfig] = {c.name: c for c in [
    ArchConfig("Mixtral-8x22B", HF.format("mistralai/Mixtral-8x22B-v0.1"), 56, 6144, 48, 8, 128, 16384, 32000,
               65536, n_experts=8, experts_per_token=2),
]}
# Mistral AI's announcement of Mixtral 8x22B: "141B parameters, 39B active"
EXTRA_PUBLISHED = {"Mixtral-8x22B": (141e9, 39e9)}


@dataclass
class MoeSize:
    config: ArchConfig
    total: int                # every parameter (what must sit in memory)
    active: int               # parameters one token passes through
    expert_one: int           # one expert's MLP in one layer
    experts_total: int        # all experts of all layers
    experts_active: int       # top-k experts of all layers
    shared: int               # attention, embeddings, norms, router: used by every token

    @property
    def idle(self) -> int:
        """Parameters that sit in memory but a given token does not use."""
        return self.total - self.active

    def bytes(self, n_params: int, dtype: str) -> float:
        return n_params * DTYPE_BITS[dtype] / 8


def moe_size(c: ArchConfig) -> MoeSize:
    """Split explorer.presets.param_count's (total, active) into experts and shared parts."""
    total, active = param_count(c)
    expert_one = (3 if c.mlp == "gated" else 2) * c.hidden * c.intermediate
    if c.biases:
        expert_one += c.intermediate + c.hidden
    experts_total = c.n_layers * c.n_experts * expert_one
    experts_active = c.n_layers * c.experts_per_token * expert_one
    shared = total - experts_total
    assert shared == active - experts_active
    return MoeSize(c, total, active, expert_one, experts_total, experts_active, shared)


def with_experts(c: ArchConfig, n_experts: int, k: int) -> ArchConfig:
    """The same model with another expert count and top-k (1 expert, k=1: its dense twin)."""
    if not 1 <= k <= n_experts:
        raise ValueError("top-k must be between 1 and the number of experts")
    return replace(c, n_experts=n_experts, experts_per_token=k)


def scaling_expert_counts(n_experts: int, k: int) -> list[int]:
    """The expert counts the scaling chart compares: powers of two up to 128 and the chosen count, at least k
    (1, 2 and 4 drop out below k)."""
    ns = sorted({1, 2, 4, 8, 16, 32, 64, 128, n_experts} - {x for x in (1, 2, 4) if x < k})
    return [n for n in ns if n >= k]


# --------------------------------------------------------------------------- the toy router's editable table
def apply_edits(base, edited_rows: dict, experts=TOY_EXPERTS) -> np.ndarray:
    """Fold a table editor's edits into the logits: edited_rows is {row: {expert name: value}} (what
    Streamlit's data editor reports); values are clipped to ±MAX_ABS_LOGIT, cleared cells keep their value."""
    m = np.array(base, dtype=np.float64)
    for row, cols in (edited_rows or {}).items():
        for col, value in cols.items():
            if value is not None and col in experts:
                m[int(row), list(experts).index(col)] = float(np.clip(value, -MAX_ABS_LOGIT, MAX_ABS_LOGIT))
    return m




def routing_rows(r: Routing, tokens, experts) -> list[dict]:
    """One row per (token, chosen expert) of a toy routing: logit, softmax over all experts, mixing weight."""
    rows = []
    for t, token in enumerate(tokens):
        for s in range(r.k):
            e = int(r.chosen[t, s])
            rows.append({"token": token, "expert": experts[e], "logit": f"{r.logits[t, e]:g}",
                         f"softmax, all {len(experts)}": f"{r.probs[t, e]:.3f}", "mixing weight": f"{r.weights[t, s]:.3g}"})
    return rows


def dropped_rows(res: CapacityResult, chosen, weights, labels, experts) -> list[dict]:
    """The tokens that lost an expert to capacity: which choice, its weight, and what the token is left with."""
    lost: dict[int, list[str]] = {}
    for t, s in res.dropped:
        lost.setdefault(t, []).append(f"{experts[chosen[t, s]]} (choice {s + 1}, weight {weights[t, s]:.2f})")
    return [{"position": t, "token": labels[t], "dropped": ", ".join(v),
             "left with": "the residual only" if t in res.fully_dropped_tokens else "its other expert"}
            for t, v in lost.items()]


# --------------------------------------------------------------------------- what the page says and tabulates
NORMS = {"topk": "softmax over the chosen k (Mixtral)", "all": "softmax over all experts, not renormalised"}
TOY_EXPLAINED = ("The router is one linear layer: it gives every token a logit per expert. Mixtral keeps the **k** "
                 "largest, and mixes those experts' outputs with weights from a softmax over the chosen logits only "
                 "(the same as a softmax over all experts, renormalised over the chosen ones). The other experts "
                 "never run for this token — that is where the saving comes from.")
TOPICS_NOTE = ("**Trained experts need not match human topics.** The names *returns*, *shipping*, *catalog* "
               "and *billing* are the lesson's labels; a real router learns whatever split lowers the loss — "
               "often by token type or position — and nobody names its experts.")


def routing_table(r: Routing, tokens, experts) -> dict:
    """A toy routing's numbers (CSV columns): one row per (token, chosen expert)."""
    return {"token": [t for t in tokens for _ in range(r.k)],
            "expert": [experts[e] for e in r.chosen.ravel()],
            "logit": np.take_along_axis(r.logits, r.chosen, -1).ravel(),
            "probability_all_experts": np.take_along_axis(r.probs, r.chosen, -1).ravel(),
            "mixing_weight": r.weights.ravel()}


def weights_note(r: Routing, tokens) -> str:
    """Each token's summed mixing weight, when the weights are not renormalised."""
    return ("Without renormalising, a token's weights add up to less than 1: "
            + ", ".join(f"“{t}” {r.weights[i].sum():.3f}" for i, t in enumerate(tokens)) + ".")


def router_table(cap: RoutingCapture, layer: int, labels: list[str], experts: list[str]) -> dict:
    """One layer's router (CSV columns): each token's probability per expert, its choices and their weights."""
    probs, chosen, weights = cap.probs[layer], cap.model_chosen[layer], cap.model_weights[layer]
    return {"tokens": labels, **{f"p_{x}": probs[:, e] for e, x in enumerate(experts)},
            **{f"choice{s + 1}": [experts[e] for e in chosen[:, s]] for s in range(cap.top_k)},
            **{f"weight{s + 1}": weights[:, s] for s in range(cap.top_k)}}


def model_line(cap: RoutingCapture, model_name: str, label: str, tok: int) -> str:
    """The model's routing set-up and the token followed (markdown; name and token escaped)."""
    return (f"**{md(model_name)}**: {cap.n_layers} layers, {cap.n_experts} experts per layer, top-{cap.top_k} "
            f"(`num_experts_per_tok`), weights "
            f"{'renormalised over the chosen experts' if cap.renormalized else 'not renormalised'}. "
            f"Following “{md(label)}” (position {tok}).")


def router_explained(cap: RoutingCapture) -> str:
    same, werr = cap.agreement()
    return (f"Colour: the router's softmax over all {cap.n_experts} experts. Outlined cells: the top-{cap.top_k} the "
            f"model really used, labelled with their mixing weights. Recomputing the routing from the logits the "
            f"model returned picks the same experts for {same:.0%} of (layer, token) pairs, weights within "
            f"{werr:.0e}.")


def flow_explained(label: str) -> str:
    return (f"Bands: how many tokens move from one first-choice expert to another between layers. The "
            f"dark band is “{md(label)}”. Routers of different layers are independent: expert E1 of "
            f"layer 0 and E1 of layer 1 share nothing but a number.")


def capacity_explained(cap: RoutingCapture, aux_all: float, order: str) -> str:
    k = cap.top_k
    filled = ("token by token in text order, each token’s first choice before its second" if order == "position"
              else "with every token’s first choice (in text order) before any second choice")
    return (f"Switch/Mixtral load-balancing loss: E · Σᵢ fᵢ·Pᵢ, where fᵢ is the share of tokens routed to "
            f"expert i (top-{k} slots, so the shares add up to {k}) and Pᵢ its mean router probability. It "
            f"is smallest when routing is even; training adds it × `router_aux_loss_coef` "
            f"({cap.aux_coef:g}) to the loss, here {cap.aux_coef * aux_all:.4f}. Capacity: each expert "
            f"has ⌈factor × tokens × k / experts⌉ slots, filled {filled}. Mixtral itself never drops tokens "
            "(it is dropless); fixed-capacity systems such as Switch and GShard do.")


def size_table(size: MoeSize, dtype: str) -> dict:
    """The size chart's numbers: parameter counts and the bytes of every weight at `dtype`."""
    return {"total": size.total, "active": size.active, "shared": size.shared, "experts_total": size.experts_total,
            "experts_active": size.experts_active, "one_expert_one_layer": size.expert_one, "dtype": dtype,
            "bytes_total": size.bytes(size.total, dtype)}


def config_line(name: str, a: ArchConfig) -> str:
    """A preset's MoE fields as its config.json names them (markdown, with a link to the file)."""
    return (f"**{name}** ([config.json]({a.source})): `num_hidden_layers` {a.n_layers}, `hidden_size` "
            f"{a.hidden:,}, `intermediate_size` {a.intermediate:,} per expert, `num_local_experts` "
            f"{a.n_experts}, `num_experts_per_tok` {a.experts_per_token}, vocabulary {a.vocab:,}.")


def dense_note(a: ArchConfig, size: MoeSize, n_experts: int) -> str:
    """Why n experts are not n dense models: only the MLPs are copied (markdown)."""
    dense = moe_size(with_experts(a, 1, 1))
    return (f"Why not {n_experts} × the dense model? One expert per layer gives a dense twin of "
            f"**{dense.total / 1e9:,.2f}B**; {n_experts} of those would be "
            f"{n_experts * dense.total / 1e9:,.1f}B, but only the MLPs are copied — attention, embeddings "
            f"and norms ({size.shared / 1e9:,.2f}B) are shared, so the total is **{size.total / 1e9:,.1f}B**.")


def size_explained(a: ArchConfig, dtype: str) -> str:
    return (f"Counted from the config: attention (q, k, v, o), {'3' if a.mlp == 'gated' else '2'} matrices per "
            f"expert MLP, the router (hidden × experts), norms and embeddings. Memory is weights only, "
            f"{DTYPE_BITS[dtype] / 8:g} byte(s) per parameter, GB = 10⁹ bytes; the KV cache and activations come "
            "on top. Every expert has to be loaded because the next token may pick any of them: an MoE saves "
            "compute per token, not memory.")
