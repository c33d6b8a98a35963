"""Masks of the three families, and few-shot scoring against hand-computed log-probabilities."""
import numpy as np
import pytest
import torch

from explorer import families as F
from tests.conftest import bundled_model


# ------------------------------------------------------------------ masks
def test_lesson_mask_rows_refund_approved():
    """The lesson's example: <bos> refund approved <eos>."""
    toks = list(F.LESSON_TOKENS)
    assert toks == ["<bos>", "refund", "approved", "<eos>"]
    causal = F.family_masks("decoder", toks)[0].mask
    bidir = F.family_masks("encoder", toks)[0].mask
    row = toks.index("approved")
    assert causal[row].tolist() == [1, 1, 1, 0]
    assert bidir[row].tolist() == [1, 1, 1, 1]
    assert causal[row, toks.index("<eos>")] == 0          # the future cell


def test_causal_mask_hides_future_by_hand():
    assert F.causal_mask(3).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert F.bidirectional_mask(3).tolist() == [[1, 1, 1]] * 3
    assert F.cross_mask(2, 3).tolist() == [[1, 1, 1], [1, 1, 1]]
    assert F.causal_mask(0).shape == (0, 0)


def test_encoder_decoder_has_three_masks_of_the_right_shapes():
    panels = F.family_masks("encoder-decoder", ["a", "b", "c", "</s>"], ["<pad>", "x", "y"])
    assert [p.kind for p in panels] == ["bidirectional", "causal", "cross"]
    enc, dec, cross = panels
    assert enc.mask.shape == (4, 4) and enc.mask.all()
    assert dec.mask.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert cross.mask.shape == (3, 4) and cross.mask.all()
    assert cross.queries == ["<pad>", "x", "y"] and cross.keys == ["a", "b", "c", "</s>"]
    assert dec.visible_share == pytest.approx(6 / 9)
    with pytest.raises(ValueError):
        F.family_masks("mixture", ["a"])


def test_mass_outside_counts_attention_on_hidden_cells():
    mask = F.causal_mask(3)
    obeys = np.array([[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]])
    peeks = np.array([[0.9, 0.1, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]])
    assert F.mass_outside(obeys, mask) == 0.0
    assert F.mass_outside(peeks, mask) == pytest.approx(0.1)
    assert F.mass_outside(peeks, F.bidirectional_mask(3)) == 0.0


def test_real_decoder_attention_lives_inside_the_causal_mask_and_encoder_looks_ahead():
    for name, family in (("tiny-gpt2", "decoder"), ("tiny-bert", "encoder")):
        lm = bundled_model(name)
        ids = lm.tokenizer("the refund was approved today", return_tensors="pt")["input_ids"]
        with torch.no_grad():
            attn = torch.stack(lm.model(input_ids=ids, output_attentions=True).attentions)[:, 0].numpy()
        n = ids.shape[1]
        causal = F.causal_mask(n)
        if family == "decoder":
            assert F.mass_outside(attn, causal) < 1e-6
        else:
            assert F.mass_outside(attn, causal) > 0.05          # BERT looks at later tokens
            assert F.mass_outside(attn, F.bidirectional_mask(n)) == 0.0


# ------------------------------------------------------------------ few-shot
def _hand_logprob(model, ids: list[int], label_ids: list[int]) -> float:
    """log P(label | ids) by one unbatched forward pass and an explicit sum over the label's tokens."""
    full = torch.tensor([ids + label_ids])
    with torch.no_grad():
        logits = model(input_ids=full).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    return sum(float(logp[len(ids) - 1 + j, t]) for j, t in enumerate(label_ids))


