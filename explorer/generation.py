"""Step-by-step decoding with a KV cache: a trace of every choice, branches, logit lens, fill-mask.

One forward pass per new token, on the new token only: the keys and values of every earlier
position wait in a `DynamicCache`, exactly as `model.generate` keeps them, so a greedy run here is
`model.generate(do_sample=False)` token for token.

Decoding order (as transformers' logits processors do it): temperature, then top-k, then top-p on
the renormalised top-k distribution, then a draw. Every draw uses its own random stream seeded by
(seed, step), so a run — and any step of it after Back — replays exactly.

Shapes: attention rows are [layer, head, key]; hidden states [layer + 1, d_model] per position
(row 0 is the embedding output); logit-lens tables [layer + 1, position].
"""
from __future__ import annotations

import collections
import copy
import threading
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from explorer import hf, runtime
from explorer.errors import NotSupported
from explorer.forward import encode, forward
from explorer.models.loader import LoadedModel
from explorer.text import display_token, md

TRACE_K = 20            # candidates kept per step: the bar chart shows up to 20
MAX_NEW_TOKENS = 256    # interactive limit per branch
MAX_BRANCHES = 8


# ------------------------------------------------------------------ steps shared by every session of the process
class SharedSteps:
    """Computed decoding steps by request, shared read-only by every session, within `max_bytes` (least
    recently used leave first). Two sessions asking for the same step at once: the second waits for the first."""

    def __init__(self, max_bytes: int = 64 * 2**20):
        self.max_bytes = max_bytes
        self._items: "collections.OrderedDict[tuple, tuple]" = collections.OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._busy: dict[tuple, threading.Event] = {}
        self._lock = threading.Lock()
        self.computed = 0                        # how many steps were computed (not shared): for tests, benches

    def get(self, key: tuple, compute):
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
                wait = self._busy.get(key)
                if wait is None:
                    self._busy[key] = threading.Event()
                    break
            wait.wait(60)                        # the first asker computes it; then it is here (or failed)
        try:
            value = compute()
        except BaseException:
            with self._lock:
                self._busy.pop(key).set()
            raise
        size = _nbytes(value)
        with self._lock:
            self.computed += 1
            self._items[key], self._sizes[key] = value, size
            while sum(self._sizes.values()) > self.max_bytes and len(self._items) > 1:
                old, _ = self._items.popitem(last=False)
                del self._sizes[old]
            self._busy.pop(key).set()
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()


def _nbytes(value) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value) + 64
    if isinstance(value, StepTrace):
        return sum(_nbytes(v) for v in vars(value).values()) + 64 * len(value.tokens)
    return 64



# ------------------------------------------------------------------ settings and per-step trace
@dataclass(frozen=True)
class Sampling:
    greedy: bool = False
    temperature: float = 1.0   # 0.1 .. 2
    top_k: int = 0             # 0 = off
    top_p: float = 1.0         # 1 = off
    seed: int = 0


@dataclass
class StepTrace:
    """What the decoder saw and did at one step. Arrays are over the top TRACE_K tokens by logit."""
    step: int                  # index of the generated token (0 = first new token)
    position: int              # its position in the sequence
    token_id: int
    forced: bool               # picked by the user (a branch), not drawn by the decoder
    ids: np.ndarray            # int64 [K], descending logit
    tokens: list[str]          # readable pieces of `ids`
    p_model: np.ndarray        # float32 [K] softmax(logits): the model's own distribution
    p_temp: np.ndarray         # float32 [K] softmax(logits / temperature)
    p_final: np.ndarray        # float32 [K] after top-k and top-p, renormalised: what is drawn from
    cum_filtered: np.ndarray   # float32 [K] cumulative mass top-p looks at (after temperature and top-k)
    kept: int                  # how many tokens survive top-k/top-p (1 for greedy)
    entropy: float             # bits, of the model's own distribution
    entropy_final: float       # bits, of the distribution drawn from
    chosen_p_model: float
    chosen_p_temp: float
    chosen_p_final: float
    chosen_rank: int           # 0 = most likely; TRACE_K or more when it is outside the trace
    attention: np.ndarray      # float16 [layer, head, key]: the newest input token's attention row

    @property
    def token(self) -> str:
        i = self.rank_in_trace
        return self.tokens[i] if i is not None else f"#{self.token_id}"

    @property
    def rank_in_trace(self) -> int | None:
        hits = np.flatnonzero(self.ids == self.token_id)
        return int(hits[0]) if hits.size else None


