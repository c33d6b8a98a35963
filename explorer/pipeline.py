"""One prompt through a decoder: text -> tokens -> embeddings -> blocks -> final norm -> logits -> pick -> append.

`trace()` runs ONE forward pass over the prompt (explorer.forward, with named capture points) and keeps
every number the Pipeline page shows; a second, one-token pass appends the picked token through the
KV cache, as decoding does. Everything else (per-layer changes of the residual stream, the distribution
at any temperature, the logit lens at another position) is cheap arithmetic on what the trace holds:
moving between the page's stages never runs the model again.

Capture points used (see explorer.forward; T prompt tokens, d hidden size):

    hook_embed                   token embeddings (the embedding table's rows)        [T, d]
    hook_pos_embed               learned position embeddings (GPT-2 only)             [T, d]
    blocks.{i}.hook_resid_pre    the residual stream entering block i                 [T, d]
    blocks.{i}.hook_attn_out     what block i's attention adds to the stream          [T, d]
    blocks.{i}.hook_mlp_out      what block i's MLP adds to the stream                [T, d]
    ln_final.hook_normalized     the final norm's output (what the unembedding reads) [T, d]

In these pre-norm decoders the residual stream is exactly
    stream_0 = token embedding (+ position embedding)
    stream_{i+1} = stream_i + attn_out_i + mlp_out_i
and the logits are unembed(final_norm(stream_L)); the unit tests re-assemble it and compare with the
model's own hidden states.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer import hf, kvcache, runtime
from explorer.forward import encode, forward
from explorer.generation import lens_topk
from explorer.text import display_token, md

MAX_TOKENS = 128      # the page follows one prompt; longer ones are cut (with a notice)
LENS_K = 5            # next-token candidates read off after each layer
NEW_IDS = "new token's input ids"


# ------------------------------------------------------------------ capture points
def hook_names(n_layers: int, learned_positions: bool) -> list[str]:
    """The capture points one trace asks explorer.forward for, in the order the forward pass reaches them."""
    names = ["hook_embed"] + (["hook_pos_embed"] if learned_positions else [])
    for i in range(n_layers):
        names += [f"blocks.{i}.hook_resid_pre", f"blocks.{i}.hook_attn_out", f"blocks.{i}.hook_mlp_out"]
    return names + ["ln_final.hook_normalized"]


# ------------------------------------------------------------------ tokens
@dataclass(frozen=True)
class Split:
    """A piece of the text that became several tokens: a word, or one character's UTF-8 bytes."""
    text: str
    tokens: list[str]         # readable pieces
    n_bytes: int              # UTF-8 bytes of `text`
    kind: str                 # "word" | "character"


def token_spans(tokenizer, text: str, n: int) -> list[tuple[int, int]] | None:
    """Character span (start, end) of each of the first n tokens, or None when the tokenizer has no offsets."""
    try:
        offsets = tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)["offset_mapping"]
    except (NotImplementedError, ValueError, TypeError, KeyError):
        return None
    return [tuple(map(int, o)) for o in offsets[:n]]


def splits(text: str, spans: list[tuple[int, int]], pieces: list[str]) -> list[Split]:
    """Where the tokenizer cut the text finer than words: characters spread over several byte tokens
    (an emoji, a CJK character), and words made of several tokens."""
    out: list[Split] = []
    by_span: dict[tuple[int, int], list[int]] = {}
    for i, s in enumerate(spans):
        by_span.setdefault(s, []).append(i)
    for (a, b), idx in by_span.items():
        if len(idx) > 1 and b > a:
            out.append(Split(text[a:b], [pieces[i] for i in idx], len(text[a:b].encode("utf-8")), "character"))
    for m in re.finditer(r"\S+", text):
        idx = [i for i, (a, b) in enumerate(spans) if a < m.end() and b > m.start() and b > a]
        if len({spans[i] for i in idx}) > 1:
            out.append(Split(m.group(), [pieces[i] for i in idx], len(m.group().encode("utf-8")), "word"))
    return out


