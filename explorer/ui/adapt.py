"""Train & adapt page helpers: strategies counted on the bundled models (cached), and the live fine-tune.

The fine-tune is a per-session `explorer.adapt.FineTune` in `st.session_state` (its model copies are
the session's own and are dropped when the run ends). A fragment advances it a slice at a time and
redraws the curves; slices of all sessions take turns through one process-wide lock, so a class
pressing Start together shares the CPU instead of thrashing it, and step times stay honest.
"""
from __future__ import annotations

import threading
from dataclasses import asdict

import pandas as pd
import streamlit as st

from explorer import adapt
from explorer import scaling as sc
from explorer.models import registry
from explorer.presets import PRESETS, ArchConfig, from_hf_config
from explorer.ui import models, nav
from explorer.ui.editor import url_table
from explorer.ui.errors import guard
from explorer.ui.state import UrlState

BUNDLED = {"tiny-gpt2": "tiny GPT-2 (bundled)", "tiny-llama": "tiny Llama (bundled)", "tiny-bert": "tiny BERT (bundled)"}
RUN_KEY = "ad_finetune"          # session_state: the session's one FineTune
SLICE_SECONDS = 0.4              # training time per fragment run, between redraws
REDRAW_SECONDS = 0.5
_train_lock = threading.Lock()


def architectures() -> dict[str, str]:
    """{key: label} of the architectures the Adapt section offers: the bundled models, then the presets."""
    return {**BUNDLED, **{name: f"{name} (config.json)" for name in PRESETS}}


@st.cache_resource(show_spinner=False)
def _bundled_arch(model_id: str) -> ArchConfig:
    lm = models.get(model_id)
    return from_hf_config(model_id, lm.model.config, source=f"assets/models/{model_id}/config.json")


def arch(key: str) -> ArchConfig | None:
    """The ArchConfig of a preset, or of a bundled model read from its loaded config (None if it fails to load)."""
    if key in PRESETS:
        return PRESETS[key]
    if models.get(key) is None:
        return None
    return _bundled_arch(key)


@st.cache_data(show_spinner=False, max_entries=256)
def _counted(model_id: str, strategy: dict) -> tuple[int, int]:
    lm = models.get(model_id)
    return adapt.counted(lm.model, adapt.Strategy(**strategy), _bundled_arch(model_id))


def counted(model_id: str, s: adapt.Strategy) -> tuple[int, int] | None:
    """(trainable, total) with the strategy applied to a copy of the bundled model; None for presets."""
    if model_id not in BUNDLED or registry.get(model_id) is None:
        return None
    with st.spinner("Applying the strategy to a copy of the model and counting requires_grad…"):
        return _counted(model_id, asdict(s))


# ---------------------------------------------------------------- the live fine-tune
def current() -> adapt.FineTune | None:
    return st.session_state.get(RUN_KEY)


def start(text: str, prompt: str, steps: int, lora: adapt.Strategy) -> str | None:
    """Start this session's run on a copy of the bundled tiny GPT-2; an error sentence, or None."""
    run = current()
    if run is not None and run.running:
        return "A fine-tune is already running in this tab: stop it first."
    lm = models.get("tiny-gpt2")
    if lm is None:
        return "The bundled tiny GPT-2 could not be loaded."
    try:
        st.session_state[RUN_KEY] = adapt.FineTune(lm, _bundled_arch("tiny-gpt2"), text, prompt, steps=steps,
                                                   lora=lora)
    except ValueError as e:
        return str(e)
    return None


def stop() -> None:
    run = current()
    if run is not None:
        run.stop()


def advance(run: adapt.FineTune) -> bool:
    """Train one slice if the lock is free within a moment; False when another session's slice held it."""
    if not _train_lock.acquire(timeout=2.0):
        return False
    try:
        run.run_for(SLICE_SECONDS)
    finally:
        _train_lock.release()
    return True


# ------------------------------------------------------------------ controls of the page's sections
def candidates_editor(url: UrlState, cands, default: str) -> None:
    """The scorecard's candidates as an editable table (their text in the link) and a button back to the lessons'."""
    col = st.column_config
    url_table(url, "cands", pd.DataFrame([vars(x) for x in cands]),
              lambda edits: sc.format_candidates(sc.apply_edits(cands, edits["edited_rows"])),
              what="your edit of the table", hide_index=True, width="stretch", column_config={
                  "name": col.TextColumn("model", max_chars=40),
                  "quality": col.NumberColumn("quality (0-100)", min_value=0, max_value=100),
                  "p95_ms": col.NumberColumn("p95 latency (ms)", min_value=0, max_value=60000),
                  "cost": col.NumberColumn("cost ($ / 1k requests)", min_value=0, max_value=1000, format="%.3f"),
                  "licence_ok": col.CheckboxColumn("licence passes the gate")})
    st.button("↺ The lessons' table", key="ad_cands_reset", on_click=url.set, args=("cands", default),
              disabled=st.session_state[url.key("cands")] == default)


def strategy_table(key: str, rows: list) -> list[dict]:
    """One row per strategy (adapt.compare's rows): the counts and bytes from the config and, for a bundled model,
    the trainable parameters counted on the model itself (✔ when both agree)."""
    table = []
    for r in rows:
        row = {"strategy": r.strategy.label, "trainable (from the config)": f"{r.trainable:,}",
               "share": f"{r.fraction:.3%}", "weights": adapt.format_bytes(r.memory.weights),
               "gradients": adapt.format_bytes(r.memory.gradients), "Adam": adapt.format_bytes(r.memory.adam)}
        with guard("the count on the model"):
            real = counted(key, r.strategy)
            if real is not None:
                row["counted on the model"] = f"{real[0]:,}" + (" (peft)" if r.strategy.kind == "lora" else "") + \
                                              (" ✔" if real[0] == r.trainable else " ✘ differs")
        table.append(row)
    return table


def release_links(url: UrlState, llama3: "sc.Run") -> None:
    """A release note's headline numbers, each a link to where this app answers it live."""
    st.caption("A release note's headline numbers, each answered live somewhere in this app:")
    st.page_link("pages/moe.py", label="“47B total, 13B active”: memory follows the total, speed the active",
                 icon="🔀", query_params={"view": "size"})
    st.page_link(nav.page("kv-cache").path, label="“1M-token context”: what the KV cache costs at 1M tokens",
                 icon="🧮", query_params={"seq": "1048576", "batch": "1"})
    st.page_link(nav.page("kv-cache").path, label="“GQA with 8 KV heads”: which heads share a cache",
                 icon="🧮", query_params={"view": "sharing"})
    st.button("“Trained on 15T tokens”: tokens per parameter of Llama-3-8B", icon="📈", key="ad_go_scale",
              on_click=lambda: (url.set("view", "scale"), url.set("run", "llama-3-8b"),
                                url.set("n", int(round(llama3.params))), url.set("d", int(round(llama3.tokens)))))
    st.button("“Fine-tune it with LoRA”: what trains and what memory it needs", icon="🏋️", key="ad_go_adapt",
              on_click=url.set, args=("view", "adapt"))
    st.caption("And the licence: a model whose licence fails the gate is never chosen, whatever its score.")
