"""Models are freed when the cache lets them go: nothing outside st.cache_resource keeps a strong reference."""
import gc
import weakref

import torch

from explorer.models import loader
from explorer.models.loader import LoadedModel
from explorer.ui import models as ui_models


def _fake_load(sizes_mb: int):
    def load(model_id, progress=None, family=None):
        from transformers import GPT2Config, GPT2LMHeadModel
        # ~sizes_mb of float32 weights: a vocabulary-heavy one-layer GPT-2
        cfg = GPT2Config(n_layer=1, n_head=2, n_embd=64, vocab_size=sizes_mb * 2**20 // (4 * 64), n_positions=32,
                         bos_token_id=0, eos_token_id=0)
        cfg._attn_implementation = "eager"
        return LoadedModel.in_memory(GPT2LMHeadModel(cfg), name=model_id)
    return load


def test_loading_more_models_than_the_cache_holds_frees_the_evicted_ones(monkeypatch):
    monkeypatch.setattr(loader, "load", _fake_load(8))
    ui_models._load.clear()
    gc.collect()
    n = ui_models.MAX_MODELS + 4
    refs = []
    for i in range(n):
        lm = ui_models._load(f"fake-{i}", "decoder")
        refs.append((weakref.ref(lm), weakref.ref(lm.model), lm.model.transformer.wte.weight.untyped_storage()
                     .nbytes()))
        del lm
    gc.collect()
    alive = [i for i, (r, m, _) in enumerate(refs) if r() is not None or m() is not None]
    assert len(alive) <= ui_models.MAX_MODELS, f"{len(alive)} of {n} models still in memory"
    assert alive == list(range(n - len(alive), n)), "the least recently used leave first"
    assert set(ui_models.loaded_models()) == {f"fake-{i}" for i in alive}
    freed = sum(nbytes for r, m, nbytes in refs if m() is None)
    assert freed >= 4 * 8 * 2**20 * 0.9                     # the evicted models' weights went back
    ui_models._load.clear()
    gc.collect()
    assert not ui_models.loaded_models() and all(m() is None for _, m, _ in refs)


class _Pieces:
    eos_token_id = None

    def convert_ids_to_tokens(self, i):
        return f"t{i}"


def test_a_generation_run_keeps_no_model_alive(monkeypatch):
    from explorer import generation as G
    fake = _fake_load(1)
    monkeypatch.setattr(loader, "load", lambda *a, **k: LoadedModel(**{**fake(*a, **k).__dict__, "tokenizer": _Pieces()}))
    ui_models._load.clear()
    lm = ui_models._load("fake-run", "decoder")
    run = G.Generation(lm, [1, 2, 3], G.Sampling(greedy=True), 4)
    with torch.no_grad():
        run.step(lm)
    model = weakref.ref(lm.model)
    del lm
    ui_models._load.clear()
    gc.collect()
    assert model() is None and len(run.branch.steps) == 1     # the run (kept in a session) outlives the model