def test_two_label_scoring_equals_hand_computed_logprobs():
    lm = bundled_model("tiny-gpt2")
    tok, model = lm.tokenizer, lm.model
    labels = ("Refund", "Shipping")
    shots = (F.Example("I want my money back.", "Refund"),)
    prefix = ("Classify each customer message as Refund or Shipping.\n\n"
              "Message: I want my money back.\nLabel: Refund\n\n")
    query = "Message: Where is my parcel?\nLabel:"
    assert F.prompt_parts("Where is my parcel?", shots, labels) == (prefix, query)
    ids = tok(prefix)["input_ids"] + tok(query)["input_ids"]
    hand = [_hand_logprob(model, ids, tok(" " + lab)["input_ids"]) for lab in labels]
    got = F.classify(model, tok, "Where is my parcel?", shots, labels)
    np.testing.assert_allclose(got.logprobs, hand, atol=1e-4)
    assert got.predicted == labels[int(np.argmax(hand))]
    p_ref = 1 / (1 + np.exp(hand[1] - hand[0]))
    np.testing.assert_allclose(got.probs, [p_ref, 1 - p_ref], atol=1e-5)
    with torch.no_grad():
        first = torch.softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].double(), -1)
    np.testing.assert_allclose(got.first_token_probs, [float(first[tok(" " + lab)["input_ids"][0]]) for lab in labels],
                               rtol=1e-4)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_batched_scoring_equals_one_pass_per_prompt(name):
    """Shared prefix, left-padded messages of different lengths, multi-token labels (RoPE positions too)."""
    lm = bundled_model(name)
    tok, model = lm.tokenizer, lm.model
    shots = F.LESSON_EXAMPLES[:2]
    msgs = [ex.text for ex in F.HELDOUT_TICKETS[:4]] + ["Hi"]
    prefix = F.prompt_parts("", shots)[0]
    scores = F.score_queries(model, tok, prefix, [F.prompt_parts(m)[1] for m in msgs])
    for m, s in zip(msgs, scores):
        ids = F.prompt_ids(tok, prefix, f"Message: {m}\nLabel:")
        hand = [_hand_logprob(model, ids, tok(" " + lab)["input_ids"]) for lab in F.LABELS]
        np.testing.assert_allclose(s.logprobs, hand, atol=1e-4)
    zero = F.score_queries(model, tok, "", ["Message: Hi\nLabel:"])[0]
    ids = tok("Message: Hi\nLabel:")["input_ids"]
    np.testing.assert_allclose(zero.logprobs, [_hand_logprob(model, ids, tok(" " + lab)["input_ids"])
                                               for lab in F.LABELS], atol=1e-4)


def test_few_shot_accuracy_runs_every_order_and_counts_correct_answers():
    lm = bundled_model("tiny-gpt2")
    report = F.few_shot_accuracy(lm.model, lm.tokenizer)
    assert [len(report.runs_for(k)) for k in (0, 1, 2, 3)] == [1, 3, 6, 6]
    orders = {r.order for r in report.runs_for(3)}
    assert len(orders) == 6 and all(sorted(o) == [0, 1, 2] for o in orders)
    for run in report.runs:
        assert run.correct == sum(s.predicted == g for s, g in zip(run.scores, run.gold))
        assert len(run.predictions) == len(F.HELDOUT_TICKETS)
    acc = report.accuracy_by_shots()
    assert acc[2] == pytest.approx(np.mean([r.accuracy for r in report.runs_for(2)]))
    assert report.chance == pytest.approx(1 / 3)
    # the run's prediction is the classify() verdict for the same shots
    # the figure's series and its export: every run once, grouped by number of shots
    ks, accs, names = report.by_shots()
    assert ks == [0, 1, 2, 3] and [len(a) for a in accs] == [1, 3, 6, 6] and names[0] == ["none"]
    assert accs[2] == [r.accuracy for r in report.runs_for(2)]
    table = report.table()
    assert table["correct"] == [r.correct for r in report.runs] and set(table["total"]) == {len(F.HELDOUT_TICKETS)}
    run = report.runs_for(2)[3]
    one = F.classify(lm.model, lm.tokenizer, F.HELDOUT_TICKETS[5].text, run.shots)
    assert one.predicted == run.predictions[5]
    np.testing.assert_allclose(one.logprobs, run.scores[5].logprobs, atol=1e-4)


