"""The training loop (explorer/zoo/train.py): optimizer groups (the position table's own rate, a kept head), the
curricula (repeats, triples) and the command line's options."""
import pytest
import torch

from explorer.zoo.train import RECIPES, lr_at, param_groups


def _gpt2():
    return RECIPES["tiny-gpt2"].build(64, dict(bos_token_id=0, eos_token_id=0))


def test_one_group_by_default_and_every_weight_in_it():
    model = _gpt2()
    groups = param_groups(model)
    assert len(groups) == 1 and len(groups[0]["params"]) == len(list(model.parameters()))


def test_position_table_gets_its_own_rate_and_no_decay():
    model = _gpt2()
    rest, table = param_groups(model, 10.0)
    assert table["params"] == [model.transformer.wpe.weight] and table["weight_decay"] == 0.0
    assert table["lr_scale"] == 10.0
    assert len(rest["params"]) + 1 == len(list(model.parameters()))
    assert all(p is not model.transformer.wpe.weight for p in rest["params"])
    # one AdamW step at the scaled rate moves the table ~10x as far as a weight of the same gradient size
    opt = torch.optim.AdamW([rest, table], lr=1e-3, weight_decay=0.01)
    for g in opt.param_groups:
        g["lr"] = lr_at(100, 200, 1e-3) * g.get("lr_scale", 1.0)
    assert opt.param_groups[1]["lr"] == opt.param_groups[0]["lr"] * 10


def test_a_model_without_a_position_table_keeps_one_group():
    llama = RECIPES["tiny-llama"].build(64, dict(bos_token_id=0, eos_token_id=0))
    assert len(param_groups(llama, 10.0)) == 1


# ------------------------------------------------------------------ the induction curriculum (--repeat-share)
def _windows(n=40, length=64):
    return torch.arange(n * length).reshape(n, length) % 997 + 3     # no span of a row repeats by itself


def test_repeated_rows_really_repeat_and_the_rest_stay():
    from explorer.zoo.data import with_repeats
    rows = _windows()
    out, spans = with_repeats(rows, 0.25, seed=7)
    assert len(spans) == 10 and len({r for r, _, _ in spans}) == 10          # the share asked for
    for r, start, k in spans:
        assert 8 <= k <= 16 and start + 2 * k <= 64
        assert torch.equal(out[r, start + k: start + 2 * k], out[r, start: start + k])
        assert torch.equal(out[r, : start + k], rows[r, : start + k])       # the span is the row's own text
        assert torch.equal(out[r, start + 2 * k:], rows[r, start + 2 * k:])
    untouched = sorted(set(range(40)) - {r for r, _, _ in spans})
    assert torch.equal(out[untouched], rows[untouched])
    assert not torch.equal(out, rows) and torch.equal(rows, _windows())      # the input is not changed


def test_repeats_are_seeded_and_vary_in_length_and_place():
    from explorer.zoo.data import with_repeats
    a, spans_a = with_repeats(_windows(), 0.5, seed=3)
    b, spans_b = with_repeats(_windows(), 0.5, seed=3)
    c, spans_c = with_repeats(_windows(), 0.5, seed=4)
    assert torch.equal(a, b) and spans_a == spans_b
    assert spans_c != spans_a and not torch.equal(a, c)
    assert len({k for _, _, k in spans_a}) > 3 and len({s for _, s, _ in spans_a}) > 3   # no fixed offset to learn
    assert with_repeats(_windows(), 0.0, seed=3)[1] == [] and len(with_repeats(_windows(), 1.0, seed=3)[1]) == 40


def test_random_spans_come_from_the_vocabulary_range():
    from explorer.zoo.data import with_repeats
    out, spans = with_repeats(_windows(), 0.5, seed=1, vocab=(5000, 5100))
    for r, start, k in spans:
        span = out[r, start: start + 2 * k]
        assert ((span >= 5000) & (span < 5100)).all()
        assert torch.equal(span[:k], span[k:])


def test_several_copies_follow_the_span():
    from explorer.zoo.data import with_repeats
    out, spans = with_repeats(_windows(), 0.5, seed=2, min_span=2, max_span=6, times=8)
    assert len(spans) == 20
    for r, start, k in spans:
        assert 2 <= k <= 6 and start + 9 * k <= 64
        seg = out[r, start: start + 9 * k]
        assert torch.equal(seg, seg[:k].repeat(9))


