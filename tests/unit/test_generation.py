"""The generation engine: KV-cache stepper vs model.generate, sampling maths, replay, branches, logit lens."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from explorer import generation as G
from tests.conftest import bundled_model

PROMPT = "a small animal that"


def _run(lm, sampling, n=24, prompt=PROMPT, eos=None):
    ids = lm.tokenizer(prompt)["input_ids"]
    g = G.Generation(lm, ids, sampling, n, eos_ids=eos)
    g.run(lm, n)
    return g, ids


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
@pytest.mark.parametrize("prompt", ["a small animal that", "the act of"])
def test_greedy_stepper_equals_generate_token_for_token(name, prompt):
    lm = bundled_model(name)
    ids = lm.tokenizer(prompt)["input_ids"]
    g = G.Generation(lm, ids, G.Sampling(greedy=True), 40)
    g.run(lm, 40)
    x = torch.tensor([ids])
    ref = lm.model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=40, do_sample=False,
                            pad_token_id=0)[0, len(ids):].tolist()
    assert len(ref) >= 6                  # long enough to mean something (both stop at end-of-text)
    assert g.branch.generated == ref


def test_the_stepper_feeds_only_the_new_token_after_the_prompt():
    lm = bundled_model("tiny-gpt2")
    fed = []
    hook = lm.model.register_forward_pre_hook(lambda m, args, kw: fed.append(kw["input_ids"].shape[1]),
                                              with_kwargs=True)
    try:
        g, ids = _run(lm, G.Sampling(greedy=True), n=6, eos=set())
    finally:
        hook.remove()
    assert fed[0] == len(ids) and set(fed[1:]) == {1}
    assert g.branch.cache.get_seq_length() == len(g.branch.ids) - 1


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_a_seeded_sampled_run_is_reproducible_and_the_seed_matters(name):
    lm = bundled_model(name)
    s = G.Sampling(temperature=1.2, top_k=40, top_p=0.95, seed=7)
    a, _ = _run(lm, s)
    b, _ = _run(lm, s)
    c, _ = _run(lm, G.Sampling(temperature=1.2, top_k=40, top_p=0.95, seed=8))
    assert a.branch.generated == b.branch.generated
    assert a.branch.generated != c.branch.generated


def test_back_then_step_replays_the_same_tokens():
    lm = bundled_model("tiny-gpt2")
    a, _ = _run(lm, G.Sampling(temperature=1.0, seed=3), n=12, eos=set())
    before = list(a.branch.generated)
    for _ in range(5):
        assert a.back()
    assert len(a.branch.generated) == len(before) - 5
    assert a.branch.cache.get_seq_length() == len(a.branch.ids) - 1
    a.run(lm, 5)
    assert a.branch.generated == before


def _logits_after(lm, ids):
    with torch.no_grad():
        return lm.model(input_ids=torch.tensor([ids])).logits[0, -1].float()


def test_reported_probabilities_are_a_softmax_of_logits_over_temperature():
    lm = bundled_model("tiny-gpt2")
    g, ids = _run(lm, G.Sampling(temperature=0.7, seed=1), n=4, eos=set())
    for s in g.branch.steps:
        logits = _logits_after(lm, g.branch.ids[:s.position])
        want_t = torch.softmax(logits / 0.7, -1)[torch.tensor(s.ids)].numpy()
        want_1 = torch.softmax(logits, -1)[torch.tensor(s.ids)].numpy()
        np.testing.assert_allclose(s.p_temp, want_t, atol=2e-5)
        np.testing.assert_allclose(s.p_model, want_1, atol=2e-5)
        assert list(s.ids) == torch.topk(logits, G.TRACE_K).indices.tolist()
        assert s.p_temp[0] > s.p_model[0]          # T < 1 sharpens the head


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    probs = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05])
    logits = probs.log()
    for p, want in [(0.5, 1), (0.51, 2), (0.7, 2), (0.71, 3), (0.85, 3), (0.9, 4), (0.99, 5), (1.0, 5)]:
        ids, kept, _ = G.filter_distribution(logits, G.Sampling(top_p=p))
        n = 5 if ids is None else len(ids)
        assert n == want, (p, n)
        if ids is not None:
            assert float(probs[:n].sum()) >= p - 1e-6           # reaches p ...
            assert n == 1 or float(probs[:n - 1].sum()) < p     # ... and one fewer would not
            torch.testing.assert_close(kept, probs[:n] / probs[:n].sum())


def test_top_k_then_top_p_on_the_renormalised_head():
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1])
    ids, kept, _ = G.filter_distribution(probs.log(), G.Sampling(top_k=2, top_p=0.5))
    # top-2 renormalised: 0.571, 0.429 -> the first alone reaches 0.5
    assert ids.tolist() == [0] and kept.tolist() == [1.0]


def test_sampled_trace_keeps_only_what_survives_truncation():
    lm = bundled_model("tiny-gpt2")
    g, _ = _run(lm, G.Sampling(temperature=1.0, top_k=5, top_p=1.0, seed=0), n=6, eos=set())
    for s in g.branch.steps:
        assert s.kept == 5
        assert (s.p_final[5:] == 0).all() and abs(s.p_final[:5].sum() - 1) < 1e-5
        assert s.chosen_rank < 5 and s.chosen_p_final > 0


def test_greedy_leaves_one_token_and_zero_bits_not_minus_zero():
    lm = bundled_model("tiny-gpt2")
    g, _ = _run(lm, G.Sampling(greedy=True), n=3, eos=set())
    for s in g.branch.steps:
        assert s.kept == 1 and s.entropy > 0
        assert f"{s.entropy_final:.2f}" == "0.00"          # was "-0.00" on the Generation page's caption


def test_draw_is_a_pure_function_of_seed_and_step():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert G.draw(p, 5, 3) == G.draw(p, 5, 3)
    picks = [G.draw(p, 0, step) for step in range(4000)]
    np.testing.assert_allclose(np.bincount(picks, minlength=4) / 4000, p, atol=0.03)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_logit_lens_last_layer_is_the_models_own_prediction(name):
    lm = bundled_model(name)
    g, ids = _run(lm, G.Sampling(greedy=True), n=6, eos=set())
    step = 5
    lens = g.lens(lm, step, window=len(ids) + step)
    assert lens.top_ids.shape == (lm.model.config.num_hidden_layers + 1, len(ids) + step)
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([g.branch.ids[:len(ids) + step]])).logits[0].float()
    assert lens.top_ids[-1].tolist() == logits.argmax(-1).tolist()
    np.testing.assert_allclose(lens.top_probs[-1], torch.softmax(logits, -1).max(-1).values.numpy(), atol=5e-3)
    assert lens.top_ids[-1, -1] == g.branch.steps[step].ids[0]
    # the early layers go through the final norm too (without it, layer 1's distribution is another one)
    assert lens.layers[0] == "embeddings"
    with torch.no_grad():
        h1 = lm.model(input_ids=torch.tensor([g.branch.ids[:len(ids) + step]]),
                      output_hidden_states=True).hidden_states[1][0]
        head = lm.model.get_output_embeddings()
        with_norm = torch.softmax(head(G.final_norm(lm.model)(h1)).float(), -1).max(-1)
        without = torch.softmax(head(h1).float(), -1).max(-1)
    assert lens.top_ids[1].tolist() == with_norm.indices.tolist()
    np.testing.assert_allclose(lens.top_probs[1], with_norm.values.numpy(), atol=5e-3)
    assert np.abs(lens.top_probs[1] - without.values.numpy()).max() > 0.05


def test_branch_takes_the_other_token_and_keeps_the_original():
    lm = bundled_model("tiny-gpt2")
    g, _ = _run(lm, G.Sampling(greedy=True), n=10, eos=set())
    original = list(g.branch.generated)
    alt = int(g.branch.steps[3].ids[2])
    g.fork(lm, 3, alt)
    assert g.active == 1 and g.branch.generated == original[:3] + [alt]
    assert g.branch.steps[3].forced and g.branch.steps[3].chosen_rank == 2
    g.run(lm, 4)
    assert g.branch.generated[:4] == original[:3] + [alt] and len(g.branch.generated) == 8
    assert g.branches[0].generated == original
    while g.back():                                           # never back past the fork
        pass
    assert g.branch.generated == original[:3] + [alt]
    # switching back rebuilds the original's cache and continues it exactly as greedy would
    g.activate(lm, 0)
    assert g.branches[1].cache is None
    g.back()
    g.run(lm, 1)
    assert g.branch.generated == original


def test_length_is_capped_by_the_models_positions():
    lm = bundled_model("tiny-gpt2")
    ids = list(range(1, lm.model.config.n_positions - 3))
    g = G.Generation(lm, ids, G.Sampling(greedy=True), 100, eos_ids=set())
    assert g.max_new_tokens == 4 and g.capped
    assert g.run(lm, 10) == 4 and g.done() == "length limit"


def test_generation_stops_at_end_of_text():
    lm = bundled_model("tiny-gpt2")
    eos = lm.model.generation_config.eos_token_id
    ids = lm.tokenizer(PROMPT)["input_ids"]
    g = G.Generation(lm, ids, G.Sampling(greedy=True), 50)
    g.step(lm, force_token=eos)
    assert g.done() == "end-of-text" and g.step(lm) is None


def test_fill_mask_ranks_candidates_for_every_mask():
    lm = bundled_model("tiny-bert")
    r = G.fill_mask(lm, "a small [MASK] that lives in the [MASK].", k=5)
    assert len(r.masks) == 2
    for m in r.masks:
        assert len(m.candidates) == 5 and (np.diff(m.probs) <= 1e-7).all() and 0 < m.probs.sum() <= 1
        assert r.tokens[m.position] == "[MASK]"


@pytest.mark.parametrize("sampling", [G.Sampling(greedy=True), G.Sampling(temperature=0.8, top_p=0.9, seed=0),
                                      G.Sampling(temperature=1.0, seed=2)])
def test_continuing_past_end_of_text_redraws_only_from_that_step(sampling):
    """A run that ended at step k, replayed with end-of-text suppressed from k: the same k tokens, then
    something other than end-of-text, while the trace still shows how likely the model found ending."""
    lm = bundled_model("tiny-gpt2")
    ref, ids = _run(lm, sampling, n=8, eos=set())
    gen = ref.branch.generated
    # a token the run had not written before, among the step's traced candidates
    k = next(i for i in range(2, 8) if gen[i] not in gen[:i] and ref.branch.steps[i].rank_in_trace is not None)
    stop = gen[k]
    ended = G.Generation(lm, ids, sampling, 8, eos_ids={stop})
    ended.run(lm, 8)
    assert ended.done() == "end-of-text" and ended.branch.generated == ref.branch.generated[:k + 1]
    going = G.Generation(lm, ids, sampling, 8, eos_ids={stop}, eos_off_from=k)
    going.run(lm, 8)
    assert going.done() == "length limit"
    assert going.branch.generated[:k] == ref.branch.generated[:k]
    s = going.branch.steps[k]
    assert s.token_id != stop and s.p_final[list(s.ids).index(stop)] == 0
    assert s.p_model[list(s.ids).index(stop)] == pytest.approx(ref.branch.steps[k].chosen_p_model)
    assert stop not in going.branch.generated[k:]


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_preview_is_the_next_step_before_it_is_taken(name):
    """The page shows the prompt's next-token bars on arrival: the preview is exactly the step Step ▸ then takes."""
    lm = bundled_model(name)
    ids = lm.tokenizer(PROMPT)["input_ids"]
    g = G.Generation(lm, ids, G.Sampling(temperature=1.0, top_p=0.9, seed=5), 8)
    for _ in range(3):
        p = g.preview(lm)
        assert g.branch.ids[-1] == (ids + g.branch.generated)[-1] and p.step == len(g.branch.steps)
        s = g.step(lm)
        assert p.token_id == s.token_id and p.tokens == s.tokens
        np.testing.assert_allclose(p.p_model, s.p_model, atol=2e-6)
    assert len(g.branch.steps) == 3