# ------------------------------------------------------------------ the trace
@dataclass
class Appended:
    """The next step of decoding: the picked token goes in alone; every earlier K and V comes from the cache."""
    token_id: int
    piece: str
    position: int                       # its position (= prompt length)
    attention: np.ndarray               # float32 [layer, head, T + 1]: the new query row of every head
    shapes: dict[str, tuple[int, ...]]  # input ids, attention per layer, cached K/V after appending
    layer_shapes: list[tuple[tuple[int, ...], tuple[int, ...]]]   # per layer (K, V) after appending
    cache_bytes: int                    # measured: numel x element_size of every cached tensor
    next_ids: np.ndarray                # int64 [LENS_K]: what the model predicts after the appended token
    next_probs: np.ndarray              # float32 [LENS_K]


@dataclass
class Trace:
    """Everything the Pipeline page shows about one prompt. T tokens, d hidden size, L blocks, V vocabulary."""
    model_type: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    ids: list[int]
    pieces: list[str]                   # readable token pieces (␣ for a leading space)
    tok_embed: np.ndarray               # float32 [T, d]
    pos_embed: np.ndarray | None        # float32 [T, d] (None: RoPE, position enters inside attention)
    attn_out: np.ndarray                # float32 [L, T, d]
    mlp_out: np.ndarray                 # float32 [L, T, d]
    hidden: np.ndarray                  # float32 [L + 1, T, d]: the model's own hidden states (last: normalized)
    final_normed: np.ndarray            # float32 [T, d]: the final norm's output (capture point)
    logits: np.ndarray                  # float32 [V]: last position
    prob_sum: float                     # sum of softmax(logits) over the whole vocabulary (float64 sum)
    lens_ids: np.ndarray                # int64 [L + 1, LENS_K]: logit lens at the last position
    lens_probs: np.ndarray              # float32 [L + 1, LENS_K]
    kv_shape: tuple[int, ...]           # (L, 2, 1, kv_heads, T, head_dim) after the prompt
    layer_shapes: list[tuple[tuple[int, ...], tuple[int, ...]]]   # per layer (K, V) after the prompt
    cache_bytes: int                    # measured after the prompt
    cache_formula_bytes: int            # the KV-cache formula at T tokens, with the cache's element size
    shapes: dict[str, tuple[int, ...]]  # every shape the page shows, read from the real tensors
    appended: Appended | None           # None when the prompt fills the model's positions
    text: str = ""
    spans: list[tuple[int, int]] | None = None
    truncated: bool = False
    total_tokens: int = 0
    hooks: list[str] = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def picked(self) -> int:
        """The greedy pick: the most likely next token."""
        return int(np.argmax(self.logits))

    @property
    def learned_positions(self) -> bool:
        return self.pos_embed is not None


def _config_ints(config) -> tuple[int, int, int, int, int]:
    shape = kvcache.shape_from_config(config)
    d = int(getattr(config, "hidden_size", None) or config.n_embd)
    return shape.n_layers, d, shape.n_heads, shape.n_kv_heads, shape.head_dim