def _report(predictions_by_run: list[list[str]]) -> F.FewShotReport:
    test = F.HELDOUT_TICKETS
    gold = tuple(ex.label for ex in test)
    runs = [F.FewShotRun(k, tuple(range(k)), F.LESSON_EXAMPLES[:k], tuple(p), gold)
            for k, p in enumerate(predictions_by_run)]
    return F.FewShotReport(F.LABELS, F.LESSON_EXAMPLES, test, runs, {})


def test_verdict_says_plainly_when_the_model_is_at_chance():
    gold = [ex.label for ex in F.HELDOUT_TICKETS]
    at_chance = _report([["Shipping"] * 12, ["Refund"] * 12])
    assert at_chance.verdict().startswith("At chance")
    assert at_chance.constant_label(at_chance.runs[0]) == "Shipping"
    good = _report([["Shipping"] * 12, gold])
    assert good.verdict().startswith("Above chance: 100% on average with 1 shot,")
    assert good.above_chance(good.runs[1]) and not good.above_chance(good.runs[0])


def test_binomial_tail_and_shot_orders():
    assert F.binomial_tail(0, 5, 0.3) == pytest.approx(1.0)
    assert F.binomial_tail(2, 2, 0.5) == pytest.approx(0.25)
    assert F.binomial_tail(4, 12, 1 / 3) > 0.5 > F.binomial_tail(9, 12, 1 / 3)
    assert [F.shot_orders(3, k)[1] for k in range(4)] == [1, 3, 6, 6]
    orders, total = F.shot_orders(8, 3, max_orders=10)
    assert total == 336 and len(orders) == 10 == len(set(orders))
    assert orders == F.shot_orders(8, 3, max_orders=10)[0]        # seeded


def test_lesson_and_heldout_sets():
    assert [(e.text, e.label) for e in F.LESSON_EXAMPLES] == [
        ("I never received my package.", "Shipping"), ("I want my money back.", "Refund"),
        ("I forgot my password.", "Account")]
    assert len(F.HELDOUT_TICKETS) == 12
    assert {lab: sum(e.label == lab for e in F.HELDOUT_TICKETS) for lab in F.LABELS} == dict.fromkeys(F.LABELS, 4)
    assert not {e.text for e in F.HELDOUT_TICKETS} & {e.text for e in F.LESSON_EXAMPLES}


def test_errors_are_sentences():
    lm = bundled_model("tiny-gpt2")
    with pytest.raises(F.PromptTooLong, match="positions"):
        F.classify(lm.model, lm.tokenizer, "refund " * 600)
    with pytest.raises(ValueError, match="not among"):
        F.few_shot_accuracy(lm.model, lm.tokenizer, test=[F.Example("hi", "Billing")])
    with pytest.raises(ValueError, match="no test"):
        F.few_shot_accuracy(lm.model, lm.tokenizer, test=[])


