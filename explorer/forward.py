"""Text -> ids -> one forward pass -> named activations: the one way the engine runs a model.

    from explorer.forward import encode, forward
    enc = encode(lm, "The cat sat on the mat.", max_tokens=64)     # Encoded: ids, tokens, truncated, ...
    run = forward(lm, enc, hooks=("blocks.*.attn.hook_q", "blocks.*.attn.hook_k"), attentions=True)
    run.stack("blocks.*.attn.hook_q")        # [layer, pos, head, d_head]
    run["blocks.0.attn.hook_pattern"]        # [head, query, key]

Capture points (names in TransformerLens' spirit; `i` is the block index; every tensor is for the one
sequence of the pass, so the batch axis is gone; float32 unless noted):

    hook_embed                       [pos, d_model]       token embeddings (rows of the embedding table)
    hook_pos_embed                   [pos, d_model]       learned position embeddings (GPT-2; absent with RoPE)
    blocks.{i}.hook_resid_pre        [pos, d_model]       residual stream entering block i (i = 0: embeddings)
    blocks.{i}.hook_attn_out         [pos, d_model]       what block i's attention adds to the stream
    blocks.{i}.hook_mlp_out          [pos, d_model]       what block i's MLP adds to the stream
    ln_final.hook_normalized         [pos, d_model]       last block's output after the final norm
    blocks.{i}.attn.hook_q           [pos, head, d_head]  queries before any rotary step (after q_norm if any)
    blocks.{i}.attn.hook_k           [pos, kv_head, d_head] keys before any rotary step
    blocks.{i}.attn.hook_pattern     [head, query, key]   attention probabilities (rows sum to 1)
    blocks.{i}.attn.hook_k_cached    [kv_head, pos, d_head] keys as the KV cache stores them (after rotary)
    blocks.{i}.mlp.hook_in           [pos, d_model]       input of an MoE block (after its pre-norm)
    blocks.{i}.mlp.hook_router_logits [pos, expert]       the router's logits
    blocks.{i}.mlp.hook_route_weights [pos, k]            mixing weights the router gave the chosen experts
    blocks.{i}.mlp.hook_route_experts [pos, k] (int64)    the experts it chose
    logits                           [pos, vocab]

Hooks are forward hooks on the model's own modules (found by explorer.hf) or the model's own outputs
(output_attentions / output_hidden_states / output_router_logits / its KV cache), never a re-implementation.
The model is shared by every session of the process: hooked passes hold a lock and record only the
calling thread's pass.
"""
from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import torch

from explorer import hf, runtime
from explorer.text import Encoded
from explorer.text import encode as _encode_with

if TYPE_CHECKING:
    from explorer.models.loader import LoadedModel

POINTS = {   # name pattern -> (shape, what)
    "hook_embed": ("[pos, d_model]", "token embeddings"),
    "hook_pos_embed": ("[pos, d_model]", "learned position embeddings (GPT-2 only)"),
    "blocks.{i}.hook_attn_out": ("[pos, d_model]", "what block i's attention sub-layer adds to the stream"),
    "blocks.{i}.hook_mlp_out": ("[pos, d_model]", "what block i's MLP sub-layer adds to the stream"),
    "blocks.{i}.hook_resid_pre": ("[pos, d_model]", "residual stream entering block i (block 0: the embeddings)"),
    "ln_final.hook_normalized": ("[pos, d_model]", "the last block's output after the final norm"),
    "blocks.{i}.attn.hook_q": ("[pos, head, d_head]", "queries before any rotary step (after q_norm if any)"),
    "blocks.{i}.attn.hook_k": ("[pos, kv_head, d_head]", "keys before any rotary step (after k_norm if any)"),
    "blocks.{i}.attn.hook_pattern": ("[head, query, key]", "attention probabilities"),
    "blocks.{i}.attn.hook_k_cached": ("[kv_head, pos, d_head]", "keys as the KV cache stores them"),
    "blocks.{i}.mlp.hook_in": ("[pos, d_model]", "input of an MoE block"),
    "blocks.{i}.mlp.hook_router_logits": ("[pos, expert]", "router logits"),
    "blocks.{i}.mlp.hook_route_weights": ("[pos, k]", "mixing weights of the chosen experts"),
    "blocks.{i}.mlp.hook_route_experts": ("[pos, k]", "the chosen experts (int64)"),
    "logits": ("[pos, vocab]", "next-token logits"),
}

_lock = threading.Lock()


def encode(lm: "LoadedModel", text: str, max_tokens: int | None = None, add_special_tokens: bool = True) -> Encoded:
    """Tokenize for this model, keeping at most min(max_tokens, the model's position limit) tokens."""
    limit = lm.max_length if max_tokens is None else min(int(max_tokens), lm.max_length)
    enc = _encode_with(lm.tokenizer, text, max(1, limit), add_special_tokens)
    if not enc.ids:
        raise ValueError("the text has no tokens")
    return enc


