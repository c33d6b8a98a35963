"""Predict-then-reveal checks: what a tour file may ask the app to compute live, and how a guess is graded.

A tour step's check names a computation of this registry and its arguments; the answer is never written
in the file, it is computed here from the model or the engine at the moment the learner commits a guess:

    [steps.ask]
    kind = "predict"
    question = "Which token will the decoder put after “Where is my”?"
    compute = "next_token"
    args = { prompt = "Where is my" }

Each computation returns a `Live`: the answer as the app shows it, either the options the learner picks
from (computed live too: the model's top tokens, the router's experts) or a number with a tolerance, and
the evidence shown beside the guess. `models(family)` hands over the loaded model of a family (the
sidebar's choice in the app, the bundled model in tests and in the checker). No Streamlit here; torch-based
modules are imported inside the functions, so reading a tour file stays cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

Models = Callable[[str], Any]          # family -> LoadedModel


@dataclass(frozen=True)
class Live:
    """A computed answer. `options` non-empty: the learner picks one of them; empty: the learner types a number,
    right when it is within `tolerance` (relative) of `value`."""
    answer: str                                   # the answer as shown (one of `options`, or the formatted number)
    evidence: tuple[tuple[str, str], ...]         # (what, value) rows shown beside the guess
    source: str                                   # one line: who computed it ("tiny GPT-2, greedy, one forward pass")
    options: tuple[str, ...] = ()
    value: float | None = None
    tolerance: float = 0.0
    unit: str = ""

    @property
    def numeric(self) -> bool:
        return not self.options

    def grade(self, guess: Any) -> bool:
        """True when `guess` (an option, or a number) is right."""
        if self.options:
            return guess == self.answer
        try:
            g = float(guess)
        except (TypeError, ValueError):
            return False
        if not math.isfinite(g) or self.value is None:
            return False
        return abs(g - self.value) <= self.tolerance * abs(self.value) + 1e-12


@dataclass(frozen=True)
class Param:
    kind: type                         # str, int or float
    default: Any
    choices: tuple = ()                # allowed values (empty: any of `kind`)
    lo: float | None = None
    hi: float | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` cannot be this parameter, or None."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return f"must be {'text' if self.kind is str else 'a number' if self.kind is float else 'a whole number'}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}"
        if self.kind is str and not 1 <= len(value.strip()) <= 200:
            return "must be 1 to 200 characters"
        if self.lo is not None and value < self.lo or self.hi is not None and value > self.hi:
            return f"must be between {self.lo:g} and {self.hi:g}"
        return None


@dataclass(frozen=True)
class Computation:
    fn: Callable[..., Live]
    params: dict[str, Param]
    what: str                          # one line for the checker and the README
    family: str | None = None          # model family it needs (None: engine only); a `family` arg may override


# ============================================================================ the computations
def next_token(models: Models, prompt: str, family: str = "decoder", options: int = 4) -> Live:
    """The token the decoder puts next, greedy (one forward pass through explorer.generation, the same
    decoding the Generation page does). Options: the model's `options` most likely tokens, alphabetically."""
    from explorer import generation as G
    from explorer.forward import encode
    lm = models(family)
    enc = encode(lm, prompt)
    trace = G.Generation(lm, list(enc.ids), G.Sampling(greedy=True), max_new_tokens=1).step(lm)
    k = min(options, len(trace.tokens))
    top = [(trace.tokens[i], float(trace.p_model[i])) for i in range(k)]
    picks = tuple(sorted(dict.fromkeys(t for t, _ in top)))
    evidence = tuple((f"“{t}”", f"{p:.1%}") for t, p in top)
    return Live(answer=trace.token, options=picks, evidence=evidence,
                source=f"{_name(lm)}: next-token probabilities, "
                       "greedy pick (one forward pass)")


def toy_router(models: Models, word: str = "refund", logits: str = "") -> Live:
    """The expert the lessons' toy router ranks first for `word` (explorer.moe.route over its logits; `logits`
    replaces the lesson's table, in the MoE page's `logits` link format)."""
    from explorer import moe
    table = moe.parse_logits(logits) if logits else moe.TOY_LOGITS
    r = moe.route(table, moe.TOY_K)
    t = moe.TOY_TOKENS.index(word)
    best = int(r.chosen[t, 0])
    evidence = tuple((e, f"{r.probs[t, i]:.3f}") for i, e in enumerate(moe.TOY_EXPERTS))
    return Live(answer=moe.TOY_EXPERTS[best], options=tuple(moe.TOY_EXPERTS), evidence=evidence,
                source=f"the toy router: softmax over its logits for “{word}”, top-{moe.TOY_K}")