def test_triples_make_the_next_token_the_one_before_the_current_one():
    from explorer.zoo.data import with_skip_copies
    rows = _windows(40, 128)
    out, placed = with_skip_copies(rows, 0.25, seed=5, vocab=(5000, 5100), segment=96)
    assert len(placed) == 10 and placed == with_skip_copies(rows, 0.25, seed=5, vocab=(5000, 5100), segment=96)[1]
    for r, start in placed:
        seg = out[r, start: start + 96]
        assert ((seg >= 5000) & (seg < 5100)).all()
        assert torch.equal(seg[2::3], seg[0::3])            # a b a: the third is the one before the second
        assert (seg[1::3] != seg[0::3]).float().mean() > 0.9    # and not a copy of the current token
        assert torch.equal(out[r, :start], rows[r, :start]) and torch.equal(out[r, start + 96:], rows[r, start + 96:])
    untouched = sorted(set(range(40)) - {r for r, _ in placed})
    assert torch.equal(out[untouched], rows[untouched])


# ---------------------------------------------------- the previous-token phase (--triples-only, --keep-head)
def test_triple_rows_score_only_the_token_before_the_current_one():
    from explorer.zoo.data import triple_rows
    ids, labels = triple_rows(64, 96, (500, 600), torch.Generator().manual_seed(1))
    assert ids.shape == labels.shape == (64, 96) and ((ids >= 500) & (ids < 600)).all()
    scored = labels != -100
    assert torch.equal(labels[scored], ids[scored])
    # every scored token (after the first two) is the one two before it: the token before the current one
    rows, cols = scored[:, 2:].nonzero(as_tuple=True)
    assert len(rows) > 0 and torch.equal(ids[rows, cols + 2], ids[rows, cols])
    assert abs(scored.float().mean().item() - 1 / 3) < 0.01                 # only the third of each triple
    assert (ids[:, 1:][scored[:, 1:]] != ids[:, :-1][scored[:, 1:]]).float().mean() > 0.9   # not a copy of the current
    # each row cut at its own phase: no position is always the scored one
    assert {int(r.nonzero()[0]) for r in scored} == {0, 1, 2}
    again, _ = triple_rows(64, 96, (500, 600), torch.Generator().manual_seed(1))
    other, _ = triple_rows(64, 96, (500, 600), torch.Generator().manual_seed(2))
    assert torch.equal(ids, again) and not torch.equal(ids, other)


def test_constant_rate_stays_at_the_peak_after_the_warmup():
    assert lr_at(0, 100, 1e-3, warmup=10, constant=True) == pytest.approx(1e-4)
    assert lr_at(99, 100, 1e-3, warmup=10, constant=True) == 1e-3
    assert lr_at(99, 100, 1e-3, warmup=10) < 2e-4          # the default cosine ends at a tenth
    assert lr_at(0, 100, 1e-3, warmup=0, constant=True) == 1e-3


def test_a_kept_head_keeps_its_query_and_key_while_the_rest_trains():
    from explorer.zoo.train import keep_head_frozen
    torch.manual_seed(0)
    model = _gpt2()
    no_decay = keep_head_frozen(model, 1, 2)
    groups = param_groups(model, 10.0, no_decay)
    # the kept layer's c_attn without decay; the position table is frozen: no group of its own
    assert [g.get("weight_decay") for g in groups] == [None, 0.0]
    attn, e, w = model.transformer.h[1].attn, model.config.n_embd, model.config.n_embd // model.config.n_head
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(groups, lr=1e-2, weight_decay=0.1)
    for _ in range(3):
        ids = torch.randint(0, 64, (4, 32))
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.state_dict()
    q, k, v = slice(2 * w, 3 * w), slice(e + 2 * w, e + 3 * w), slice(2 * e + 2 * w, 2 * e + 3 * w)
    weight, bias = "transformer.h.1.attn.c_attn.weight", "transformer.h.1.attn.c_attn.bias"
    for part in (q, k):
        assert torch.equal(after[weight][:, part], before[weight][:, part])
        assert torch.equal(after[bias][part], before[bias][part])
    for name in ("transformer.wpe.weight", "transformer.h.1.ln_1.weight", "transformer.h.1.ln_1.bias"):
        assert torch.equal(after[name], before[name]), name
    # its values, the other heads of the layer, other layers and the token embeddings train
    assert not torch.equal(after[weight][:, v], before[weight][:, v])
    assert not torch.equal(after[weight][:, :w], before[weight][:, :w])
    for name in ("transformer.h.0.ln_1.weight", "transformer.h.0.attn.c_attn.weight", "transformer.wte.weight"):
        assert not torch.equal(after[name], before[name]), name
    assert attn.c_attn.weight.requires_grad