@dataclass
class Run:
    """One forward pass: its input, the model's own output object and the captured activations."""
    enc: Encoded                          # its tokens are empty when the pass was given bare ids
    output: object                        # the model's ModelOutput (logits, attentions, its cache, ...)
    captures: dict[str, torch.Tensor] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def cache(self):
        """The KV cache after this pass (when it used one)."""
        return hf.output_cache(self.output)

    @property
    def ids(self) -> list[int]:
        return self.enc.ids

    @property
    def tokens(self) -> list[str]:
        return self.enc.tokens

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self.captures[name]
        except KeyError:
            raise KeyError(f"{name!r} was not captured; captured: {sorted(self.captures)[:6]}…") from None

    def __contains__(self, name: str) -> bool:
        return name in self.captures

    def stack(self, pattern: str) -> torch.Tensor:
        """Every block's capture of one point, stacked: "blocks.*.attn.hook_q" -> [layer, ...]."""
        names = sorted((n for n in self.captures if fnmatch.fnmatchcase(n, pattern)),
                       key=lambda n: int(n.split(".")[1]))
        if not names:
            raise KeyError(f"nothing captured matches {pattern!r}")
        return torch.stack([self.captures[n] for n in names])


def _wanted(hooks: Iterable[str], point: str, n_layers: int) -> list[int]:
    """Block indices i for which blocks.{i}.<point> is asked for (patterns allowed: blocks.*.attn.hook_q)."""
    return [i for i in range(n_layers) if any(fnmatch.fnmatchcase(f"blocks.{i}.{point}", h) for h in hooks)]


