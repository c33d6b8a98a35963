"""A decoding step is computed once per process for every session that asks for the same one (the teacher's
link), shared read-only, and never handed to a session that asked for something else."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from explorer import generation as G
from tests.conftest import bundled_model

PROMPT = "a small animal that"


def _passes(lm):
    fed = []
    hook = lm.model.register_forward_pre_hook(lambda m, args, kw: fed.append(kw["input_ids"].shape[1]),
                                              with_kwargs=True)
    return fed, hook


def _session(lm, store, sampling, prompt=PROMPT, n=5):
    g = G.Generation(lm, lm.tokenizer(prompt)["input_ids"], sampling, 32, eos_ids=set(), shared=store)
    g.run(lm, n)
    return g


def test_two_sessions_with_the_same_request_compute_each_step_once():
    lm = bundled_model("tiny-gpt2")
    store = G.SharedSteps()
    s = G.Sampling(temperature=1.1, top_k=30, seed=3)
    fed, hook = _passes(lm)
    try:
        a = _session(lm, store, s)
        n_a = len(fed)
        b = _session(lm, store, s)
    finally:
        hook.remove()
    assert n_a == 5 and len(fed) == 5 and store.computed == 5      # the second session ran no forward pass
    assert b.branch.ids == a.branch.ids
    assert all(x is y for x, y in zip(a.branch.steps, b.branch.steps))   # the same traces, shared
    assert len(b.branch.hidden) == len(a.branch.hidden)
    assert all(np.array_equal(x, y) for x, y in zip(a.branch.hidden, b.branch.hidden))
    with pytest.raises(ValueError):
        b.branch.steps[0].p_final[0] = 1.0                          # read-only: no session can change another's


def test_different_requests_are_never_shared():
    lm = bundled_model("tiny-gpt2")
    store = G.SharedSteps()
    base = _session(lm, store, G.Sampling(temperature=1.1, seed=3))
    other_seed = _session(lm, store, G.Sampling(temperature=1.1, seed=4))
    other_text = _session(lm, store, G.Sampling(temperature=1.1, seed=3), prompt="the act of")
    greedy = _session(lm, store, G.Sampling(greedy=True))
    assert store.computed == 20
    for g in (other_seed, other_text, greedy):
        assert not any(x is y for x, y in zip(base.branch.steps, g.branch.steps))
    alone = _session(lm, None, G.Sampling(temperature=1.1, seed=4))
    assert [t.token_id for t in other_seed.branch.steps] == [t.token_id for t in alone.branch.steps]


def test_a_session_that_took_shared_steps_continues_exactly_like_one_that_computed_them():
    lm = bundled_model("tiny-gpt2")
    store = G.SharedSteps()
    s = G.Sampling(temperature=1.0, seed=11)
    _session(lm, store, s, n=3)
    late = _session(lm, store, s, n=3)                # three shared steps: its KV cache was never fed
    late.run(lm, 3)                                   # now it computes: the cache catches up in one pass
    alone = _session(lm, None, s, n=6)
    assert late.branch.ids == alone.branch.ids
    for x, y in zip(late.branch.steps[3:], alone.branch.steps[3:]):
        np.testing.assert_allclose(x.p_model, y.p_model, rtol=1e-4, atol=1e-6)
    assert len(late.branch.hidden) == len(alone.branch.hidden)
    late.back()
    late.step(lm)
    assert late.branch.ids == alone.branch.ids


def test_sessions_asking_at_the_same_moment_wait_for_one_computation():
    store, calls, gate = G.SharedSteps(), [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return "value"
    out = []
    threads = [threading.Thread(target=lambda: out.append(store.get(("k",), compute))) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert calls == [1] and out == ["value"] * 4


def test_the_store_keeps_within_its_bytes():
    store = G.SharedSteps(max_bytes=10_000)
    for i in range(10):
        store.get((i,), lambda: np.zeros(4_000, np.uint8))
    assert 2 <= len(store._items) <= 3 and (9,) in store._items and (0,) not in store._items
