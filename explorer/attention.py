"""Forward pass -> attention tensors + per-head statistics, and the transforms the views offer.

Shapes follow TransformerLens' naming: attention patterns are [layer, head, query, key]; a "row" is
one query's distribution over keys and sums to 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer import bertviz_view, hf
from explorer.forward import encode, forward
from explorer.models.loader import LoadedModel
from explorer.text import Encoded, display_token, md


@dataclass
class AttentionResult:
    model_id: str
    tokens: list[str]          # the tokenizer's pieces, special tokens included
    ids: list[int]
    attn: np.ndarray           # float16 [layer, head, query, key]; every row sums to 1
    truncated: bool
    total_tokens: int
    causal: bool               # decoder (masked future) vs encoder
    special: list[bool] = field(default_factory=list)   # [query]: added by the tokenizer ([CLS], [SEP], <|endoftext|>)
    forward_ms: float = 0.0    # wall time of the forward pass
    scheme: str = ""           # sub-word scheme of the tokenizer: "wordpiece" (##) or "bpe" (Ġ)

    @property
    def n_layers(self) -> int:
        return self.attn.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attn.shape[1]

    @property
    def n_tokens(self) -> int:
        return self.attn.shape[-1]

    @property
    def notice(self) -> str | None:
        return Encoded(self.ids, self.tokens, self.truncated, self.total_tokens).notice


def special_mask(tokenizer, ids: list[int]) -> list[bool]:
    """True for tokens the tokenizer adds around the text ([CLS], [SEP], <|endoftext|>); [UNK] stands
    for real text and is not special here."""
    specials = set(getattr(tokenizer, "all_special_ids", []) or []) - {getattr(tokenizer, "unk_token_id", None)}
    return [i in specials for i in ids]


def run_attention(lm: LoadedModel, text: str, max_tokens: int) -> AttentionResult:
    """One eager forward pass (`blocks.*.attn.hook_pattern`); returns every layer's and head's pattern."""
    run = forward(lm, encode(lm, text, max_tokens), hooks=("blocks.*.attn.hook_pattern",))
    attn = run.stack("blocks.*.attn.hook_pattern")           # [layer, head, query, key]
    enc = run.enc
    return AttentionResult(lm.spec.id, enc.tokens, enc.ids, attn.float().numpy().astype(np.float16),
                           enc.truncated, enc.total_tokens, lm.spec.family != "encoder",
                           special_mask(lm.tokenizer, enc.ids), run.seconds * 1000, hf.subword_scheme(lm.tokenizer))


def capture_queries_keys(lm: LoadedModel, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-head query and key vectors of every layer, read from the model's own projections
    (`blocks.*.attn.hook_q` / `hook_k`).

    Returns (queries, keys), each float32 [layer, head, position, head_dim] (before the 1/sqrt(d) scale).
    """
    run = forward(lm, ids, hooks=("blocks.*.attn.hook_q", "blocks.*.attn.hook_k"))
    q = run.stack("blocks.*.attn.hook_q").transpose(1, 2)     # [layer, pos, head, d] -> [layer, head, pos, d]
    k = run.stack("blocks.*.attn.hook_k").transpose(1, 2)
    return q.numpy(), k.numpy()


# ------------------------------------------------------------------ head statistics
# Each takes a pattern A[..., query, key] (rows sum to 1) and returns one number per head.

def entropy(a: np.ndarray) -> np.ndarray:
    """Mean over queries of the row entropy in bits; uniform attention over T keys gives log2 T."""
    a = np.asarray(a, dtype=np.float32)
    logs = np.zeros_like(a)
    np.log2(a, out=logs, where=a > 0)          # 0·log 0 = 0
    return -(a * logs).sum(-1, dtype=np.float64).mean(-1)


def previous_token_score(a: np.ndarray) -> np.ndarray:
    """Mean attention from each query (after the first) to the token just before it."""
    a = a.astype(np.float64)
    t = a.shape[-1]
    if t < 2:
        return np.zeros(a.shape[:-2])
    return np.diagonal(a, offset=-1, axis1=-2, axis2=-1).mean(-1)


def self_score(a: np.ndarray) -> np.ndarray:
    """Mean attention of each token to itself (the diagonal)."""
    return np.diagonal(a.astype(np.float64), axis1=-2, axis2=-1).mean(-1)