def test_command_line_options_reach_the_recipe():
    from explorer.zoo.train import arguments, with_overrides
    assert with_overrides(RECIPES["tiny-gpt2"], arguments([])) == RECIPES["tiny-gpt2"]
    assert with_overrides(RECIPES["tiny-gpt2"], arguments(["--keep-head", "best"])).keep_head == "best"
    base = RECIPES["tiny-llama"]
    assert with_overrides(base, arguments([])) == base
    r = with_overrides(base, arguments(["--triples-only", "--constant-lr", "--warmup", "0", "--clip", "0",
                                        "--keep-head", "0.3", "--lr", "1e-3", "--batch", "8"]))
    assert (r.triples_only, r.constant_lr, r.warmup, r.clip, r.keep_head, r.lr, r.batch) == \
        (True, True, 0, 0.0, (0, 3), 1e-3, 8)
    assert (base.triples_only, base.constant_lr, base.warmup, base.clip, base.keep_head) == (False, False, 40, 1.0, None)


# ------------------------------------------------------------------ snapshots during a run (--snapshot-every)
def _tiny_run(tmp_path, name="tiny-gpt2", every=2, steps=4, **fields):
    """A few steps of a tiny random model of the recipe's kind on synthetic tickets, with snapshots."""
    from dataclasses import replace

    from explorer.zoo import tickets
    from explorer.zoo.tokenizer import as_transformers, train_bpe, train_wordpiece
    from explorer.zoo.train import train_phases
    recipe = RECIPES[name]
    lines = [f"{m} Label: {lab}" for m, lab in tickets.heldout_messages(240, 7)]
    train_lines, heldout_lines = lines[:160], lines[160:]
    kind = recipe.tokenizer
    tok = as_transformers((train_bpe if kind == "bpe" else train_wordpiece)(train_lines, 600), kind, recipe.seq_len)
    small = dict(n_embd=16, n_layer=1, n_head=2, n_inner=32) if kind == "bpe" else \
        dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    plain = dict(phases=(), triples_only=False, constant_lr=False, warmup=40, clip=1.0)   # not the recipe's phases
    recipe = replace(recipe, batch=2, snapshot_every=every, config={**recipe.config, **small}, **{**plain, **fields})
    logged = []
    metrics = train_phases(recipe, tok, train_lines, heldout_lines, tmp_path, steps, log=logged.append)
    return recipe, metrics, logged


def test_snapshots_are_saved_loadable_and_scored(tmp_path):
    import json

    from explorer.models.loader import load_folder
    from explorer.zoo.metrics import bar_checks
    recipe, metrics, logged = _tiny_run(tmp_path)
    folder = tmp_path / "tiny-gpt2"
    rows = json.loads((folder / "snapshots.json").read_text())
    assert [r["step"] for r in rows] == [2, 4]
    assert sorted(p.name for p in (folder / "snapshots").iterdir()) == ["step-2", "step-4"]
    for row in rows:
        assert {"perplexity_ratio", "heldout_perplexity", "unigram_perplexity", "previous_token_max",
                "few_shot_accuracy", "continuations", "bars", "all_bars", "seconds"} <= set(row)
        assert set(row["continuations"]) == {f"{p} | {d}" for p in ("Where is my order?", "a small animal that")
                                             for d in ("greedy", "sampled")}
        assert all({"new_tokens", "repeated_4grams"} <= set(c) for c in row["continuations"].values())
        assert row["bars"] == bar_checks("tiny-gpt2", row) and row["all_bars"] is all(row["bars"].values())
        assert row["all_bars"] is False                                  # 4 steps of a random model
        lm = load_folder(folder / row["folder"])                          # the same loadable folder as the run's
        assert lm.model.config.n_embd == 16 and lm.tokenizer.eos_token_id is not None
    # the last snapshot is the run's final weights, and its numbers are the run's metrics
    final, last = load_folder(folder).model.state_dict(), load_folder(folder / "snapshots" / "step-4").model.state_dict()
    assert all(torch.equal(final[k], last[k]) for k in final)
    assert not torch.equal(final["transformer.h.0.attn.c_attn.weight"],
                           load_folder(folder / "snapshots" / "step-2").model.state_dict()[
                               "transformer.h.0.attn.c_attn.weight"])
    assert metrics["perplexity_ratio"] == rows[-1]["perplexity_ratio"] and metrics["snapshot_every"] == 2
    assert json.loads((folder / "metrics.json").read_text())["snapshot_every"] == 2
    assert sum("snapshot step" in line and "all_bars False" in line for line in logged) == 2