def _name(lm) -> str:
    spec = getattr(lm, "spec", None)
    return spec.display_name if spec is not None else str(getattr(lm, "key", "the model"))


def _word_position(tokens: list[str], word: str) -> int | None:
    """The position of the first token of `word` in `tokens` (a word may be cut into several pieces)."""
    from explorer.text import display_token
    pieces = [display_token(t) for t in tokens]
    w = word.strip().lower()
    for i, p in enumerate(pieces):
        if i and not p.startswith("␣"):
            continue
        acc, j = p.lstrip("␣"), i
        while len(acc) < len(w) and j + 1 < len(pieces) and not pieces[j + 1].startswith("␣"):
            j += 1
            acc += pieces[j]
        if acc.lower() == w:
            return i
    return None


def model_router(models: Models, text: str, word: str = "refund", layer: int = 0) -> Live:
    """The expert a real MoE model's router in `layer` ranks first for the token `word` of `text`
    (explorer.moe.capture: what the model's router really handed its experts)."""
    from explorer import moe
    from explorer.text import display_token
    lm = models("moe-decoder")
    cap = moe.capture(lm, text, max_tokens=64)
    pos = _word_position(cap.tokens, word)
    if pos is None:
        raise ValueError(f"there is no word {word!r} in this text")
    layer = min(layer, cap.n_layers - 1)
    best = int(cap.chosen[layer, pos, 0])
    names = tuple(f"expert {e}" for e in range(cap.n_experts))
    probs = cap.probs[layer, pos]
    evidence = tuple((names[e], f"{probs[e]:.3f}") for e in range(cap.n_experts))
    return Live(answer=names[best], options=names, evidence=evidence,
                source=f"{_name(lm)}: router of layer {layer} "
                       f"for “{word}” (its first token, {display_token(cap.tokens[pos])}: token {pos + 1} of {cap.n_tokens})")


def kv_cache_gib(models: Models, preset: str = "Llama-3-8B", kv_heads: int = 8, seq: int = 8192, batch: int = 8,
                 dtype: str = "bf16") -> Live:
    """GiB of a model's KV cache with `kv_heads` key/value heads (explorer.kvcache.cache_bytes on the preset's shape)."""
    from explorer import kvcache as kv
    from explorer.presets import PRESETS
    shape = kv.shape_of(PRESETS[preset]).with_kv_heads(kv_heads)
    bits = kv.DTYPE_BITS[dtype]
    gib = kv.cache_bytes(shape, seq, batch, bits) / kv.GIB
    evidence = (("formula", "2 × layers × KV heads × head dim × tokens × batch × bytes"),
                ("numbers", f"2 × {shape.n_layers} × {shape.n_kv_heads} × {shape.head_dim} × {seq:,} × {batch} × "
                            f"{bits / 8:g}"),
                ("cache", f"{gib:,.2f} GiB ({shape.kind})"))
    return Live(answer=f"{gib:,.2f} GiB", evidence=evidence, value=gib, tolerance=0.1, unit="GiB",
                source=f"{preset}'s shape with {kv_heads} KV heads, {seq:,} tokens, batch {batch}, {dtype}")


def word_patch(models: Models, scene: str = "two", word: str = "red", layer: int = -1) -> Live:
    """Which object of a bundled scene the vision-language model looks at while it writes `word` in its caption:
    the most-attended image patch at that step (explorer.multimodal.word_patch, decoder layer `layer`; -1: the
    layer the model's card names for grounding), and the object that patch touches."""
    from explorer import multimodal as M
    lm = models("vision-language")
    sc = M.scenes.build(list(M.BUNDLED[scene]))
    run = M.caption(lm, M.scenes.render(sc))
    n_layers = int(run.decoder_attn.shape[0])
    if layer < 0:
        layer = M.grounding_layer(lm) if M.grounding_layer(lm) is not None else n_layers - 1
    layer = min(layer, n_layers - 1)
    patch = M.word_patch(run, word, layer)
    if patch is None:
        raise ValueError(f"the model's caption ({' '.join(run.words)}) has no word {word!r}")
    names = [f"the {o.words}" for o in sc.objects]
    touched = [i for i, _ in enumerate(sc.objects) if _touches(M, sc, run.geometry, patch, i)]
    answer = names[touched[0]] if touched else "the background"
    g = run.geometry
    r, c = divmod(patch, g.grid)
    share = float(run.patch_attention(run.words.index(word) if word in run.words else 0, layer).max())
    evidence = (("caption", " ".join(run.words)), ("patch", f"row {r + 1}, column {c + 1} of {g.grid} × {g.grid}"),
                ("its weight", f"{share:.3f}"), ("it touches", answer))
    return Live(answer=answer, options=(*names, "the background"), evidence=evidence,
                source=f"{_name(lm)}: decoder layer {layer}, the step writing “{word}”")