# ------------------------------------------------------------------ encoder-decoder
def test_seq2seq_run_equals_generate_and_its_cross_attentions():
    """The page's tokens and cross-attention equal model.generate's (which decodes with a KV cache)."""
    lm = bundled_model("tiny-t5")
    model, tok = lm.model, lm.tokenizer
    run = F.run_seq2seq(model, tok, "refund approved", max_new_tokens=30)
    ids = torch.tensor([tok("refund approved")["input_ids"]])
    with torch.no_grad():
        gen = model.generate(input_ids=ids, max_new_tokens=30, do_sample=False, num_beams=1,
                             output_attentions=True, output_scores=True, return_dict_in_generate=True)
    assert run.out_ids == gen.sequences[0, 1:].tolist()
    assert run.src_ids == ids[0].tolist()
    L, H, T, S = run.cross.shape
    assert (L, H, T, S) == (model.config.num_decoder_layers, model.config.num_heads, len(run.out_ids), ids.shape[1])
    for t in range(T):
        step = torch.stack([layer[0, :, -1, :] for layer in gen.cross_attentions[t]]).numpy()   # [layer, head, src]
        np.testing.assert_allclose(run.cross[:, :, t, :].astype(np.float32), step, atol=2e-3)
    enc = torch.stack(gen.encoder_attentions)[:, 0].numpy()
    np.testing.assert_allclose(run.encoder.astype(np.float32), enc, atol=2e-3)
    for t, s in enumerate(run.steps):
        p = torch.softmax(gen.scores[t][0].float(), -1)
        assert s.token_id == run.out_ids[t] == int(p.argmax())
        assert s.probs[0] == pytest.approx(float(p.max()), abs=1e-5)
    # the decoder obeys its causal mask; the encoder and cross-attention rows are full distributions
    assert F.mass_outside(run.decoder, F.causal_mask(T)) < 1e-3
    np.testing.assert_allclose(run.cross.astype(np.float32).sum(-1), 1.0, atol=5e-3)
    assert run.text == tok.decode(run.out_ids, skip_special_tokens=True)
    # what the page shows after every step: the decoded output so far, the end token left out
    assert run.eos_id == model.config.eos_token_id
    assert run.written(len(run.steps)) == run.text.strip()
    assert run.written(1) == tok.decode(run.out_ids[:1], skip_special_tokens=True).strip()
    assert run.written(0) == ""


def test_labelled_set_text_round_trip_and_rejects_junk():
    shots, test = F.parse_set(F.DEFAULT_SET)
    assert shots == F.LESSON_EXAMPLES and test == F.HELDOUT_TICKETS
    assert F.format_set(shots, test) == F.DEFAULT_SET
    for junk in ["nonsense", "S|Billing|hi", "T|Refund|", "S|Refund|only shots", "X|Refund|hi",
                 "T|Refund|" + "a" * 300, "\n".join(["T|Refund|x"] * 30)]:
        with pytest.raises(ValueError):
            F.parse_set(junk)


def test_the_set_table_round_trips_and_folds_edits_deletions_and_additions():
    rows = F.set_table(F.DEFAULT_SET)
    assert F.set_from_table(rows, {}) == (F.DEFAULT_SET, [])
    first_test = next(i for i, r in enumerate(rows) if r["use as"] == "test")
    text, notes = F.set_from_table(rows, {"edited_rows": {str(first_test): {"label": "Account", "message": None}},
                                          "deleted_rows": [0],
                                          "added_rows": [{"use as": "test", "label": "Refund", "message": " a  b "},
                                                         {"use as": "test", "label": "Nope", "message": "x"},
                                                         {"use as": "example", "label": "Refund", "message": "a|b"}]})
    shots, test = F.parse_set(text)
    assert len(shots) == sum(r["use as"] == "example" for r in rows) - 1          # row 0 deleted
    assert test[0] == F.Example(rows[first_test]["message"], "Account")           # label edited, message kept
    assert test[-1] == F.Example("a b", "Refund")                                 # added, spaces folded
    assert notes == ["Left out 2 row(s) without a message or label (or with a `|` in the message)."]


def test_a_table_without_test_messages_keeps_the_previous_set():
    rows = F.set_table(F.DEFAULT_SET)
    text, notes = F.set_from_table(rows, {"deleted_rows": [i for i, r in enumerate(rows) if r["use as"] == "test"]})
    assert text is None and notes[-1].startswith("Kept the previous set")


def test_each_seq2seq_part_pairs_its_attention_with_its_mask():
    from types import SimpleNamespace
    src, dec, out = ["a", "b", "c"], ["<s>", "x"], ["x", "</s>"]
    run = SimpleNamespace(src_tokens=src, dec_tokens=dec, out_tokens=out, encoder=np.zeros((1, 1, 3, 3)),
                          decoder=np.zeros((1, 1, 2, 2)), cross=np.zeros((1, 1, 2, 3)))
    for part, shape in [("enc", (3, 3)), ("dec", (2, 2)), ("cross", (2, 3))]:
        panel, attn, rows, _, _ = F.seq2seq_part(run, part)
        assert panel.mask.shape == shape == attn.shape[2:] and len(rows) == shape[0]
    a = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    assert (F.pick(a, 0, 1) == a[0, 1]).all() and (F.pick(a, 0, None) == a[0].mean(0)).all()


