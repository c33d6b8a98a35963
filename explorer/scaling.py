"""Scale and choice: tokens per parameter, the training-compute proxy, and the lessons' model scorecard.

Tokens per parameter is D / N. The lessons compare training runs by the compute proxy N x D,
relative to their first row (7B parameters on 140B tokens = 1.0x); the usual FLOPs estimate is
~6 N D (forward + backward, Kaplan et al. 2020, arXiv:2001.08361). Chinchilla (Hoffmann et al.
2022, arXiv:2203.15556) found ~20 tokens per parameter compute-optimal. Both are about compute,
not a predictor of quality: data quality, architecture and what the model is for decide that.

The scorecard picks a model per scenario: score = quality - latency_penalty x p95 (ms)
- cost_penalty x cost ($ per 1k requests), among the models whose licence passes the gate. The
weights per scenario are product decisions, not facts about models.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from explorer.presets import PRESETS, param_count
from explorer.text import md

FLOPS_PER_PARAM_TOKEN = 6          # forward (2) + backward (4) multiply-adds per parameter per token
OPTIMAL_TOKENS_PER_PARAM = 20      # Chinchilla's compute-optimal ratio
REFERENCE = (7e9, 140e9)           # the lessons' first row: 1.0x compute


def tokens_per_param(n_params: float, n_tokens: float) -> float:
    return n_tokens / n_params


def compute_proxy(n_params: float, n_tokens: float, reference: tuple[float, float] = REFERENCE) -> float:
    """N x D relative to the reference run (the lessons' 7B on 140B tokens = 1.0x)."""
    return (n_params * n_tokens) / (reference[0] * reference[1])


def train_flops(n_params: float, n_tokens: float) -> float:
    """The usual estimate of training compute: ~6 N D floating-point operations."""
    return FLOPS_PER_PARAM_TOKEN * n_params * n_tokens


def compute_optimal(flops: float, ratio: float = OPTIMAL_TOKENS_PER_PARAM) -> tuple[float, float]:
    """(N, D) that spend `flops` = 6 N D at D = ratio x N: N = sqrt(flops / (6 ratio))."""
    n = math.sqrt(flops / (FLOPS_PER_PARAM_TOKEN * ratio))
    return n, ratio * n


@dataclass(frozen=True)
class Run:
    """A training run: N parameters on D tokens, with where the numbers come from."""
    name: str
    params: float
    tokens: float
    source: str

    @property
    def key(self) -> str:
        """A short name for links: "Lesson: 7B on 140B tokens" -> "lesson-7b-on-140b-tokens"."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    @property
    def tokens_per_param(self) -> float:
        return tokens_per_param(self.params, self.tokens)

    @property
    def compute(self) -> float:
        return compute_proxy(self.params, self.tokens)

    @property
    def flops(self) -> float:
        return train_flops(self.params, self.tokens)


def _counted(name: str) -> float:
    """Parameters of a preset architecture, counted from its config.json fields (explorer.presets)."""
    return float(param_count(PRESETS[name])[0])


# The lessons' table: the two rows the lessons compare.
LESSON = [
    Run("Lesson: 7B on 140B tokens", 7e9, 140e9, "the lessons' compute-optimal example (20 tokens per parameter)"),
    Run("Lesson: 175B on 300B tokens", 175e9, 300e9, "the lessons' GPT-3-sized example"),
]

# Well-known runs. Parameters of models in explorer.presets are counted from their configs; the
# others are the papers' own figures. Tokens are the papers' or model cards' figures.
RUNS = LESSON + [
    Run("GPT-3", 175e9, 300e9, "Brown et al. 2020, arXiv:2005.14165, Table 2.1 and section 2.2 (300B tokens)"),
    Run("Gopher", 280e9, 300e9, "Rae et al. 2021, arXiv:2112.11446, Table 1 (280B parameters, 300B tokens)"),
    Run("Chinchilla", 70e9, 1.4e12, "Hoffmann et al. 2022, arXiv:2203.15556, Table 1 (70B, 1.4T tokens)"),
    Run("LLaMA-7B", 6.7e9, 1e12, "Touvron et al. 2023, arXiv:2302.13971, Table 2 (6.7B, 1.0T tokens)"),
    Run("Llama-2-7B", _counted("Llama-2-7B"), 2e12,
        f"parameters counted from {PRESETS['Llama-2-7B'].source}; 2T tokens: Touvron et al. 2023, "
        "arXiv:2307.09288, Table 1"),
    Run("Llama-3-8B", _counted("Llama-3-8B"), 15e12,
        f"parameters counted from {PRESETS['Llama-3-8B'].source}; 15T+ tokens: Meta's Llama 3 model card"),
    Run("Llama-3-70B", _counted("Llama-3-70B"), 15e12,
        f"parameters counted from {PRESETS['Llama-3-70B'].source}; 15T+ tokens: Meta's Llama 3 model card"),
    Run("Gemma-2B", _counted("Gemma-2B"), 3e12,
        f"parameters counted from {PRESETS['Gemma-2B'].source}; 3T tokens: Gemma Team 2024, arXiv:2403.08295"),
]
RUNS_BY_NAME = {r.name: r for r in RUNS}


def _grid(lo_exp: int, hi_exp: int, mantissas=(1, 1.4, 2, 3, 5, 7)) -> list[float]:
    return [m * 10.0 ** e for e in range(lo_exp, hi_exp + 1) for m in mantissas]


def slider_values(kind: str) -> list[int]:
    """Values of the N (kind="params") or D ("tokens") slider: a 1-1.4-2-3-5-7 grid plus every run's own value."""
    grid = _grid(8, 12) if kind == "params" else _grid(9, 13)
    own = [r.params if kind == "params" else r.tokens for r in RUNS]
    return sorted({int(round(v)) for v in grid + own})


def human(n: float, unit: str = "") -> str:
    """1.4e11 -> '140B', 6.74e9 -> '6.74B', 1.5e13 -> '15T' (3 significant digits)."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}{unit}"
    return f"{n:.3g}{unit}"


def table(runs: list[Run]) -> list[dict]:
    """The lessons' columns for some runs: tokens per parameter (one decimal) and compute (x of 7B/140B)."""
    return [{"run": r.name, "parameters N": human(r.params), "tokens D": human(r.tokens),
             "tokens / parameter": f"{r.tokens_per_param:.1f}", "compute proxy N·D": f"{r.compute:.1f}x",
             "≈ 6·N·D FLOPs": f"{r.flops:.2e}"} for r in runs]


# where each run's name sits next to its point on the scaling plane (runs without one are not drawn)
LABEL_POS = {"gpt-3": "top left", "gopher": "bottom right", "chinchilla": "top left", "llama-7b": "bottom right",
             "llama-2-7b": "top left", "llama-3-8b": "top left", "llama-3-70b": "top right",
             "gemma-2b": "bottom center"}
YOURS = "your sliders"
PROXY_WARNING = ("⚠️ A compute proxy, not a quality predictor: N·D says how much training was bought, not how "
                 "good the model is — data quality, architecture and what the model is for decide that.")
SCALE_EXPLAINED = ("Tokens per parameter = D ÷ N. The lessons compare runs by N·D relative to 7B on 140B tokens "
                   "(1.0x); the usual FLOPs estimate is 6·N·D (2 for the forward pass, 4 for the backward pass, per "
                   "parameter per token). Chinchilla found about 20 tokens per parameter compute-optimal (the dashed "
                   "line): GPT-3's 175B on 300B tokens is 1.7 tokens per parameter at 53.6x the compute — a larger "
                   "model, starved of data.")


def sliders_run(preset: Run, n: int, d: int) -> Run:
    """The run the N and D sliders describe: the preset's name while they hold its values, else "your sliders"."""
    same = (n, d) == (int(round(preset.params)), int(round(preset.tokens)))
    return Run(preset.name if same else YOURS, n, d, "")


def headline(run: Run) -> list[tuple]:
    """The scale section's four numbers for a run: (label, value, note, help) each."""
    opt_n, opt_d = compute_optimal(run.flops)
    return [("Tokens per parameter D / N", f"{run.tokens_per_param:.1f}"),
            ("N·D vs 7B·140B", f"{run.compute:.1f}x", None,
             "The lessons' compute proxy: N·D relative to 7B parameters on 140B tokens."),
            ("FLOPs ≈ 6·N·D", f"{run.flops:.2e}".replace("e+", "e")),
            ("Compute-optimal N/D", f"{human(opt_n)}/{human(opt_d)}", None,
             "N and D that spend the same 6·N·D FLOPs at 20 tokens per parameter (D = 20·N): N = √(FLOPs / 120).")]


def plane_points(runs: list[Run] = RUNS, positions: dict[str, str] = LABEL_POS) -> list[dict]:
    """The runs drawn on the scaling plane, each with where its label sits."""
    return [{"name": r.name, "params": r.params, "tokens": r.tokens, "position": positions.get(r.key, "top center")}
            for r in runs if r.key in positions]


def plane_table(points: list[dict], mine: Run) -> dict:
    """The scaling plane's numbers (CSV columns): every drawn run, then the sliders' run."""
    return {"run": [p["name"] for p in points] + [mine.name],
            "parameters": [p["params"] for p in points] + [mine.params],
            "tokens": [p["tokens"] for p in points] + [mine.tokens]}


def sources(runs: list[Run] = RUNS) -> list[dict]:
    """Where each preset's numbers come from (one row per run)."""
    return [{"run": r.name, "N": human(r.params), "D": human(r.tokens), "source": r.source} for r in runs]


# ============================================================================ choosing a model: the scorecard
@dataclass(frozen=True)
class Candidate:
    name: str
    quality: float       # task quality on the team's own eval, 0..100
    p95_ms: float        # 95th-percentile latency
    cost: float          # $ per 1k requests
    licence_ok: bool     # passes the licence gate (allowed for this product's use)


@dataclass(frozen=True)
class Scenario:
    name: str
    latency_penalty: float   # points per ms of p95
    cost_penalty: float      # points per $ per 1k requests


SCENARIOS = {
    "live": Scenario("live support", 0.03, 8.0),
    "audit": Scenario("nightly audit", 0.003, 4.0),
}

CANDIDATES = [
    Candidate("hosted-fast", 82.0, 150.0, 0.375, True),
    Candidate("hosted-deep", 91.0, 1200.0, 0.75, True),
    Candidate("hosted-mid", 86.0, 500.0, 0.5, True),
    Candidate("self-hosted-small", 70.0, 60.0, 0.05, True),
    Candidate("open-large-research-only", 93.0, 400.0, 0.2, False),
]

MAX_CANDIDATES = 8
LIMITS = {"quality": (0.0, 100.0), "p95_ms": (0.0, 60_000.0), "cost": (0.0, 1000.0)}


def score(c: Candidate, s: Scenario) -> float:
    return c.quality - s.latency_penalty * c.p95_ms - s.cost_penalty * c.cost


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    eligible: bool        # passed the licence gate
    latency_points: float
    cost_points: float


def rank(candidates: list[Candidate], s: Scenario) -> list[Scored]:
    """Every candidate scored, best first; ties keep the table's order."""
    rows = [Scored(c, score(c, s), c.licence_ok, s.latency_penalty * c.p95_ms, s.cost_penalty * c.cost)
            for c in candidates]
    return sorted(rows, key=lambda r: -r.score)


def winner(candidates: list[Candidate], s: Scenario) -> Scored | None:
    """The best-scoring candidate that passes the licence gate (None if none does): a failed licence never wins."""
    return next((r for r in rank(candidates, s) if r.eligible), None)


def scorecard_rows(ranked: list[Scored]) -> list[dict]:
    """The scorecard chart's bars, best first."""
    return [{"name": r.candidate.name, "score": r.score, "quality": r.candidate.quality,
             "latency_points": r.latency_points, "cost_points": r.cost_points, "eligible": r.eligible}
            for r in ranked]


def scorecard_table(ranked: list[Scored]) -> dict:
    """The scorecard's numbers (CSV columns)."""
    return {"model": [r.candidate.name for r in ranked], "score": [round(r.score, 4) for r in ranked],
            "licence_ok": [r.eligible for r in ranked]}


def verdict(s: Scenario, best: Scored) -> str:
    """The scenario's pick and how it is scored (markdown; names are escaped)."""
    return (f"**{md(s.name)} picks {md(best.candidate.name)} at {best.score:.2f} points** "
            f"(quality − {s.latency_penalty:g} × p95 ms − {s.cost_penalty:g} × cost).")


def format_candidates(cands: list[Candidate]) -> str:
    """The table as one link value: name:quality:p95:cost:licence;..."""
    return ";".join(f"{c.name}:{c.quality:g}:{c.p95_ms:g}:{c.cost:g}:{int(c.licence_ok)}" for c in cands)


def clean_name(name: str) -> str:
    """A candidate name safe in the link format: printable, no separators, at most 40 characters."""
    kept = "".join(ch for ch in str(name) if ch.isprintable() and ch not in ";:").strip()
    return kept[:40] or "model"


def parse_candidates(text: str) -> list[Candidate]:
    """Inverse of format_candidates; ValueError (in our words, never echoing the text) when malformed."""
    rows = [r for r in text.split(";") if r]
    if not rows:
        raise ValueError("no candidates")
    if len(rows) > MAX_CANDIDATES:
        raise ValueError(f"more than {MAX_CANDIDATES} candidates")
    out = []
    for row in rows:
        parts = row.split(":")
        if len(parts) != 5:
            raise ValueError("a candidate needs five fields")
        name = clean_name(parts[0])
        try:
            q, p95, cost = (float(x) for x in parts[1:4])
        except ValueError:
            raise ValueError("a number field is not a number") from None
        for field_name, v in zip(("quality", "p95_ms", "cost"), (q, p95, cost)):
            lo, hi = LIMITS[field_name]
            if not (math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{field_name} outside {lo:g}..{hi:g}")
        if parts[4] not in ("0", "1"):
            raise ValueError("licence must be 0 or 1")
        out.append(Candidate(name, q, p95, cost, parts[4] == "1"))
    return out


def clamp(c: Candidate) -> Candidate:
    """A candidate edited in the table, brought inside the allowed ranges."""
    def fit(k: str) -> float:
        lo, hi = LIMITS[k]
        try:
            v = float(getattr(c, k))
        except (TypeError, ValueError):
            return lo
        return min(max(v, lo), hi) if math.isfinite(v) else lo
    return replace(c, name=clean_name(c.name), licence_ok=bool(c.licence_ok), **{k: fit(k) for k in LIMITS})


def apply_edits(cands: list[Candidate], edited_rows: dict) -> list[Candidate]:
    """Fold a table editor's edits ({row: {column: value}}) into the candidates, clamped to the allowed ranges."""
    rows = list(cands)
    for i, change in edited_rows.items():
        i = int(i)
        if not 0 <= i < len(rows):
            continue
        fields = {k: v for k, v in change.items() if v is not None and k in Candidate.__dataclass_fields__}
        rows[i] = clamp(replace(rows[i], **fields))
    return rows