def test_a_run_not_ending_on_a_multiple_snapshots_its_last_step_too(tmp_path):
    import json
    _, _, _ = _tiny_run(tmp_path, name="tiny-bert", every=2, steps=3)
    rows = json.loads((tmp_path / "tiny-bert" / "snapshots.json").read_text())
    assert [r["step"] for r in rows] == [2, 3]
    assert all(set(r["bars"]) == {"mlm_top5"} and "mlm_top5_accuracy" in r for r in rows)


def test_bar_checks_on_crafted_numbers():
    from explorer.zoo.metrics import BARS, bar_checks
    runs = {f"{p} | {d}": dict(new_tokens=64, repeated_4grams=0.05) for p in ("Where is my order?", "a small animal that")
            for d in ("greedy", "sampled")}
    good = dict(perplexity_ratio=0.03, previous_token_max=0.9, few_shot_accuracy=1.0, continuations=runs)
    assert all(bar_checks("tiny-gpt2", good).values()) and len(bar_checks("tiny-gpt2", good)) == 11
    assert all(bar_checks("tiny-llama", dict(good, previous_token_max=0.1, few_shot_accuracy=0.2)).values())
    assert not bar_checks("tiny-gpt2", dict(good, previous_token_max=0.1))["previous_token"]
    assert not bar_checks("tiny-gpt2", dict(good, few_shot_accuracy=0.5))["few_shot"]
    assert not bar_checks("tiny-gpt2", dict(good, perplexity_ratio=0.21))["perplexity_ratio"]
    assert bar_checks("tiny-gpt2", dict(good, perplexity_ratio=BARS["perplexity_ratio"]))["perplexity_ratio"]
    short = dict(runs, **{"a small animal that | greedy": dict(new_tokens=39, repeated_4grams=0.0)})
    loop = dict(runs, **{"Where is my order? | sampled": dict(new_tokens=64, repeated_4grams=0.1)})
    assert [k for k, ok in bar_checks("tiny-mixtral", dict(good, continuations=short)).items() if not ok] == \
        ["new_tokens | a small animal that | greedy"]
    assert [k for k, ok in bar_checks("tiny-mixtral", dict(good, continuations=loop)).items() if not ok] == \
        ["repeated_4grams | Where is my order? | sampled"]
    assert bar_checks("tiny-bert", dict(mlm_top5_accuracy=0.5)) == {"mlm_top5": True}
    assert bar_checks("tiny-bert", dict(mlm_top5_accuracy=0.49)) == {"mlm_top5": False}


def test_snapshot_option_reaches_the_recipe():
    from explorer.zoo.train import arguments, with_overrides
    assert with_overrides(RECIPES["tiny-gpt2"], arguments(["--snapshot-every", "50"])).snapshot_every == 50
    assert RECIPES["tiny-gpt2"].snapshot_every == 0


def test_snapshots_do_not_change_the_run(tmp_path):
    """Saving and scoring leave the training model as it was (float32, same data order): the same final weights."""
    from explorer.models.loader import load_folder
    _tiny_run(tmp_path / "with", every=1, steps=3)
    _tiny_run(tmp_path / "without", every=0, steps=3)
    a = load_folder(tmp_path / "with" / "tiny-gpt2").model.state_dict()
    b = load_folder(tmp_path / "without" / "tiny-gpt2").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "without" / "tiny-gpt2" / "snapshots.json").exists()