# ------------------------------------------------------------------ what the page shows (issue 13: out of the page)
def test_lesson_example_reads_the_row_of_approved():
    ex = F.lesson_example()
    assert ex.tokens == list(F.LESSON_TOKENS) and ex.tokens[ex.row] == "approved"
    assert list(ex.masks()) == ["encoder (bidirectional)", "decoder (causal)"]
    assert ex.table()["causal_row_approved"].tolist() == [1, 1, 1, 0]
    assert "causal: `[1, 1, 1, 0]`, bidirectional: `[1, 1, 1, 1]`" in ex.note() and "is **0** in" in ex.note()


def test_attention_part_pairs_a_models_attention_with_its_familys_mask():
    attn = np.zeros((2, 1, 3, 3))
    panel, a, rows, q_axis, k_axis = F.attention_part("decoder", ["Ġthe", "Ġcat", "Ġsat"], attn)
    assert panel.kind == "causal" and a is attn and rows == panel.queries and len(rows) == 3
    assert (q_axis, k_axis) == ("query (looking)", "key (looked at)")
    assert F.attention_part("encoder", ["a", "b"], attn)[0].kind == "bidirectional"
    assert (F.head_name(None), F.head_name(2)) == ("mean of heads", "head 2")


def test_left_of_mask_is_what_the_decoder_reads():
    lm = bundled_model("tiny-gpt2")
    enc = F.left_of_mask(lm, "he opened the [MASK] with a key", "[MASK]")
    assert enc.ids == lm.tokenizer("he opened the", add_special_tokens=False)["input_ids"] and not enc.truncated
    assert F.left_of_mask(lm, "  [MASK] first", "[MASK]") is None
    assert F.left_of_mask(lm, "refund " * 600, "[MASK]").truncated


def test_translator_heatmaps_and_verdict():
    from types import SimpleNamespace
    enc, cross = np.random.default_rng(0).random((2, 2, 3, 3)), np.random.default_rng(1).random((2, 2, 2, 3))
    run = SimpleNamespace(src_tokens=["a", "b", "c"], out_tokens=["x", "</s>"], encoder=enc, cross=cross)
    e, c = F.translator_heatmaps(run, 1, None)
    np.testing.assert_allclose(e.a, F.pick(enc, 1, None))
    np.testing.assert_allclose(c.a, F.pick(cross, 1, None))
    assert (e.rows, e.cols, c.rows, c.cols) == (run.src_tokens, run.src_tokens, run.out_tokens, run.src_tokens)
    assert e.title == "Encoder self-attention, layer 1, mean of heads" and c.name == "families cross attention"
    assert list(c.data) == ["outputs", "inputs", "attention"]
    assert F.verdict_note("tiny-t5", "refund", "dnufer") == " — ✓ spelled backwards correctly"
    assert F.verdict_note("tiny-t5", "refund", "refund").startswith(" — ✗ expected: dnufer")
    assert F.verdict_note("google-t5/t5-small", "refund", "x") == ""


def test_report_notes_and_label_scores_table():
    report = _report([["Shipping"] * 12, ["Refund"] * 12])
    report.sampled_orders[2] = 30
    notes = report.notes()
    assert notes[0] == "2 shots: 0 of the 30 orders, chosen at random (seeded)."
    assert notes[-1].startswith("Guessing: 33%.") and "on 12 messages" in notes[-1]
    s = F.LabelScores(("Refund", "Shipping"), np.log([0.2, 0.05]), np.array([0.2, 0.05]), (1, 2))
    assert s.table()["label"] == ["Refund", "Shipping"] and s.table()["label_tokens"] == [1, 2]
    np.testing.assert_allclose(s.table()["probability_among_labels"], [0.8, 0.2])
    assert s.note().endswith("first token: Refund 20.00%, Shipping 5.00%.")