def trace_ids(lm, ids: list[int], piece=lambda i: str(i), append: bool = True) -> Trace:
    """The whole pipeline for prompt ids: one captured forward pass, then (append=True) one more token.

    lm: a LoadedModel (LoadedModel.in_memory for a model built here); piece: id -> readable token label.
    """
    if not ids:
        raise ValueError("the prompt has no tokens")
    model = lm.model
    config = model.config
    hf.sublayers(model)               # a model this view cannot decompose is refused here, in one sentence
    n_layers, d, n_heads, n_kv, head_dim = _config_ints(config)
    learned = hf.embeddings(model)[1] is not None
    hooks = hook_names(n_layers, learned)
    cache = hf.new_cache(config)
    run = forward(lm, list(ids), hooks, cache=cache, logits_to_keep=1)
    cache, out = run.cache, run.output
    T = len(ids)
    last_logits = out.logits[:, -1].float()                            # [1, V]
    probs = torch.softmax(last_logits, -1)
    normed = run["ln_final.hook_normalized"]
    hidden = torch.cat([run.stack("blocks.*.hook_resid_pre"), normed[None]], 0)   # [L + 1, T, d]
    lens_ids, lens_probs = lens_topk(model, hidden[:, -1:], LENS_K)
    kv_shape = kvcache.stacked_shape(cache)
    element = hf.cache_layers(cache)[0][0].element_size()
    attn, mlp = run.stack("blocks.*.hook_attn_out"), run.stack("blocks.*.hook_mlp_out")   # [L, T, d]
    pos = run["hook_pos_embed"] if learned else None
    # every shape as the lessons write it, batch axis first: the tensors of this pass
    batch = (1,)
    shapes = {"input ids": batch + (T,), "token embeddings": batch + tuple(run["hook_embed"].shape)}
    if pos is not None:
        shapes["position embeddings"] = batch + tuple(pos.shape)
    shapes.update({"block input (the residual stream)": tuple(out.hidden_states[0].shape),
                   "attention output (each block)": batch + tuple(attn.shape[1:]),
                   "MLP output (each block)": batch + tuple(mlp.shape[1:]),
                   "final normalized states": tuple(out.hidden_states[-1].shape),
                   "last-position logits": tuple(last_logits.shape),
                   "next-token probabilities": tuple(probs.shape),
                   "cached K/V (layers, K and V, batch, KV heads, tokens, head_dim)": kv_shape})
    t = Trace(
        model_type=config.model_type, n_layers=n_layers, d_model=d, n_heads=n_heads, n_kv_heads=n_kv,
        head_dim=head_dim, vocab_size=int(last_logits.shape[-1]), ids=[int(i) for i in ids],
        pieces=[piece(int(i)) for i in ids],
        tok_embed=run["hook_embed"].numpy(), pos_embed=None if pos is None else pos.numpy(),
        attn_out=attn.numpy(), mlp_out=mlp.numpy(), hidden=hidden.numpy(), final_normed=normed.numpy(),
        logits=last_logits[0].numpy(), prob_sum=float(probs.double().sum()),
        lens_ids=lens_ids[:, 0], lens_probs=lens_probs[:, 0], kv_shape=kv_shape,
        layer_shapes=kvcache.layer_shapes(cache), cache_bytes=kvcache.layer_bytes(cache),
        cache_formula_bytes=int(kvcache.cache_bytes(kvcache.shape_from_config(config), T, 1, 8 * element)),
        shapes=shapes, appended=None, hooks=[h for h in hooks if h in run])
    if append and T < lm.max_length:
        t.appended = _append(lm, cache, int(last_logits.argmax()), T, piece)
    return t


def _append(lm, cache, token_id: int, position: int, piece) -> Appended:
    """Feed the picked token alone: one query row per head, reading T cached keys and values plus its own."""
    run = forward(lm, [token_id], ("logits",), attentions=True, cache=cache,
                  position_ids=torch.tensor([[position]]), logits_to_keep=1)
    out, cache = run.output, run.cache
    attn = torch.stack([a[0, :, -1, :] for a in out.attentions], 0).float()   # [L, heads, T + 1]
    p = torch.softmax(run["logits"][-1], -1)
    vals, top = torch.topk(p, LENS_K)
    shapes = {NEW_IDS: (1, 1),
              "new query's attention (each layer)": tuple(out.attentions[0].shape),
              "cached K/V after appending": kvcache.stacked_shape(cache)}
    return Appended(token_id, piece(token_id), position, attn.numpy(), shapes, kvcache.layer_shapes(cache),
                    kvcache.layer_bytes(cache), top.numpy().astype(np.int64), vals.numpy().astype(np.float32))


