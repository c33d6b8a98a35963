"""The process's models within EXPLORER_MEMORY_MB: least recently used unloaded first, reloaded on demand,
their memory freed, a model larger than the budget refused with a sentence (explorer.models.pool)."""
import gc
import weakref

import pytest
import torch

from explorer import runtime
from explorer.models import loader, pool
from explorer.models.loader import LoadedModel
from explorer.ui import models as ui_models

MB = 2 ** 20


def _fake_load(sizes_mb: dict | int, calls: list | None = None):
    def load(model_id, progress=None, family=None):
        from transformers import GPT2Config, GPT2LMHeadModel
        size = sizes_mb if isinstance(sizes_mb, int) else sizes_mb[model_id]
        if calls is not None:
            calls.append(model_id)
        # ~size MB of float32 weights: a vocabulary-heavy one-layer GPT-2 (input and output embeddings tied)
        cfg = GPT2Config(n_layer=1, n_head=2, n_embd=64, vocab_size=size * MB // (4 * 64), n_positions=32,
                         bos_token_id=0, eos_token_id=0)
        cfg._attn_implementation = "eager"
        return LoadedModel.in_memory(GPT2LMHeadModel(cfg), name=model_id)
    return load


def _storage(lm):
    return weakref.ref(lm.model), lm.model.transformer.wte.weight.untyped_storage().nbytes()


def test_the_budget_unloads_the_least_recently_used_and_frees_it():
    calls = []
    p = pool.ModelPool(20 * MB, _fake_load({"a": 8, "b": 8, "c": 8}, calls))
    a, notes = p.get("a")
    assert notes == [] and pool.weight_bytes(a.model) >= 8 * MB
    b, _ = p.get("b")
    p.get("a")                                     # a is now the most recently used
    a_ref, b_ref = weakref.ref(a.model), weakref.ref(b.model)
    del a, b
    c, notes = p.get("c")                          # 24 MB > 20 MB: b (least recently used) leaves
    assert list(p.held()) == ["a", "c"]
    assert len(notes) == 1 and notes[0].startswith("Unloaded b (8 MB) to make room for c") and "20 MB" in notes[0]
    gc.collect()
    assert b_ref() is None and a_ref() is not None  # b's weights went back; a is still held
    assert p.used() <= p.budget
    b2, notes = p.get("b")                         # asked for again: loaded again (a leaves now)
    assert calls == ["a", "b", "c", "b"] and list(p.held()) == ["c", "b"]
    assert b2 is p.held()["b"] and "Unloaded a" in notes[0]


def test_a_model_larger_than_the_budget_is_refused_with_a_sentence():
    p = pool.ModelPool(10 * MB, _fake_load({"small": 4, "huge": 16}))
    p.get("small")
    with pytest.raises(pool.TooLarge) as e:
        p.get("huge")
    message = str(e.value)
    assert message.count(". ") == 0 and message.endswith("choose a smaller model.")
    assert "huge needs 16 MB" in message and "budget of 10 MB (EXPLORER_MEMORY_MB)" in message
    assert list(p.held()) == ["small"]             # what fits stays


def test_one_load_per_model_for_every_session():
    calls = []
    p = pool.ModelPool(100 * MB, _fake_load(2, calls))
    first = [p.get("m")[0] for _ in range(3)]
    assert calls == ["m"] and all(x is first[0] for x in first)


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EXPLORER_MEMORY_MB", "500")
    assert pool.memory_budget_mb() == 500
    for bad in ("", "-3", "lots", "0"):
        monkeypatch.setenv("EXPLORER_MEMORY_MB", bad)
        assert pool.memory_budget_mb() == pool.DEFAULT_MEMORY_MB


def test_a_loaded_model_is_frozen_out_of_every_collection_and_thawed_to_leave():
    p = pool.ModelPool(12 * MB, _fake_load(8))
    runtime.freeze_heap()
    before = gc.get_freeze_count()
    lm, _ = p.get("one")
    assert gc.get_freeze_count() > before + len(list(lm.model.modules()))   # the full collection skips them
    ref = weakref.ref(lm.model)
    del lm
    p.get("two")                                   # "one" leaves: thawed, collected
    assert ref() is None


def test_the_app_uses_one_pool_for_every_session(monkeypatch):
    monkeypatch.setattr(loader, "load", _fake_load(1))
    ui_models.POOL.clear()
    lm, _ = ui_models.POOL.get("fake-x", "decoder")
    assert ui_models.loaded_models() == {"fake-x": lm}
    ui_models.POOL.clear()
    assert ui_models.loaded_models() == {}


class _Pieces:
    eos_token_id = None

    def convert_ids_to_tokens(self, i):
        return f"t{i}"


def test_a_generation_run_keeps_no_model_alive(monkeypatch):
    from explorer import generation as G
    fake = _fake_load(1)
    monkeypatch.setattr(loader, "load", lambda *a, **k: LoadedModel(**{**fake(*a, **k).__dict__, "tokenizer": _Pieces()}))
    ui_models.POOL.clear()
    lm, _ = ui_models.POOL.get("fake-run", "decoder")
    run = G.Generation(lm, [1, 2, 3], G.Sampling(greedy=True), 4)
    with torch.no_grad():
        run.step(lm)
    model = weakref.ref(lm.model)
    del lm
    ui_models.POOL.clear()
    gc.collect()
    assert model() is None and len(run.branch.steps) == 1     # the run (kept in a session) outlives the model