def sink_score(a: np.ndarray, key_index: int | list[int] = 0) -> np.ndarray:
    """Mean share of attention sent to the given key position(s), e.g. the first token or [CLS]/[SEP]."""
    idx = [key_index] if isinstance(key_index, int) else list(key_index)
    if not idx:
        return np.zeros(a.shape[:-2])
    return a.astype(np.float64)[..., idx].sum(-1).mean(-1)


STATS = {   # url name -> (label, one-line meaning)
    "entropy": ("entropy (bits)", "how spread out a head's attention is: 0 = one key, log2 T = uniform"),
    "first": ("share to the first token", "attention parked on the first token ([CLS] in BERT): the 'sink'"),
    "sep": ("share to [SEP]", "attention parked on the separator tokens (BERT's other sink)"),
    "previous": ("previous-token score", "attention to the token just before: 1 = a pure previous-token head"),
    "self": ("self score", "attention of each token to itself (the diagonal)"),
}


def head_summary(result: AttentionResult) -> dict[str, np.ndarray]:
    """Every statistic of STATS for every head: {name: float64 [layer, head]}."""
    a = result.attn.astype(np.float32)
    seps = [i for i, (t, s) in enumerate(zip(result.tokens, result.special)) if s and i > 0]
    return {
        "entropy": entropy(a),
        "first": sink_score(a, 0),
        "sep": sink_score(a, seps),
        "previous": previous_token_score(a),
        "self": self_score(a),
    }


# ------------------------------------------------------------------ transforms for the views

def keep_tokens(a: np.ndarray, keep: np.ndarray | list[bool], renormalise: bool = True) -> np.ndarray:
    """Drop the query rows and key columns where keep is False: [..., q, k] -> [..., q', k'].

    renormalise: divide every kept row by its remaining sum, so it is a distribution again (a row
    whose whole weight went to dropped keys stays all zero). Without it, the rows show the raw
    weights and their sums show how much went to the hidden tokens.
    """
    keep = np.asarray(keep, dtype=bool)
    out = a[..., keep, :][..., keep].astype(np.float32)
    if renormalise:
        s = out.sum(-1, keepdims=True)
        out = np.divide(out, s, out=np.zeros_like(out), where=s > 0)
    return out


def word_groups(tokens: list[str], special: list[bool] | None = None, scheme: str = "") -> list[list[int]]:
    """Group sub-word pieces into words: WordPiece continues a word with '##', byte-level BPE starts
    one with 'Ġ' (a leading space; '▁' in SentencePiece). Special tokens are words of their own.

    scheme: "wordpiece" or "bpe"; guessed from the pieces when empty. Returns the token indices of
    each word, in order.
    """
    special = special or [False] * len(tokens)
    if scheme:
        wordpiece = scheme == "wordpiece"
    else:
        wordpiece = not any(t[:1] in ("Ġ", "▁") for t in tokens)
    groups: list[list[int]] = []
    for i, (t, s) in enumerate(zip(tokens, special)):
        if wordpiece:
            starts = not t.startswith("##")
        else:
            starts = t[:1] in ("Ġ", "▁", "Ċ") or t.isspace()
        prev_special = i > 0 and special[i - 1]
        if not groups or s or prev_special or starts:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def word_label(tokens: list[str]) -> str:
    """'Ġun' 'believ' 'able' -> '␣unbelievable';  'un' '##believ' '##able' -> 'unbelievable'."""
    return display_token(tokens[0] + "".join(t[2:] if t.startswith("##") else t for t in tokens[1:]))