@runtime.queued   # its pass and the appended token's: one place in the forward-pass queue
def trace(lm, text: str, max_tokens: int = MAX_TOKENS) -> Trace:
    """The pipeline for a text on a LoadedModel: tokenize (at most max_tokens, leaving room to append), trace."""
    tok = lm.tokenizer
    enc = encode(lm, text, max(1, min(max_tokens, lm.max_length - 1)))
    pieces = {}

    def piece(i: int) -> str:
        if i not in pieces:
            pieces[i] = display_token(tok.convert_ids_to_tokens(int(i)))
        return pieces[i]

    t = trace_ids(lm, enc.ids, piece)
    t.text, t.truncated, t.total_tokens = text, enc.truncated, enc.total_tokens
    t.spans = token_spans(tok, text, len(enc.ids))
    return t


# ------------------------------------------------------------------ what the page computes from a trace
def stream(t: Trace) -> np.ndarray:
    """The residual stream re-assembled from the captures -> float32 [L + 1, T, d].

    Row 0 is the embeddings (token + position), row i + 1 adds block i's attention and MLP outputs;
    the last row is the stream before the final norm.
    """
    emb = t.tok_embed + (t.pos_embed if t.pos_embed is not None else 0)
    steps = (t.attn_out + t.mlp_out).astype(np.float64)
    return np.concatenate([emb[None], emb[None] + np.cumsum(steps, 0)], 0).astype(np.float32)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of matching rows [n, d] x [n, d] -> [n] (0 where a vector is zero)."""
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1), 0.0)


@dataclass
class BlockChanges:
    """For one token: how much each sub-layer writes into the residual stream. Arrays over blocks [L]."""
    position: int
    attn_norm: np.ndarray      # |attention output|
    mlp_norm: np.ndarray       # |MLP output|
    attn_cos: np.ndarray       # cosine of the attention output with the stream it is added to
    mlp_cos: np.ndarray        # cosine of the MLP output with the stream it is added to (after attention)
    stream_norm: np.ndarray    # [L + 1]: |stream| entering each block, and before the final norm


def block_changes(t: Trace, position: int) -> BlockChanges:
    s = stream(t)[:, position].astype(np.float64)          # [L + 1, d]
    a, m = t.attn_out[:, position].astype(np.float64), t.mlp_out[:, position].astype(np.float64)
    mid = s[:-1] + a                                        # the stream between attention and MLP
    return BlockChanges(position, np.linalg.norm(a, axis=-1), np.linalg.norm(m, axis=-1),
                        _cos(a, s[:-1]), _cos(m, mid), np.linalg.norm(s, axis=-1))


def lens_at(model, t: Trace, position: int, k: int = LENS_K) -> tuple[np.ndarray, np.ndarray]:
    """Logit lens of one position: (ids int64 [L + 1, k], probs float32 [L + 1, k]); the last position is stored."""
    if position == t.n_tokens - 1 and k == LENS_K:
        return t.lens_ids, t.lens_probs
    ids, probs = lens_topk(model, t.hidden[:, position:position + 1], k)
    return ids[:, 0], probs[:, 0]


def lens_labels(n_layers: int) -> list[str]:
    return ["embeddings"] + [f"after block {i}" for i in range(1, n_layers + 1)]


@dataclass
class NextToken:
    ids: np.ndarray            # int64 [k]: most likely first (the same order at every temperature)
    probs: np.ndarray          # float32 [k] at the temperature
    probs_t1: np.ndarray       # float32 [k] at temperature 1 (the model's own distribution)
    cum: np.ndarray            # float32 [k]: running sum of `probs`
    total: float               # sum over the whole vocabulary at the temperature (float64)
    entropy: float             # bits, at the temperature


def next_token(logits: np.ndarray, temperature: float, k: int) -> NextToken:
    """Softmax of the last-position logits at a temperature, and its top k (greedy picks ids[0] at any T)."""
    z = torch.from_numpy(np.asarray(logits, dtype=np.float32))
    logp = torch.log_softmax(z / temperature, -1)
    p = torch.softmax(z / temperature, -1)   # not logp.exp(): that adds float32 rounding (sum 0.999999)
    top = torch.topk(z, k).indices
    p1 = torch.softmax(z, -1)[top]
    ent = float(-(p * logp).sum() / np.log(2.0))
    total = float(torch.softmax(z.double() / temperature, -1).sum())   # float64: the sum itself, not float32 noise
    return NextToken(top.numpy().astype(np.int64), p[top].numpy(), p1.numpy(), torch.cumsum(p[top], 0).numpy(),
                     total, ent)


def path_nodes(t: Trace) -> list[tuple[str, str, str]]:
    """The path diagram's boxes, in order: (stage key, label, the shape of what leaves the box)."""
    return [("tokens", "Tokens", str(t.shapes["input ids"])),
            ("embed", "Embeddings", str(t.shapes["token embeddings"])),
            ("blocks", f"{t.n_layers} blocks<br>attn + MLP", str(t.shapes["attention output (each block)"])),
            ("output", "Final norm", str(t.shapes["final normalized states"])),
            ("output", "Logits", str(t.shapes["last-position logits"])),
            ("output", "Softmax", str(t.shapes["next-token probabilities"])),
            ("output", "Pick", "greedy"),
            ("append", "Append<br>+ KV cache", str(t.kv_shape))]