@torch.no_grad()
def forward(lm: "LoadedModel", enc: Encoded | list[int], hooks: Iterable[str] = (), *, attentions: bool = False,
            hidden_states: bool = False, router_logits: bool = False, cache=None, use_cache: bool = False,
            position_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
            logits_to_keep: int = 0, extra: dict | None = None) -> Run:
    """One forward pass over `enc` (or ids), recording the named capture points asked for in `hooks`.

    attentions / hidden_states / router_logits switch on the model's own outputs (and the capture points
    made from them); cache (a KV cache to extend) / use_cache / position_ids pass through for step-by-step decoding,
    where `enc` holds only the ids the cache lacks. attention_mask: a 4-D additive mask [1, 1, T, T] used as
    it is (e.g. a sliding window, explorer.efficient) instead of the model's plain one. logits_to_keep:
    compute the logits of the last n positions only (0: all), when only the next token matters. extra: more
    model inputs passed as they are (a vision-language model's pixel_values).
    """
    model = lm.model
    if not isinstance(enc, Encoded):   # ids already made (decoding steps): no token pieces are looked up
        ids = [int(i) for i in enc]
        enc = Encoded(ids, [], False, len(ids))
    hooks = tuple(hooks)
    n_layers = len(hf.blocks(model)) if hooks else 0
    want_q = _wanted(hooks, "attn.hook_q", n_layers)
    want_k = _wanted(hooks, "attn.hook_k", n_layers)
    want_in = _wanted(hooks, "mlp.hook_in", n_layers)
    want_attn_out = _wanted(hooks, "hook_attn_out", n_layers)
    want_mlp_out = _wanted(hooks, "hook_mlp_out", n_layers)
    want_embed = [name for name in ("hook_embed", "hook_pos_embed") if any(fnmatch.fnmatchcase(name, h) for h in hooks)]
    want_route = sorted(set(_wanted(hooks, "mlp.hook_route_weights", n_layers))
                        | set(_wanted(hooks, "mlp.hook_route_experts", n_layers)))
    attentions = attentions or bool(_wanted(hooks, "attn.hook_pattern", n_layers))
    hidden_states = hidden_states or bool(_wanted(hooks, "hook_resid_pre", n_layers)) or \
        any(fnmatch.fnmatchcase("ln_final.hook_normalized", h) for h in hooks)
    router_logits = router_logits or bool(_wanted(hooks, "mlp.hook_router_logits", n_layers))
    use_cache = use_cache or cache is not None or bool(_wanted(hooks, "attn.hook_k_cached", n_layers))

    me = threading.get_ident()
    got: dict[str, torch.Tensor] = {}

    def record(name, fn=lambda o: o):
        def hook(module, args, output):
            if threading.get_ident() == me:
                got[name] = fn(output)
        return hook

    handles = []
    T = len(enc.ids)
    if want_q or want_k:
        sites = hf.qk_sites(model)
        for i in sorted(set(want_q) | set(want_k)):
            s = sites[i]
            if s.fused:
                def split(o, i=i):
                    q, k, _ = o.detach().split(o.shape[-1] // 3, dim=-1)
                    got[f"blocks.{i}.attn.hook_q"], got[f"blocks.{i}.attn.hook_k"] = q, k
                    return None
                handles.append(s.q.register_forward_hook(record(f"_fused{i}", split)))
            else:
                handles.append(s.q.register_forward_hook(record(f"blocks.{i}.attn.hook_q", lambda o: o.detach())))
                handles.append(s.k.register_forward_hook(record(f"blocks.{i}.attn.hook_k", lambda o: o.detach())))
    if want_in or want_route:
        moe = hf.moe_blocks(model)
        for i in want_in:
            handles.append(moe[i].register_forward_pre_hook(
                lambda m, args, i=i: got.__setitem__(f"blocks.{i}.mlp.hook_in", args[0].detach())
                if threading.get_ident() == me else None))
        for i in want_route:
            handles.append(moe[i].gate.register_forward_hook(record(f"_route{i}", hf.router_choice)))

    if want_embed:
        tok, pos = hf.embeddings(model)
        for name, module in zip(("hook_embed", "hook_pos_embed"), (tok, pos)):
            if name in want_embed and module is not None:
                handles.append(module.register_forward_hook(record(name, lambda o: o.detach())))
    if want_attn_out or want_mlp_out:
        subs = hf.sublayers(model)
        for i in want_attn_out:
            handles.append(subs[i][0].register_forward_hook(record(f"blocks.{i}.hook_attn_out",
                                                                   lambda o: o[0].detach())))
        for i in want_mlp_out:
            handles.append(subs[i][1].register_forward_hook(record(f"blocks.{i}.hook_mlp_out",
                                                                  lambda o: (o[0] if isinstance(o, tuple) else o).detach())))

    kwargs = dict(input_ids=torch.tensor([enc.ids]), output_attentions=attentions, use_cache=use_cache)
    if logits_to_keep:
        kwargs["logits_to_keep"] = int(logits_to_keep)
    if extra:
        kwargs.update(extra)
    if hidden_states:
        kwargs["output_hidden_states"] = True
    if router_logits:
        kwargs["output_router_logits"] = True
    if cache is not None:
        kwargs.update(hf.cache_argument(cache))
        kwargs["position_ids"] = position_ids
    else:
        kwargs["attention_mask"] = torch.ones_like(kwargs["input_ids"]) if attention_mask is None else attention_mask
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
    try:
        with runtime.GATE.slot():      # first come, first served across sessions; a waiting one sees its place
            t0 = time.perf_counter()
            if handles:
                with _lock:
                    out = model(**kwargs)
            else:
                out = model(**kwargs)
            seconds = time.perf_counter() - t0
    finally:
        for h in handles:
            h.remove()
    if attentions and (not out.attentions or out.attentions[0] is None):
        raise RuntimeError("the model returned no attention weights (is it loaded with eager attention?)")

    caps: dict[str, torch.Tensor] = {}
    cfg = model.config.get_text_config()      # (a vision-language model: its decoder's)
    n_head = getattr(cfg, "num_attention_heads", None) or getattr(cfg, "n_head")
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    for name, t in got.items():
        if name.startswith("_route"):
            i = int(name[len("_route"):])
            if t is not None:
                caps[f"blocks.{i}.mlp.hook_route_weights"] = t[0].detach().reshape(T, -1).float()
                caps[f"blocks.{i}.mlp.hook_route_experts"] = t[1].detach().reshape(T, -1).long()
        elif name.endswith("attn.hook_q") or name.endswith("attn.hook_k"):
            caps[name] = t.reshape(T, -1, head_dim).float()           # [pos, head, d_head]
        elif name.endswith("mlp.hook_in") or name.endswith("_out") or name.startswith("hook_"):
            caps[name] = t.reshape(T, -1).float()                     # [pos, d_model]
    for i in _wanted(hooks, "attn.hook_pattern", n_layers):
        caps[f"blocks.{i}.attn.hook_pattern"] = out.attentions[i][0]
    if hidden_states:
        hs = out.hidden_states
        for i in _wanted(hooks, "hook_resid_pre", n_layers):
            caps[f"blocks.{i}.hook_resid_pre"] = hs[i][0].float()
        if any(fnmatch.fnmatchcase("ln_final.hook_normalized", h) for h in hooks):
            caps["ln_final.hook_normalized"] = hs[-1][0].float()
    for i in _wanted(hooks, "mlp.hook_router_logits", n_layers):
        caps[f"blocks.{i}.mlp.hook_router_logits"] = out.router_logits[i].reshape(T, -1).float()
    want_cached = _wanted(hooks, "attn.hook_k_cached", n_layers)
    if want_cached:
        layers = hf.cache_layers(hf.output_cache(out))
        for i in want_cached:
            caps[f"blocks.{i}.attn.hook_k_cached"] = layers[i][0][0].float()
    if any(fnmatch.fnmatchcase("logits", h) for h in hooks):
        caps["logits"] = out.logits[0].float()
    return Run(enc, out, caps, seconds)