def merge_words(a: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Attention between words: [..., T, T] -> [..., W, W].

    As in Clark et al. (2019): attention *to* a word is the sum over its pieces (rows still sum to
    1), attention *from* a word is the mean over its pieces. Causal masks stay intact.
    """
    t = a.shape[-1]
    m = np.zeros((len(groups), t), dtype=np.float32)     # [word, token] membership
    for w, g in enumerate(groups):
        m[w, g] = 1.0
    mean_rows = m / m.sum(1, keepdims=True)
    return np.einsum("wq,...qk,vk->...wv", mean_rows, a.astype(np.float32), m, optimize=True)


def combine_heads(a: np.ndarray, how: str) -> np.ndarray:
    """[..., head, q, k] -> [..., q, k] by 'mean' (rows still sum to 1) or 'max' (they do not)."""
    if how == "mean":
        return a.astype(np.float32).mean(-3)
    if how == "max":
        return a.astype(np.float32).max(-3)
    raise ValueError(f"unknown head combination {how!r}")


def rollout(layers: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token's output at layer l draws on
    each input token, following attention through every layer below.

    layers: [layer, q, k] (usually the mean over heads). Each layer's pattern is mixed with the
    residual connection, Ã = (1 - residual)·A + residual·I, rows renormalised, then multiplied:
    R_0 = Ã_0, R_l = Ã_l · R_(l-1). Returns R for every layer: float64 [layer, q, k].
    """
    a = layers.astype(np.float64)
    eye = np.eye(a.shape[-1])
    out = np.empty_like(a)
    r = eye
    for i, layer in enumerate(a):
        mixed = (1 - residual) * layer + residual * eye
        mixed = mixed / mixed.sum(-1, keepdims=True)
        r = mixed @ r
        out[i] = r
    return out


def mask_note(a: np.ndarray, causal: bool) -> str:
    """One line (markdown) under each map about the mask, computed from the weights on screen."""
    if causal:
        return (f"**Causal mask:** the largest weight above the diagonal is {above_diagonal(a):g} — every future "
                "token is masked out before the softmax, so a token only sees itself and earlier ones.")
    return (f"**Bidirectional:** {share_above_diagonal(a):.0%} of the weight here goes to *later* tokens (above the "
            "diagonal): every BERT token sees the whole sentence.")


def above_diagonal(a: np.ndarray) -> float:
    """Largest weight on a later token (above the diagonal): exactly 0 under a causal mask."""
    t = a.shape[-1]
    if t < 2:
        return 0.0
    return float(a[..., np.triu_indices(t, 1)[0], np.triu_indices(t, 1)[1]].max())


def share_above_diagonal(a: np.ndarray) -> float:
    """Share of all attention weight that lands on later tokens (0 for a decoder)."""
    t = a.shape[-1]
    upper = np.triu(np.ones((t, t), dtype=bool), 1)
    return float(a.astype(np.float64)[..., upper].sum() / max(a.astype(np.float64).sum(), 1e-12))


@dataclass
class Prepared:
    """Attention ready to draw, after the view options: what the axes show and where it came from."""
    attn: np.ndarray               # float32 [..., query, key] (leading dims as given)
    labels: list[str]              # readable label per row/column (a token or a merged word)
    positions: list[list[int]]     # original token positions behind each label
    notes: list[str] = field(default_factory=list)   # what the options changed, one line each


def prepare(a: np.ndarray, tokens: list[str], special: list[bool], hide_special: bool = False,
            renormalise: bool = True, merge: bool = False, scheme: str = "") -> Prepared:
    """Apply the view options to a pattern [..., T, T] (slice heads/layers first: it is cheaper).

    Order: hide special tokens (optionally renormalising rows), then merge sub-word pieces into words.
    """
    out = a.astype(np.float32)
    positions = [[i] for i in range(len(tokens))]
    toks, spec = list(tokens), list(special) if special else [False] * len(tokens)
    notes = []
    if hide_special and any(spec):
        keep = [not s for s in spec]
        if not any(keep):
            notes.append("Every token is a special token: nothing left to show once they are hidden.")
        else:
            out = keep_tokens(out, keep, renormalise)
            hidden = [t for t, s in zip(toks, spec) if s]
            positions = [p for p, k in zip(positions, keep) if k]
            toks = [t for t, k in zip(toks, keep) if k]
            spec = [False] * len(toks)
            notes.append(f"Hidden: {', '.join(sorted(set(hidden)))}; rows "
                         + ("renormalised to sum to 1." if renormalise else "show raw weights (they sum to less than 1)."))
    labels = [display_token(t) for t in toks]
    if merge:
        groups = word_groups(toks, spec, scheme)
        if len(groups) < len(toks):
            out = merge_words(out, groups)
            labels = [word_label([toks[i] for i in g]) for g in groups]
            positions = [[p for i in g for p in positions[i]] for g in groups]
            notes.append(f"{len(toks)} pieces merged into {len(groups)} words (to a word: sum; from a word: mean).")
    return Prepared(out, labels, positions, notes)


# ------------------------------------------------------------------ the numbers behind the figures (CSV/JSON)
def long_table(mats: np.ndarray, rows: list[str], cols: list[str], lead: dict[str, list] | None = None,
               decimals: int = 6) -> dict:
    """A [..., q, k] array as CSV-ready columns: the leading index columns, query, key, weight."""
    mats = np.asarray(mats, dtype=np.float64)
    q, k = mats.shape[-2], mats.shape[-1]
    lead_n = int(np.prod(mats.shape[:-2])) if mats.ndim > 2 else 1
    out = {}
    for name, values in (lead or {}).items():
        out[name] = np.repeat(np.asarray(values), q * k)
    out["query_index"] = np.tile(np.repeat(np.arange(q), k), lead_n)
    out["query"] = np.tile(np.repeat(np.asarray(rows, dtype=object), k), lead_n)
    out["key_index"] = np.tile(np.arange(k), q * lead_n)
    out["key"] = np.tile(np.asarray(cols, dtype=object), q * lead_n)
    out["weight"] = np.round(mats.reshape(-1), decimals)
    return out


def focus_table(a: np.ndarray, labels: list[str], token: int, decimals: int = 6) -> dict:
    """Token focus of one layer, a [head, q, k]: for every head and every token j, how much `token` attends to j
    and how much j attends to `token` -> CSV-ready columns head, direction, query, key, weight."""
    a = np.asarray(a, dtype=np.float64)
    h, n = a.shape[0], a.shape[-1]
    heads = np.repeat(np.arange(h), 2 * n)
    j = np.tile(np.repeat(np.arange(n), 2), h)
    to = np.tile([True, False], h * n)                           # "attends to" first, then "attended by"
    q = np.where(to, token, j)
    k = np.where(to, j, token)
    lab = np.asarray(labels, dtype=object)
    return {"head": heads, "direction": np.where(to, "attends to", "attended by"), "query": lab[q], "key": lab[k],
            "weight": np.round(a[heads, q, k], decimals)}


# ------------------------------------------------------------------ what each view shows, and the lines under it
HEADS = {"one": "one head", "mean": "mean of heads", "max": "max of heads"}   # url name -> label
OPTION_HELP = {   # url name -> what the view option does (the help of its control)
    "hide": "Drop the [CLS], [SEP] and <|endoftext|> rows and columns, like exBERT.",
    "renorm": "On: each row sums to 1 again. Off: raw weights, so you can see what went to the hidden tokens.",
    "merge": "WordPiece '##' and byte-level BPE 'Ġ' pieces become whole words: attention to a word is summed over "
             "its pieces, attention from a word is averaged.",
    "rollout": "Abnar & Zuidema (2020): follow attention through every layer up to this one, each mixed "
               "half-and-half with the residual connection (0.5·A + 0.5·I).",
    "heads": "One head, or all heads of the layer combined (mean keeps rows summing to 1; max does not).",
}
HEAD_NOTES = {
    "rollout": "Rollout: each layer's mean over heads is mixed with the residual stream (0.5·A + 0.5·I), rows "
               "renormalised, and multiplied down through the layers — how much each output draws on each input "
               "token.",
    "max": "Max over heads: each cell is the strongest head's weight, so rows no longer sum to 1.",
}


def head_pattern(attn: np.ndarray, rolled: np.ndarray, layer: int, head: int, how: str = "one",
                 roll: bool = False) -> tuple[np.ndarray, str, str | None]:
    """The one-head view's [q, k] pattern, what it is, and a note about it (or None).

    attn: [layer, head, q, k]; rolled: the rollout of the head means per layer [layer, q, k]; how: a key of HEADS.
    """
    if roll:
        return rolled[layer], f"rollout through layers 0–{layer}", HEAD_NOTES["rollout"]
    if how != "one":
        return combine_heads(attn[layer], how), f"layer {layer}, {HEADS[how]}", HEAD_NOTES.get(how)
    return attn[layer, head], f"layer {layer}, head {head}", None


def head_index(n_layers: int, n_heads: int) -> dict[str, np.ndarray]:
    """The layer and head columns of a table with one row per head, in [layer, head] order."""
    return {"layer": np.repeat(np.arange(n_layers), n_heads), "head": np.tile(np.arange(n_heads), n_layers)}


def thumb_size(n_layers: int, n_heads: int) -> int:
    """Cells per side of each whole-model thumbnail: smaller when there are many heads."""
    return 24 if n_layers * n_heads > 64 else 32


def thumbnails_table(pooled: np.ndarray) -> dict:
    """The whole-model thumbnails [layer, head, s, s] as CSV-ready columns (cells numbered 0..s-1)."""
    cells = [str(i) for i in range(pooled.shape[-1])]
    return long_table(pooled, cells, cells, lead=head_index(pooled.shape[0], pooled.shape[1]))


def thumbnails_note(n_tokens: int, cells: int) -> str:
    """The line under the whole-model thumbnails: n_tokens before pooling, cells per side after."""
    if n_tokens > cells:
        return f"Each thumbnail averages blocks of tokens down to {cells}×{cells} cells; click one to open that head."
    return "Click a thumbnail to open that head."


def focus_note(label: str) -> str:
    """The line under a causal model's token focus (markdown; the token is escaped)."""
    return (f"Causal: **{md(label)}** can only look left (at itself and earlier tokens), "
            "and only later tokens can look at it.")


def summary_table(stats: dict[str, np.ndarray], decimals: int = 6) -> dict:
    """Every head statistic ({name: [layer, head]}) as CSV-ready columns: layer, head, one column per statistic."""
    n_layers, n_heads = next(iter(stats.values())).shape
    return {**head_index(n_layers, n_heads), **{k: np.round(v.reshape(-1), decimals) for k, v in stats.items()}}


def summary_notes(stat: str, values: np.ndarray, special: list[bool], model_name: str) -> tuple[str | None, str]:
    """(a note before the head summary or None, the line under it): what the statistic means and its top head."""
    label, meaning = STATS[stat]
    before = None
    if stat == "sep" and not any(special[1:]):
        before = f"{md(model_name)} adds no \\[SEP\\] token to this text, so this share is 0 everywhere."
    best = np.unravel_index(np.argmax(values), values.shape)
    return before, (f"{label[:1].upper() + label[1:]}: {meaning}. Highest here: layer {best[0]}, head {best[1]} "
                    f"({values[best]:.3f}). Click a square to open that head.")


EXPLAINED = ("Each row is one **query** token deciding how much to read from every **key** token; its weights sum "
             "to 1. BERT (an encoder) lets every token see the whole sentence; GPT-2 (a decoder) masks the future, "
             "so its maps are lower-triangular. Heads specialise: some look at the previous token, some park their "
             "attention on the first token or [SEP] (a 'sink'), some spread evenly.")


# ------------------------------------------------------------------ the bertviz view's input cap and its lines
BERTVIZ = {"head": "head view", "model": "model view", "neuron": "neuron view"}   # url name -> label
BERTVIZ_OFFLINE = ("bertviz's JavaScript is not cached and could not be fetched ({why}); it will load from the CDN "
                   "if this browser is online. The other views work offline.")
BERTVIZ_NEURON = ("Queries and keys come from the loaded model through forward hooks (they reproduce its attention "
                  "exactly); bertviz's own neuron-view model classes load only its old pickle checkpoints.")


def bertviz_tokens(result: AttentionResult, kind: str, head_dim: int) -> int:
    """How many of the result's tokens the bertviz view `kind` gets (its HTML carries every weight as text)."""
    return min(result.n_tokens, bertviz_view.token_cap(result.n_layers, result.n_heads, kind, head_dim))


def bertviz_caption(kind: str, model_name: str, shown: int, n_tokens: int, payload_bytes: int) -> str:
    """The line under a bertviz view (markdown; the model name is escaped)."""
    cut = f"the first {shown} of {n_tokens} tokens" if shown < n_tokens else f"all {n_tokens} tokens"
    return (f"bertviz {BERTVIZ[kind]} of {md(model_name)}: {cut} ({payload_bytes / 1e6:.1f} MB "
            "of HTML — bertviz sends every weight as text, so its input is capped).")


def sliders_used(view: str, bertviz_kind: str, heads: str, roll: bool) -> tuple[bool, bool]:
    """(the layer and head sliders apply to this view, the head slider does something).

    bertviz's model view shows every layer and head itself; the head slider matters for one head (no rollout, no
    combining), and for bertviz's neuron view (its other views show every head)."""
    bertviz_model = view == "bertviz" and bertviz_kind == "model"
    one_head = (view == "head" and heads == "one" and not roll) or (view == "bertviz" and bertviz_kind == "neuron")
    return view in ("head", "layer", "focus", "bertviz") and not bertviz_model, one_head