def byte_parts(t: Trace) -> list[bool]:
    """Per token: True when it holds only some bytes of one character (several tokens share its text span)."""
    if not t.spans:
        return [False] * t.n_tokens
    return [sum(1 for x in t.spans if x == s) > 1 for s in t.spans]


def shape_rows(t: Trace, toy: Trace, name: str) -> list[dict]:
    """The shape trace as table rows: every captured tensor's shape in `t` (column `name`) and in the lessons' toy,
    then the next-token probabilities' sum in both."""
    mine = {**t.shapes, **(t.appended.shapes if t.appended else {})}
    theirs = {**toy.shapes, **(toy.appended.shapes if toy.appended else {})}
    rows = [{"tensor": k, name: str(v), "the lessons' toy decoder": str(theirs.get(k, "—"))} for k, v in mine.items()]
    return rows + [{"tensor": "next-token probabilities, summed", name: f"{t.prob_sum:.6f}",
                    "the lessons' toy decoder": f"{toy.prob_sum:.6f}"}]


def cache_rows(t: Trace) -> list[dict]:
    """Per layer: the K and V cache shapes before and after the appended token."""
    return [{"layer": i + 1, "K before": str(kb), "V before": str(vb), "K after": str(ka), "V after": str(va)}
            for i, ((kb, vb), (ka, va)) in enumerate(zip(t.layer_shapes, t.appended.layer_shapes))]


def vector_preview(v: np.ndarray, n: int = 6) -> str:
    """'[0.12, -0.03, …, 0.40]' — the first n and the last value of a vector."""
    v = np.asarray(v, dtype=np.float64)
    head = ", ".join(f"{x:.3f}" for x in v[:n])
    return f"[{head}, …, {v[-1]:.3f}]" if v.size > n + 1 else f"[{', '.join(f'{x:.3f}' for x in v)}]"


# ------------------------------------------------------------------ the lessons' toy decoder
LESSON_PROMPT = "Where is my order?"
LESSON_TOY = dict(hidden_size=8, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=2, head_dim=4,
                  intermediate_size=16, vocab_size=6, max_position_embeddings=16)
LESSON_IDS = [1, 2, 3, 4, 5]      # five tokens, as the lessons' walk-through has them


def lesson_toy(seed: int = 0):
    """The lessons' toy decoder (Llama-style: 4 blocks, d = 8, 2 heads of 4, vocab 6), randomly initialised."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    config = LlamaConfig(**LESSON_TOY, bos_token_id=0, eos_token_id=0, pad_token_id=None)
    config._attn_implementation = "eager"
    return LlamaForCausalLM(config).eval()


def lesson_trace() -> Trace:
    """The lessons' shape trace, reproduced by running the toy decoder on five tokens."""
    from explorer.models.loader import LoadedModel
    return trace_ids(LoadedModel.in_memory(lesson_toy(), name="the lessons' toy decoder"), LESSON_IDS)