# ------------------------------------------------------------------ sequence-level unlikelihood (--unlikelihood)
def test_repeat_candidates_flag_the_continuations_repeated_4grams_only():
    from explorer.zoo.data import repeat_candidates
    row = torch.tensor([[1, 2, 3, 4, 5, 1, 2, 3, 4, 6, 7, 8, 9, 10]])
    assert repeat_candidates(row, 0)[0].nonzero().flatten().tolist() == [5, 6, 7, 8]
    # a repeat that starts inside the prompt flags only its continuation tokens
    assert repeat_candidates(row, 7)[0].nonzero().flatten().tolist() == [7, 8]
    assert not repeat_candidates(row, 9).any()                       # nothing repeats after position 9
    assert not repeat_candidates(torch.arange(20).view(2, 10), 0).any()
    both = repeat_candidates(torch.tensor([[1, 2, 3, 4, 1, 2, 3, 4], [1, 2, 3, 4, 5, 6, 7, 8]]), 4)
    assert both[0].tolist() == [False] * 4 + [True] * 4 and not both[1].any()


def test_unlikelihood_makes_greedy_loops_less_likely():
    """A random tiny GPT-2 continues greedily in a loop; steps on the unlikelihood loss alone lower the loss and the
    share of its greedy continuation's tokens that repeat a 4-gram."""
    from explorer.zoo.train import unlikelihood_loss
    torch.manual_seed(0)
    model = RECIPES["tiny-gpt2"].build(64, dict(bos_token_id=0, eos_token_id=0))
    prefixes = torch.randint(1, 64, (4, 8), generator=torch.Generator().manual_seed(0))
    loss0, share0 = unlikelihood_loss(model, prefixes, 32, eos_id=0)
    assert share0 > 0.3 and loss0.item() > 0                         # the random model loops
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(15):
        loss, _ = unlikelihood_loss(model, prefixes, 32, eos_id=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    loss1, share1 = unlikelihood_loss(model, prefixes, 32, eos_id=0)
    assert share1 < share0 / 2 and loss1.item() < loss0.item(), (share0, share1)


def test_unlikelihood_option_reaches_the_recipe_and_defaults_off():
    from explorer.zoo.train import arguments, with_overrides
    r = with_overrides(RECIPES["tiny-llama"], arguments(["--unlikelihood", "1", "--ul-rows", "16"]))
    assert (r.unlikelihood, r.ul_rows) == (1.0, 16)
    from explorer.zoo.train import Recipe
    assert Recipe("x", "x", "bpe", 8, 1, 1, 1e-3).unlikelihood == 0.0                  # off unless a recipe sets it


def test_unlikelihood_can_start_late_and_snapshots_wait_for_it(tmp_path):
    """--ul-start 0.5 of 6 steps: the first 3 steps are plain next-token training (no greedy repeats logged at step 0),
    the run records the step the loss started at, and snapshots are taken only from then on."""
    import json
    from explorer.zoo.train import arguments, with_overrides
    assert with_overrides(RECIPES["tiny-llama"], arguments(["--ul-start", "0.8"])).ul_start == 0.8
    _, metrics, logged = _tiny_run(tmp_path, every=1, steps=6, unlikelihood=1.0, ul_rows=2, ul_prefix=4, ul_new=4,
                                   ul_start=0.5)
    assert metrics["ul_from_step"] == 3 and metrics["unlikelihood"] == 1.0
    rows = json.loads((tmp_path / "tiny-gpt2" / "snapshots.json").read_text())
    assert [r["step"] for r in rows] == [4, 5, 6]
    first = next(line for line in logged if "step 0/6" in line)
    assert "greedy repeats" not in first


def test_masked_lm_loss_is_bert_s_own_loss_on_the_chosen_positions():
    """The training loss that runs the prediction head on the masked positions only equals BertForMaskedLM's loss,
    and so do its gradients."""
    from explorer.zoo.train import masked_lm_loss
    torch.manual_seed(0)
    model = RECIPES["tiny-bert"].build(64, dict(pad_token_id=0))
    ids = torch.randint(5, 64, (3, 16))
    labels = torch.where(torch.rand(3, 16) < 0.3, ids, torch.full_like(ids, -100))
    mask = torch.ones_like(ids)
    mask[2, 10:] = 0
    theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    theirs.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    ours = masked_lm_loss(model, ids, mask, labels)
    ours.backward()
    assert torch.allclose(ours, theirs, atol=1e-5), (ours, theirs)
    assert all(torch.allclose(p.grad, grads[n], atol=1e-6) for n, p in model.named_parameters() if n in grads)
    shifted = torch.where(labels == -100, labels, (labels + 1) % 64)
    assert not torch.isclose(masked_lm_loss(model, ids, mask, shifted), ours)


def test_greedy_continuations_past_end_of_text_are_full_length():
    """A model that writes end-of-text at once: its greedy continuation ends there, unless end-of-text is suppressed."""
    from explorer.zoo.metrics import greedy_continue
    model = _gpt2()
    with torch.no_grad():     # every final hidden state is all ones, and so is id 0's (tied) embedding: id 0 wins
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.fill_(1.0)
        model.transformer.wte.weight[0] = 1.0
    prefixes = torch.randint(1, 64, (3, 5))
    ended = greedy_continue(model, prefixes, 8, eos_id=0)
    assert (ended[:, 5] == 0).all()
    full = greedy_continue(model, prefixes, 8, eos_id=0, suppress_eos=True)
    assert full.shape == (3, 13) and not (full[:, 5:] == 0).any()


def test_phases_run_in_order_from_one_command(tmp_path):
    """A recipe in phases: a triples phase, then the corpus with the strongest previous-token head kept (found when the
    phase starts) and unlikelihood past end-of-text; the last phase's folder holds the model, its metrics every phase's
    facts, the total seconds, and the card says what each phase did."""
    import json
    from explorer.zoo.metrics import previous_token_scores
    from explorer.models.loader import load_folder
    phases = (dict(steps=3, triples_only=False, keep_head="best", repeat_share=0.5, repeat_source="triples",
                   unlikelihood=1.0, ul_rows=2, ul_prefix=4, ul_new=4, ul_past_eos=True),)
    recipe, metrics, logged = _tiny_run(tmp_path, every=0, steps=2, triples_only=True, constant_lr=True, clip=0.0,
                                        phases=phases)
    first = tmp_path / "tiny-gpt2-phases" / "1" / "tiny-gpt2"
    assert (first / "model.safetensors").exists() and (tmp_path / "tiny-gpt2" / "model.safetensors").exists()
    saved = json.loads((tmp_path / "tiny-gpt2" / "metrics.json").read_text())
    # the run's `steps` (--steps, a quick trial) overrides every phase's own
    assert [m["train_steps"] for m in saved["phases"]] == [2, 2] and saved["train_steps"] == 4
    assert saved["phases"][0]["triples_only"] and "keep_head" not in saved["phases"][0]
    assert saved["train_seconds"] == round(sum(m["train_seconds"] for m in saved["phases"]), 1)
    # the head kept is the strongest previous-token head of phase 1's weights, on the run's own probe text
    lines = [ln for ln in logged if "keeping head" in ln]
    lm = load_folder(first)
    probe = " ".join([f"{m} Label: {lab}" for m, lab in __import__("explorer.zoo.tickets", fromlist=["x"])
                      .heldout_messages(240, 7)][160:][:12])
    scores = previous_token_scores(lm.model, lm.tokenizer, probe, 128)
    best = divmod(int(scores.argmax()), scores.shape[1])
    assert saved["phases"][1]["keep_head"] == list(best) and lines == [f"tiny-gpt2: keeping head {best[0]}.{best[1]}, "
                                                                        "the strongest previous-token head"]
    assert saved["phases"][1]["ul_past_eos"] and saved["phases"][1]["unlikelihood"] == 1.0
    from explorer.zoo.train import model_card
    card = model_card(recipe, saved, lm.model.config)
    assert "in 2 phases" in card and "triples" in card and f"head {best[0]}.{best[1]}" in card
    assert "end-of-text suppressed" in card


def test_a_run_keeps_its_last_passing_snapshot_only_when_its_last_step_misses_a_bar(tmp_path):
    import json
    from explorer.zoo.train import keep_last_passing

    def run(passes):
        folder = tmp_path / "-".join(map(str, passes)) / "m"
        rows = []
        for i, ok in enumerate(passes, 1):
            where = folder / "snapshots" / f"step-{i}"
            where.mkdir(parents=True)
            (where / "model.safetensors").write_text(f"weights {i}")
            rows.append(dict(step=i, folder=f"snapshots/step-{i}", all_bars=ok))
        (folder / "model.safetensors").write_text(f"weights {len(passes)}")
        (folder / "snapshots.json").write_text(json.dumps(rows))
        kept, rows = keep_last_passing(folder)
        assert [r["step"] for r in rows] == list(range(1, len(passes) + 1))
        return folder, kept

    folder, kept = run([True, False, True, False])
    assert kept["step"] == 3 and (folder / "model.safetensors").read_text() == "weights 3"
    folder, kept = run([True, False, True])              # the last step passes: its weights stay
    assert kept is None and (folder / "model.safetensors").read_text() == "weights 3"
    folder, kept = run([False, False])                   # none passes: the last step's weights stay
    assert kept is None and (folder / "model.safetensors").read_text() == "weights 2"


def test_the_card_says_which_snapshot_was_kept():
    from explorer.zoo.train import phase_text
    m = dict(train_steps=1400, batch=16, lr=2e-3, train_seconds=10.0, kept_snapshot=1280, snapshots_passing=2,
             snapshots=7, snapshot_every=40, ul_from_step=1120, unlikelihood=4.0, ul_rows=16, ul_new=64)
    text = phase_text(RECIPES["tiny-llama"], m)
    assert "snapshot after 1280 steps, the last of the 2 of its 7 snapshots (every 40 steps from step 1120)" in text
    assert "unlikelihood at weight 4.0 from step 1120" in text and text.endswith("; 10.0 s")
    assert "snapshot after" not in phase_text(RECIPES["tiny-llama"], dict(m, kept_snapshot=None))


# ------------------------------------------------------------------ rows that begin at a document's start (--doc-starts)
def test_document_windows_begin_every_row_at_a_document_start():
    from explorer.zoo.data import causal_stream, document_windows
    eos = 0
    docs = [[1] * 3, [2] * 4, [3] * 2, [4] * 11, [5] * 2, [6] * 3]      # the 4s: longer than a row
    rows = document_windows(docs, eos, 6).tolist()
    assert rows == [[1, 1, 1, 0, 2, 2],        # a whole document, then the start of the next one ...
                    [2, 2, 2, 2, 0, 3],        # ... which the next row begins with again
                    [3, 3, 0, 4, 4, 4],
                    [4, 4, 4, 4, 4, 4],        # a document longer than a row runs on into the rows after it
                    [4, 4, 4, 4, 4, 0],
                    [5, 5, 0, 6, 6, 6]]        # (the rest of the 6s does not fill a row: dropped)
    stream = causal_stream(docs, eos).tolist()
    starts = {0, 4, 9, 12, 24, 27}
    begun = [next(i for i in range(len(stream)) if stream[i: i + 6] == r) for r in rows]
    assert [b in starts for b in begun] == [True, True, True, True, False, True]
    # every token of the stream but the dropped tail is in some row
    assert set(range(begun[-1] + 6)) == {i for b in begun for i in range(b, b + 6)}


def test_doc_starts_option_reaches_the_recipe_and_a_run_trains_on_those_rows(tmp_path):
    import json
    from explorer.zoo.train import arguments, with_overrides
    assert not RECIPES["tiny-llama"].doc_starts
    assert with_overrides(RECIPES["tiny-llama"], arguments(["--doc-starts"])).doc_starts
    recipe, metrics, _ = _tiny_run(tmp_path, every=0, steps=2, doc_starts=True)
    saved = json.loads((tmp_path / "tiny-gpt2" / "metrics.json").read_text())
    assert saved["doc_starts"] is True and saved["rows"] > 0
    from explorer.zoo.train import phase_text
    assert "every row beginning at a document's start" in phase_text(recipe, saved)
    _, _, _ = _tiny_run(tmp_path / "plain", every=0, steps=2)
    assert "doc_starts" not in json.loads((tmp_path / "plain" / "tiny-gpt2" / "metrics.json").read_text())