def _touches(M, sc, geo, patch: int, i: int) -> bool:
    """Does image patch `patch` (the model's input pixels) touch object i of the scene?"""
    m = M.scenes.object_map(sc)
    s = m.shape[0] / geo.image_size
    x0, y0, x1, y1 = (int(v * s) for v in geo.box(patch))
    return bool((m[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)] == i + 1).any())


def _kv_heads_ok(preset: str, kv_heads: int) -> str | None:
    from explorer.presets import PRESETS
    n = PRESETS[preset].n_heads
    return None if n % kv_heads == 0 else f"{preset} has {n} query heads: `kv_heads` must divide it"


def _presets() -> tuple[str, ...]:
    from explorer.presets import PRESETS
    return tuple(PRESETS)


def _dtypes() -> tuple[str, ...]:
    return ("fp32", "bf16", "fp16", "fp8", "int4")


def _toy_words() -> tuple[str, ...]:
    return ("refund", "delayed")


def _scenes() -> tuple[str, ...]:
    from explorer.multimodal import BUNDLED
    return tuple(BUNDLED)


REGISTRY: dict[str, Computation] = {
    "next_token": Computation(next_token, {"prompt": Param(str, None), "family": Param(str, "decoder",
                                                                                       ("decoder", "rope-decoder")),
                                           "options": Param(int, 4, lo=2, hi=6)},
                              "the decoder's greedy next token for `prompt`", family="decoder"),
    "toy_router": Computation(toy_router, {"word": Param(str, "refund", _toy_words()), "logits": Param(str, "")},
                              "the expert the lessons' toy router ranks first for `word`"),
    "model_router": Computation(model_router, {"text": Param(str, None), "word": Param(str, "refund"),
                                               "layer": Param(int, 0, lo=0, hi=64)},
                                "the expert a MoE model's router picks first for `word` in `text`",
                                family="moe-decoder"),
    "word_patch": Computation(word_patch, {"scene": Param(str, "two", _scenes()), "word": Param(str, "red"),
                                           "layer": Param(int, -1, lo=-1, hi=64)},
                              "the object a vision-language model looks at while writing `word`",
                              family="vision-language"),
    "kv_cache_gib": Computation(kv_cache_gib, {"preset": Param(str, "Llama-3-8B", _presets()),
                                               "kv_heads": Param(int, 8, lo=1, hi=128),
                                               "seq": Param(int, 8192, lo=1, hi=2 ** 20),
                                               "batch": Param(int, 8, lo=1, hi=256),
                                               "dtype": Param(str, "bf16", _dtypes())},
                                "GiB of a preset's KV cache with `kv_heads` key/value heads"),
}


def problems(name: str, args: dict[str, Any]) -> list[str]:
    """What is wrong with a check's `compute` and `args` (an empty list when it can be computed)."""
    comp = REGISTRY.get(name)
    if comp is None:
        return [f"`compute` {name!r} is not one of {', '.join(sorted(REGISTRY))}"]
    out = [f"`args` has no parameter {k!r} for {name} (it takes {', '.join(comp.params)})"
           for k in args if k not in comp.params]
    out += [f"`args.{k}` is needed by {name}" for k, p in comp.params.items() if p.default is None and k not in args]
    for k, v in args.items():
        p = comp.params.get(k)
        why = p.problem(v) if p else None
        if why:
            out.append(f"`args.{k}` {why}")
    if name == "kv_cache_gib" and not out:
        a = {**{k: p.default for k, p in comp.params.items()}, **args}
        bad = _kv_heads_ok(a["preset"], a["kv_heads"])
        out += [bad] if bad else []
    if name == "toy_router" and not out and args.get("logits"):
        from explorer import moe
        try:
            moe.parse_logits(args["logits"])
        except ValueError as e:
            out.append(f"`args.logits` {e}")
    return out


def family_of(name: str, args: dict[str, Any]) -> str | None:
    """The model family a computation reads (None: the engine alone)."""
    comp = REGISTRY[name]
    return args.get("family", comp.family) if comp.family else None


def compute(name: str, args: dict[str, Any], models: Models) -> Live:
    """Compute a check's answer now. Raises KeyError for an unknown name, ValueError when it cannot be computed."""
    comp = REGISTRY[name]
    kwargs = {k: (float(v) if comp.params[k].kind is float else v) for k, v in args.items()}
    return comp.fn(models, **kwargs)


def bundled_models(family: str):
    """The bundled model of a family (tests and the checker: the app offline, as in class)."""
    from explorer.models import loader, registry
    return loader.load(registry.bundled_for_family(family).id, family=family)