# ------------------------------------------------------------------ what each stage of the page says
def words(tokenizer, ids) -> list[str]:
    """Readable pieces (␣ for a leading space) of token ids, in order."""
    return [display_token(w) for w in tokenizer.convert_ids_to_tokens([int(i) for i in ids])]


def token_metrics(text: str, t: Trace) -> list[tuple]:
    """① Tokenize's four numbers: characters, UTF-8 bytes, tokens, characters per token."""
    chars = len(text)
    return [("Characters", f"{chars:,}"), ("UTF-8 bytes", f"{len(text.encode('utf-8')):,}"),
            ("Tokens", f"{t.n_tokens:,}"), ("Characters per token", f"{chars / t.n_tokens:.2f}")]


def roundtrip_note(tokenizer, t: Trace, text: str) -> str:
    """Whether decoding the ids gives back the text (its followed part, when cut)."""
    back = tokenizer.decode(t.ids, skip_special_tokens=True)
    same = back == text[:len(back)] if t.truncated else back == text
    return (("✅ Decoding the ids gives back the text exactly." if same else
             "⚠️ Decoding the ids does not give back the text exactly (the tokenizer normalises it).")
            + " Green boxes hold only some bytes of one character.")


def split_rows(found: list[Split], limit: int = 30) -> list[dict]:
    """The first `limit` pieces of text and the tokens each became."""
    return [{"piece of text": s.text, "kind": s.kind, "tokens": " | ".join(s.tokens), "UTF-8 bytes": s.n_bytes}
            for s in found[:limit]]


def tokens_explained(model_name: str, t: Trace) -> str:
    return (f"{model_name} reads **tokens**, not characters: a byte-level BPE vocabulary of "
            f"{t.vocab_size:,} pieces. Common words are one token (␣ marks a leading space); rare words are split "
            "into pieces; a character with no piece of its own (an emoji, a CJK character) falls back to its UTF-8 "
            "bytes, one token each. The ids are row numbers in the embedding table — the next stage.")


def embedding_rows(t: Trace, pos: int) -> dict[str, np.ndarray]:
    """What enters block 1 for the token at `pos`: its token row, and with learned positions its position row
    and their sum."""
    rows = {f"token embedding (row {t.ids[pos]})": t.tok_embed[pos]}
    if t.learned_positions:
        rows[f"position embedding (row {pos})"] = t.pos_embed[pos]
        rows["sum: block 1's input"] = t.tok_embed[pos] + t.pos_embed[pos]
    return rows


def embedding_code(rows: dict[str, np.ndarray]) -> str:
    """The embedding rows as text: name, the first numbers, the length."""
    return "\n".join(f"{k:<32} {vector_preview(v)}  |v| = {np.linalg.norm(v):.3f}" for k, v in rows.items())


def embedding_explained(t: Trace, pos: int) -> str:
    tok_id = t.ids[pos]
    return (f"The id {tok_id} picks row {tok_id} of the token table ({t.vocab_size:,} × {t.d_model}); the "
            f"position {pos} picks row {pos} of the learned position table. GPT-2 adds the two: that sum is the "
            "start of the residual stream, the vector every block reads from and writes back into.")


NO_POSITION_TABLE = ("This model has **no position table**: the token embedding alone enters block 1. Position "
                     "enters inside every attention layer, where RoPE turns each query and key by an angle that grows "
                     "with the position.")
BLOCKS_EXPLAINED = ("The residual stream is a running sum: every attention and MLP sub-layer **adds** a vector to it. "
                    "Bars: how long each addition is; line: how long the stream already is. Cosine near 0 means the "
                    "sub-layer writes something new; negative means it erases part of what is there. The logit lens "
                    "sends the stream after each block through the model's own final norm and unembedding (the same "
                    "function as the Generation page): the bottom row is the model's real prediction.")