def _bits(p: torch.Tensor, logp: torch.Tensor) -> float:
    """Entropy in bits; never below 0 (one token left gives -0.0, which a caption would print as "-0.00")."""
    return max(0.0, float(-(p * logp).sum() / np.log(2.0)))


def filter_distribution(logits: torch.Tensor, s: Sampling) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Temperature, top-k, top-p on a logits vector [vocab].

    Returns (ids, probs, cum): the surviving token ids in descending order, their renormalised
    probabilities, and the cumulative mass of the temperature + top-k distribution over the first
    TRACE_K ranks (the curve on which the top-p cut-off is drawn). Top-p keeps the smallest set
    whose mass reaches p (at least one token).
    """
    scaled = logits / s.temperature
    k = s.top_k if 0 < s.top_k < scaled.numel() else scaled.numel()
    if k < scaled.numel() or s.top_p < 1.0:
        vals, ids = torch.topk(scaled, k) if k < scaled.numel() else torch.sort(scaled, descending=True)
    else:   # no truncation: only the head of the ranking is needed for the trace and the curve
        vals, ids = torch.topk(scaled, min(TRACE_K, k))
        probs_all = torch.softmax(scaled, -1)
        head = probs_all[ids]
        return None, probs_all, torch.cumsum(head, 0)   # None: every token survives
    probs = torch.softmax(vals, -1)
    cum = torch.cumsum(probs, 0)
    if s.top_p < 1.0:
        # first rank whose cumulative mass reaches p; a hair of tolerance for float32 sums
        n = int(torch.searchsorted(cum, torch.tensor([s.top_p - 1e-6]), right=False)[0]) + 1
        n = max(1, min(n, probs.numel()))
    else:
        n = probs.numel()
    kept_ids, kept = ids[:n], probs[:n] / probs[:n].sum()
    return kept_ids, kept, cum[:TRACE_K]


def draw(probs: np.ndarray, seed: int, step: int) -> int:
    """Index drawn from `probs` (sums to 1) with the stream of (seed, step): replayable by design."""
    u = np.random.default_rng([seed, step]).random()
    cum = np.cumsum(probs, dtype=np.float64)
    return int(min(np.searchsorted(cum, u * cum[-1], side="right"), len(probs) - 1))


# ------------------------------------------------------------------ one line of text being written
@dataclass
class Branch:
    ids: list[int]                       # prompt + generated
    n_prompt: int
    steps: list[StepTrace] = field(default_factory=list)
    hidden: list[np.ndarray] = field(default_factory=list)   # float16 [layer + 1, d] per fed position
    parent: int | None = None
    fork_step: int | None = None         # the step at which this branch chose differently
    cache: object | None = None          # DynamicCache of ids[:-1] (the last id is fed next); None = rebuild
    lens_memo: dict = field(default_factory=dict)
    preview_memo: tuple | None = None    # ((length, last id), StepTrace of the next step not yet taken)

    @property
    def generated(self) -> list[int]:
        return self.ids[self.n_prompt:]


class Generation:
    """A decoding run: one model, one prompt, one set of sampling settings, and its branches.

    `step()` adds one token to the active branch with one forward pass over the tokens the cache
    does not hold yet (the whole prompt the first time, then only the newest token).
    """

    def __init__(self, lm: LoadedModel, prompt_ids: list[int], sampling: Sampling,
                 max_new_tokens: int = 64, eos_ids: set[int] | None = None, eos_off_from: int | None = None,
                 shared: "SharedSteps | None" = None, extra: dict | None = None):
        """The run keeps the tokenizer and config, not the model: every step is handed the loaded model
        (`step(lm)`), so a run kept in a session never holds a model the process has let go of.

        shared: a store of steps shared by every run given it (the app's sessions: explorer.ui.generation).
        extra: model inputs for the pass that reads the prompt (a vision-language model's pixel_values); a run
        with extra inputs never uses the shared store (its key is the ids, which do not name the image)."""
        if not prompt_ids:
            raise ValueError("the prompt has no tokens")
        model, tokenizer = lm.model, lm.tokenizer
        self.tokenizer, self.sampling, self.config = tokenizer, sampling, model.config
        limit = lm.max_length
        self.max_positions = limit
        self.requested_new = max_new_tokens
        self.max_new_tokens = max(0, min(max_new_tokens, MAX_NEW_TOKENS, limit - len(prompt_ids)))
        if eos_ids is None:
            eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
            if eos is None:   # (id 0 is a real end-of-text id in the bundled models: test for None)
                eos = getattr(tokenizer, "eos_token_id", None)
            eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        self.eos_ids = set(eos_ids)
        # from this step on, end-of-text is never drawn ("continue past end-of-text"): its logit is set to
        # -inf before temperature / top-k / top-p, as transformers' suppress_tokens does; the model's own
        # distribution (p_model) still shows how likely it found ending there. None = the model may end.
        self.eos_off_from = eos_off_from
        # a vision-language model's image placeholder is never drawn: it stands for pixels only the prompt has
        # (drawn, the next pass would find more placeholders than image features and fail)
        image_id = getattr(model.config, "image_token_index", getattr(model.config, "image_token_id", None))
        self.never_ids = set() if image_id is None else {int(image_id)}
        self.shared = None if extra else shared
        self.extra = extra
        self.branches = [Branch(list(prompt_ids), len(prompt_ids))]
        self.active = 0
        self._pieces: dict[int, str] = {}

    # ---------------------------------------------------------------- properties
    @property
    def branch(self) -> Branch:
        return self.branches[self.active]

    @property
    def capped(self) -> bool:
        """True when the model's position limit (or the interactive limit) cut the requested length."""
        return self.max_new_tokens < self.requested_new

    def eos_suppressed(self, step: int) -> bool:
        return self.eos_off_from is not None and step >= self.eos_off_from

    def done(self, b: Branch | None = None) -> str | None:
        b = b or self.branch
        if b.steps and b.steps[-1].token_id in self.eos_ids:
            return "end-of-text"
        if len(b.steps) >= self.max_new_tokens:
            return "length limit"
        return None

    def piece(self, token_id: int) -> str:
        if token_id not in self._pieces:
            self._pieces[token_id] = display_token(self.tokenizer.convert_ids_to_tokens(int(token_id)))
        return self._pieces[token_id]

    def text(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    # ---------------------------------------------------------------- stepping
    def _forward(self, lm: LoadedModel, b: Branch):
        """Feed the ids the cache lacks; return (logits [vocab] of the last position, attention row)."""
        if b.cache is None:
            b.cache = hf.new_cache(self.config)
        start = hf.cache_length(b.cache)
        # positions continue after the cache, as generate() derives them (no padding: arange)
        pos = torch.arange(start, len(b.ids)).unsqueeze(0)
        run = forward(lm, b.ids[start:], cache=b.cache, position_ids=pos, attentions=True, hidden_states=True,
                      extra=self.extra if start == 0 else None)
        out, b.cache = run.output, run.cache
        hs = torch.stack(out.hidden_states, 0)[:, 0].to(torch.float16).numpy()   # [layer + 1, new, d]
        del b.hidden[start:]
        b.hidden.extend(hs[:, i].copy() for i in range(hs.shape[1]))
        attn = torch.stack([a[0, :, -1, :] for a in out.attentions], 0)           # [layer, head, key]
        return out.logits[0, -1].float(), attn.to(torch.float16).numpy()

    def step(self, lm: LoadedModel, force_token: int | None = None) -> StepTrace | None:
        """Generate one token on the active branch (or put `force_token` there); None when done.

        A step is a pure function of (model, ids so far, sampling, step, end-of-text rule, forced token): a
        class on the teacher's link asks for the same steps, so with a `shared` store each is computed once
        per process and its trace shared read-only. A session that takes a shared step feeds its KV cache later: the next
        step it computes itself feeds every id its cache lacks."""
        b = self.branch
        if self.done(b):
            return None
        fed = len(b.hidden)
        key = (lm.key, tuple(b.ids), fed, self.sampling, len(b.steps), self.eos_suppressed(len(b.steps)),
               None if force_token is None else int(force_token), self.max_positions)

        def compute():
            logits, attn = self._forward(lm, b)
            trace = self._trace(logits, attn, len(b.steps), len(b.ids), force_token)
            for a in (trace.ids, trace.p_model, trace.p_temp, trace.p_final, trace.cum_filtered, trace.attention,
                      *b.hidden[fed:]):
                a.setflags(write=False)          # shared by sessions: read-only
            return trace, (fed, tuple(b.hidden[fed:]))
        if self.shared is None:
            trace = compute()[0]
        else:
            trace, (_, rows) = self.shared.get(key, compute)
            if len(b.hidden) == fed:             # a shared step: the rows of the positions it fed
                b.hidden.extend(rows)
        b.steps.append(trace)
        b.ids.append(trace.token_id)
        return trace

    def _trace(self, logits: torch.Tensor, attn: np.ndarray, step: int, position: int,
               force_token: int | None) -> StepTrace:
        s = self.sampling
        logp = torch.log_softmax(logits, -1)
        p = logp.exp()
        top_ids = torch.topk(logits, min(TRACE_K, logits.numel())).indices   # (a tiny vocabulary has fewer)
        drawn = logits
        off = self.never_ids | (self.eos_ids if self.eos_suppressed(step) else set())
        if off:
            drawn = logits.clone()
            drawn[sorted(off)] = float("-inf")
        if s.greedy:
            p_temp, kept_ids, kept_p = p, torch.argmax(drawn).reshape(1), torch.ones(1)
            cum = torch.cumsum(p[top_ids], 0)
        else:
            p_temp = torch.softmax(drawn / s.temperature, -1)
            kept_ids, kept_p, cum = filter_distribution(drawn, s)
        if kept_ids is None:          # nothing truncated: the temperature distribution is drawn from
            final = kept_p
        else:
            final = torch.zeros_like(p).index_put_((kept_ids,), kept_p)
        if force_token is not None:
            token = int(force_token)
        elif s.greedy:
            token = int(kept_ids[0])
        elif kept_ids is None:        # draw over the whole vocabulary, in id order
            token = draw(final.double().numpy(), s.seed, step)
        else:
            token = int(kept_ids[draw(kept_p.double().numpy(), s.seed, step)])
        nz = final[final > 0]
        ids = top_ids.numpy().astype(np.int64)
        return StepTrace(
            step=step, position=position, token_id=token, forced=force_token is not None,
            ids=ids, tokens=[self.piece(i) for i in ids],
            p_model=p[top_ids].numpy().astype(np.float32), p_temp=p_temp[top_ids].numpy().astype(np.float32),
            p_final=final[top_ids].numpy().astype(np.float32), cum_filtered=cum.numpy().astype(np.float32),
            kept=int(nz.numel()), entropy=_bits(p, logp), entropy_final=_bits(nz, torch.log(nz)),
            chosen_p_model=float(p[token]), chosen_p_temp=float(p_temp[token]), chosen_p_final=float(final[token]),
            chosen_rank=int((logits > logits[token]).sum()), attention=attn)

    def preview(self, lm: LoadedModel) -> StepTrace | None:
        """What the next step of the active branch would be (its distribution, and the token the seeded draw
        picks), without taking it: one forward pass into a throw-away cache, kept until the branch changes.
        Lets a page show the prompt's next-token bars on arrival, before anyone presses Step or Play."""
        b = self.branch
        if self.done(b):
            return None
        key = (len(b.ids), b.ids[-1])
        memo = b.preview_memo
        if memo is None or memo[0] != key:
            run = forward(lm, b.ids, cache=hf.new_cache(self.config),
                          position_ids=torch.arange(len(b.ids)).unsqueeze(0), attentions=True)
            attn = torch.stack([a[0, :, -1, :] for a in run.output.attentions], 0).to(torch.float16).numpy()
            memo = (key, self._trace(run.output.logits[0, -1].float(), attn, len(b.steps), len(b.ids), None))
            b.preview_memo = memo
        return memo[1]

    def run(self, lm: LoadedModel, n: int) -> int:
        """Up to n more steps, holding one place in the forward-pass queue for all of them (not one wait per
        token behind every other session's request); returns how many were taken."""
        taken = 0
        with runtime.GATE.slot():
            while taken < n and self.step(lm) is not None:
                taken += 1
        return taken

    def back(self) -> bool:
        """Undo the active branch's last token (not past its fork: that step belongs to the choice)."""
        b = self.branch
        floor = (b.fork_step + 1) if b.fork_step is not None else 0
        if len(b.steps) <= floor:
            return False
        b.steps.pop()
        b.ids.pop()
        b.lens_memo.clear()
        if b.cache is not None:
            hf.crop_cache(b.cache, len(b.ids) - 1)
        return True

    def reset(self) -> None:
        root = self.branches[0]
        self.branches = [Branch(root.ids[:root.n_prompt], root.n_prompt)]
        self.active = 0

    # ---------------------------------------------------------------- branching
    def fork(self, lm: LoadedModel, at_step: int, token_id: int) -> int:
        """A new branch that takes `token_id` at `at_step` of the active branch; it becomes active."""
        src = self.branch
        if not 0 <= at_step < len(src.steps):
            raise ValueError(f"no step {at_step} in this branch")
        if len(self.branches) >= MAX_BRANCHES:
            raise ValueError(f"at most {MAX_BRANCHES} branches; reset to start over")
        old = src.steps[at_step]
        j = np.flatnonzero(old.ids == token_id)
        if not j.size:
            raise ValueError("branches choose among the step's top candidates")
        j = int(j[0])
        choice = replace(old, token_id=int(token_id), forced=True, chosen_rank=j,
                         chosen_p_model=float(old.p_model[j]), chosen_p_temp=float(old.p_temp[j]),
                         chosen_p_final=float(old.p_final[j]))
        at_pos = src.n_prompt + at_step
        new = Branch(src.ids[:at_pos] + [int(token_id)], src.n_prompt, src.steps[:at_step] + [choice],
                     [h for h in src.hidden[:at_pos]], parent=self.active, fork_step=at_step)
        if src.cache is not None:   # reuse the shared prefix's keys and values
            new.cache = copy.deepcopy(src.cache)
            hf.crop_cache(new.cache, at_pos)
        self.branches.append(new)
        self.activate(lm, len(self.branches) - 1)
        return self.active

    def activate(self, lm: LoadedModel, i: int) -> None:
        """Make branch i the one that steps; other branches drop their caches (memory stays bounded)."""
        if not 0 <= i < len(self.branches):
            raise ValueError(f"no branch {i}")
        self.active = i
        for j, b in enumerate(self.branches):
            if j != i:
                b.cache = None
        b = self.branch
        if b.cache is None and b.steps:
            # rebuild the cache of ids[:-1] in one pass (no trace: those steps are already recorded)
            run = forward(lm, b.ids[:-1], cache=hf.new_cache(self.config),
                          position_ids=torch.arange(len(b.ids) - 1).unsqueeze(0), hidden_states=True)
            out, b.cache = run.output, run.cache
            hs = torch.stack(out.hidden_states, 0)[:, 0].to(torch.float16).numpy()
            b.hidden = [hs[:, k].copy() for k in range(hs.shape[1])]

    # ---------------------------------------------------------------- logit lens
    def lens(self, lm: LoadedModel, step: int, window: int = 12) -> "LensTable":
        """The logit lens of the active branch at `step`: the inputs that produced steps <= step."""
        b = self.branch
        key = (step, window)
        if key not in b.lens_memo:
            end = b.n_prompt + step                        # column end-1 predicts step `step`
            start = max(0, end - window)
            b.lens_memo[key] = logit_lens(lm.model, np.stack(b.hidden[start:end], 0),
                                          [self.piece(i) for i in b.ids[start:end]], start, self.piece)
        return b.lens_memo[key]


# ------------------------------------------------------------------ logit lens
@dataclass
class LensTable:
    layers: list[str]          # "embeddings", "layer 1", ... "layer L"
    positions: list[int]
    inputs: list[str]          # the input token at each column
    top_ids: np.ndarray        # int64 [layer + 1, position]
    top_tokens: list[list[str]]
    top_probs: np.ndarray      # float32 [layer + 1, position]

    def table(self) -> dict:
        """CSV columns: layer, position, top token, its probability."""
        return {"layer": self.layers, "position": self.positions, "top_token": self.top_tokens,
                "probability": self.top_probs}


def final_norm(model):
    """The model's own last normalisation before the unembedding (GPT-2: ln_f; Llama: model.norm)."""
    return hf.final_norm(model)


@torch.no_grad()
def lens_topk(model, hidden: np.ndarray | torch.Tensor, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The logit lens itself: hidden [layer + 1, position, d], the model's hidden states as transformers
    returns them (row 0 the embedding output, the LAST row already through the final norm). Every other
    row goes through the model's own final norm, then the unembedding, as the model treats its last
    layer (skipping the norm makes early layers look wrong). The last row then reads out exactly the
    model's own prediction.

    Returns (ids int64 [layer + 1, position, k], probs float32 [layer + 1, position, k]), best first.
    """
    h = torch.as_tensor(hidden).float()
    normed = torch.cat([final_norm(model)(h[:-1]), h[-1:]], 0)
    logits = model.get_output_embeddings()(normed).float()
    probs, ids = torch.topk(torch.softmax(logits, -1), k, dim=-1)
    return ids.numpy().astype(np.int64), probs.numpy().astype(np.float32)


def logit_lens(model, hidden: np.ndarray, inputs: list[str], first_position: int, piece) -> LensTable:
    """hidden: [position, layer + 1, d] (as a Branch keeps them) -> the top prediction of every layer at
    every position (lens_topk with k = 1)."""
    ids, probs = lens_topk(model, hidden.astype(np.float32).transpose(1, 0, 2), 1)
    ids, probs = ids[..., 0], probs[..., 0]
    n_layers = ids.shape[0] - 1
    return LensTable(["embeddings"] + [f"layer {i}" for i in range(1, n_layers + 1)],
                     list(range(first_position, first_position + ids.shape[1])), inputs, ids,
                     [[piece(int(i)) for i in row] for row in ids], probs)


# ------------------------------------------------------------------ fill-mask (encoders)
@dataclass
class MaskFill:
    position: int
    candidates: list[str]
    ids: list[int]
    probs: np.ndarray          # float32 [k]


@dataclass
class FillMaskResult:
    tokens: list[str]
    masks: list[MaskFill]
    truncated: bool


MASK_IN_TEXT = "[MASK]"


def fill_mask(lm: LoadedModel, text: str, k: int = 5, max_masks: int = 10) -> FillMaskResult:
    """Top-k candidates for every [MASK] in `text` (all masks predicted at once, bidirectionally)."""
    tok, model = lm.tokenizer, lm.model
    if tok.mask_token is None:
        raise NotSupported(f"{lm.spec.display_name}'s tokenizer has no mask token, so there is no blank to fill; "
                           "choose a masked-language model such as BERT in the sidebar.")
    if not hasattr(model, "get_output_embeddings") or model.get_output_embeddings() is None:
        raise NotSupported(f"{lm.spec.display_name} is a bare encoder, saved without its masked-language-model "
                           "head, so it cannot guess the blanks (its attention can still be seen on the "
                           "Attention page); choose a model saved with that head, such as tiny-bert.")
    run = forward(lm, encode(lm, text.replace(MASK_IN_TEXT, tok.mask_token)), hooks=("logits",))
    enc, logits = run.enc, run["logits"]
    where = [i for i, t in enumerate(enc.ids) if t == tok.mask_token_id][:max_masks]
    masks = []
    for i in where:
        p = torch.softmax(logits[i].float(), -1)
        vals, top = torch.topk(p, k)
        masks.append(MaskFill(i, [display_token(t) for t in tok.convert_ids_to_tokens(top.tolist())],
                              top.tolist(), vals.numpy().astype(np.float32)))
    return FillMaskResult([display_token(t) for t in enc.tokens], masks, enc.truncated)


# ------------------------------------------------------------------ what the Generation page says about a run
ENCODER_NOTE = ("An encoder such as BERT sees the whole sentence at once, in both directions, so it cannot write "
                "left to right; what it can do is fill in blanks. Put `[MASK]` where a word is missing.")
FILL_MASK_EXPLAINED = ("All masks are predicted **at once** from one forward pass: each [MASK] sees every other "
                       "token, left and right. A decoder sees only the left, which is what lets it write one token "
                       "after another.")
SAMPLING_HELP = {   # url name -> the help of its control
    "temp": "Logits are divided by T before the softmax: T < 1 sharpens, T > 1 flattens.",
    "topk": "Keep only the k most likely tokens, then renormalise.",
    "topp": "Keep the smallest set of most likely tokens whose probability reaches p.",
    "seed": "Same seed, same settings, same text: every step draws from its own seeded stream.",
    "color": "probability: how likely the model (T = 1) found the token it wrote. "
             "entropy: how unsure it was at that step, in bits.",
}
LENS_EXPLAINED = ("Each layer's residual stream sent through the final layer norm and the unembedding, "
                  "as the model does after its last layer. The top row is the model's own prediction; "
                  "lower rows show what it 'would have said' after fewer layers.")


def sampling_for(mode: str, temperature: float, top_k: int, top_p: float, seed: int) -> Sampling:
    """The decoding controls as Sampling settings (mode "greedy": argmax, the rest ignored)."""
    if mode == "greedy":
        return Sampling(greedy=True)
    return Sampling(temperature=float(temperature), top_k=int(top_k), top_p=float(top_p), seed=int(seed))


def cap_note(run: Generation, model_name: str, n_prompt: int) -> str:
    """Why fewer new tokens than asked for (markdown; the model name is escaped)."""
    return (f"At most {run.max_new_tokens} new tokens here: {md(model_name)} has "
            f"{run.max_positions} positions and the prompt takes {n_prompt}.")


def progress_line(run: Generation) -> str:
    """How far the active branch has got, why it stopped, which branch it is."""
    done, n = run.done(), len(run.branch.steps)
    return (f"{n} of {run.max_new_tokens} new tokens" + (f" · stopped: {done}" if done else "")
            + (f" · branch {run.active + 1} of {len(run.branches)}" if len(run.branches) > 1 else ""))


def end_notes(run: Generation) -> tuple[str, str]:
    """(the model ended its text at the last step, end-of-text is suppressed from a step on): markdown, the
    end-of-text token escaped."""
    end = md(run.tokenizer.eos_token or "end-of-text")          # the token's text is not markdown
    return (f"The model ended its text: at step {len(run.branch.steps)} it chose end-of-text ({end}), the token "
            "that closed every document it was trained on. Continue to watch it write on with that token "
            "suppressed.",
            f"End-of-text ({end}) suppressed from step {(run.eos_off_from or 0) + 1} on: the model may not end "
            "its text there; the chart still shows its own probability of ending.")


@dataclass
class Timeline:
    """The written text as the timeline chart draws it, coloured by probability or entropy."""
    prompt: list[str]             # the prompt's pieces (line breaks shown as ⏎)
    pieces: list[str]             # the written pieces (line breaks shown as ⏎)
    values: np.ndarray            # the colour of each written piece
    vmax: float                   # the top of the colour scale
    data: dict                    # CSV columns: step, token, probability, entropy_bits
    caption: str                  # what the colours mean


def timeline(run: Generation, color: str) -> Timeline:
    """The active branch's timeline, coloured by "probability" (the model's, T = 1) or "entropy" (bits)."""
    b = run.branch
    values = np.array([s.chosen_p_model if color == "probability" else s.entropy for s in b.steps])
    vmax = 1.0 if color == "probability" else max(float(values.max()), 1.0)
    pieces = [run.text([s.token_id]) for s in b.steps]
    scale = ("the probability the model (T = 1) gave each written token, from 0 (dark) to 1 (yellow)"
             if color == "probability" else f"the entropy of each step, from 0 (dark) to {vmax:.1f} bits (yellow)")
    return Timeline([run.text([i]).replace("\n", "⏎") for i in b.ids[:b.n_prompt]],
                    [p.replace("\n", "⏎") for p in pieces], values, vmax,
                    {"step": list(range(1, len(b.steps) + 1)), "token": pieces,
                     "probability": [s.chosen_p_model for s in b.steps], "entropy_bits": [s.entropy for s in b.steps]},
                    f"Colour: {scale}. Grey: the prompt.")


def step_line(run: Generation, s: StepTrace) -> str:
    """The step on screen: its token (in a code span: no markdown), probability, rank and entropy."""
    where = f"step {s.step + 1}: `{run.piece(s.token_id).replace('`', 'ˋ')}`"
    return (f"Showing {where} — model probability {s.chosen_p_model:.1%}, rank {s.chosen_rank + 1}, "
            f"entropy {s.entropy:.2f} bits" + (" · chosen by you (a branch)" if s.forced else ""))


def before_after(s: StepTrace, sampling: Sampling, k: int) -> dict[str, np.ndarray]:
    """The top k of one step before and after temperature / top-k / top-p: {series name: probabilities}."""
    series = {"model (T = 1)": s.p_model[:k]}
    if not sampling.greedy:
        series[f"temperature {sampling.temperature:g}"] = s.p_temp[:k]
    series["drawn from (after top-k / top-p)" if not sampling.greedy else "greedy: argmax only"] = s.p_final[:k]
    return series


def chosen_in_top(s: StepTrace, k: int) -> int | None:
    """Where the chosen token is among the top k bars (None: not among them)."""
    rank = s.rank_in_trace
    return rank if rank is not None and rank < k else None


def alternatives(run: Generation, s: StepTrace) -> dict[int, str]:
    """The other tokens of a step's trace, most likely first: {token id: "piece  (model probability)"}."""
    return {int(i): f"{run.piece(int(i))}  ({float(p):.1%})" for i, p in zip(s.ids, s.p_model) if int(i) != s.token_id}


def branch_label(run: Generation, i: int) -> str:
    """One line about branch i: where it came from, its length, whether it is on screen."""
    br = run.branches[i]
    head = "the original run" if br.parent is None else f"from branch {br.parent + 1} at step {br.fork_step + 1}"
    return f"Branch {i + 1} ({head}, {len(br.steps)} tokens)" + (" · on screen" if i == run.active else "")


def attention_note(s: StepTrace, keys: list[str]) -> str:
    """What the newest token's attention chart shows (markdown; the token in a code span)."""
    newest = keys[-1].replace("`", "ˋ")
    return (f"Row by row, where the token at position {s.position - 1} (`{newest}`), which predicts step "
            f"{s.step + 1}, looked among the {len(keys)} tokens so far (eager attention of this step's "
            "forward pass; earlier keys and values come from the KV cache).")