def block_table(t: Trace, ch: BlockChanges) -> dict:
    """The block changes' numbers (CSV columns), one row per block."""
    return {"block": list(range(1, t.n_layers + 1)), "attention_norm": ch.attn_norm, "mlp_norm": ch.mlp_norm,
            "stream_norm_entering": ch.stream_norm[:-1], "attention_cosine": ch.attn_cos, "mlp_cosine": ch.mlp_cos}


def output_metrics(t: Trace, nt: NextToken, picked: str, temperature: float) -> list[tuple]:
    """④ Output's three numbers: the final norm, the probabilities' sum, the greedy pick."""
    last = stream(t)[-1, -1]
    return [("Final norm: length of the last state",
             f"{np.linalg.norm(last):.1f} → {np.linalg.norm(t.final_normed[-1]):.1f}",
             f"then {t.vocab_size:,} logits {t.shapes['last-position logits']}"),
            ("Probabilities sum to", f"{nt.total:.6f}", f"entropy {nt.entropy:.2f} bits"),
            ("Greedy pick", picked, f"p = {nt.probs[0]:.1%} at T = {temperature:g}")]


def output_explained(t: Trace, tied: bool) -> str:
    return ("The final norm rescales the last token's stream; the unembedding "
            f"({'the token table again, transposed' if tied else 'a matrix of its own'}) turns its {t.d_model} "
            "numbers into one score per vocabulary entry; softmax turns the "
            "scores into probabilities that sum to 1. Temperature changes how peaked they are, never their order, "
            "so greedy decoding picks the same token at any T; sampling (Generation page) draws from the bars.")


def append_metrics(t: Trace) -> list[tuple]:
    """⑤ Append's three numbers: the appended token, the cache's length, its measured size."""
    a = t.appended
    before, after = t.kv_shape, a.shapes["cached K/V after appending"]
    return [("Appended", a.piece, f"position {a.position}, fed alone: ids {a.shapes[NEW_IDS]}"),
            ("Cached tokens", f"{before[4]} → {after[4]}", f"K/V {before} → {after}"),
            ("Cache after appending (measured)", kvcache.format_bytes(a.cache_bytes),
             f"+{kvcache.format_bytes(a.cache_bytes - t.cache_bytes)} for one token",
             f"{t.cache_bytes:,} bytes before ({t.cache_formula_bytes:,} by the formula), "
             f"{a.cache_bytes:,} after: numel × element size of every cached K and V tensor.")]


def next_line(pieces: list[str], probs) -> str:
    """The prediction after the appended token (markdown; pieces escaped)."""
    return "**Then the model predicts again:** " + " · ".join(f"{md(w)} {p:.1%}" for w, p in zip(pieces, probs))


def append_explained(t: Trace) -> str:
    return (f"Decoding the next token does not run the prompt again. The new token goes in **alone**: each layer "
            f"computes one query row for it, plus its own key and value, and reads the keys and values of the "
            f"{t.appended.position} earlier tokens from the cache ({t.n_kv_heads} KV heads × {t.head_dim} numbers "
            "per token and layer, for K and for V). The cache grows by one token per step: that is how generation "
            "loops.")


def shapes_caption(t: Trace) -> str:
    return (f"Batch 1, {t.n_tokens} tokens, hidden size {t.d_model}, {t.n_layers} blocks, {t.n_heads} query heads "
            f"and {t.n_kv_heads} KV heads of {t.head_dim}, vocabulary {t.vocab_size:,}. Every shape is read from "
            f"the tensors of this run (capture points: {', '.join(t.hooks[:3])}, …).")


SHAPES_EXPLAINED = (f"The lessons follow {LESSON_PROMPT!r} as 5 tokens through a toy decoder with 4 blocks, hidden "
                    "size 8, 2 heads of 4 and a 6-token vocabulary; the right column runs exactly that toy (random "
                    "weights: only the shapes matter) through the same code. Read the K/V shape as layers × (K, V) × "
                    "batch × KV heads × tokens × head_dim.")
