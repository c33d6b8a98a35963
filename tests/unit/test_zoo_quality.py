"""The bundled models meet their quality bars, recomputed here from the shipped weights and the corpus
(never read from the cards; the cards must state what is measured here)."""
import json

import numpy as np
import pytest
import torch

from explorer.attention import previous_token_score
from explorer.models import registry
from explorer.zoo import corpus as corpus_mod
from explorer.zoo import tickets
from explorer.zoo.data import causal_stream, encode_lines
from explorer.zoo.metrics import (BARS, causal_eval_windows, causal_perplexity, continuation,
                                  few_shot_lesson_accuracy, greedy_heldout_repeats, mlm_eval_sequences,
                                  mlm_top_k_accuracy, previous_token_scores, unigram_perplexity)
from explorer.zoo.tokenizer import BERT_SPECIALS
from explorer.zoo.train import FEW_SHOT_ITEMS, FEW_SHOT_SEED, GREEDY_DOCS_EVERY, PROBE_TOKENS, RECIPES, UNIGRAM_DOCS
from tests.conftest import bundled_model

DECODERS = ["tiny-gpt2", "tiny-llama", "tiny-mixtral"]
BUNDLED = [s.id for s in registry.SPECS.values() if s.bundled]
# the corpus of the shipped weights, byte for byte (WordNet 3.0 from wordnet-base 1:3.0-37, the Python 3.11
# documentation from python3.11-doc 3.11.2-6+deb12u9, the ticket grammar with seed 0): a change means retraining
CORPUS_DIGEST = "1e11a13c1fedf7252523dba77b629856671005342fd0b7773dcd0af14614200e"
# bars a shipped model does not meet yet (model, bar) -> why; each is an xfail(strict) so that meeting it fails
MISSED: dict[tuple[str, str], str] = {
}


def bar(name: str, which: str):
    reason = MISSED.get((name, which))
    return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=reason)) if reason else name


def card(name: str) -> dict:
    return json.loads((registry.get(name).path / "metrics.json").read_text())


@pytest.fixture(scope="module")
def corpus():
    return corpus_mod.load_corpus()


def test_corpus_is_the_one_the_models_were_trained_on(corpus):
    assert corpus.digest() == CORPUS_DIGEST
    assert len(corpus.heldout) > 500 and len(corpus.train) > 20 * len(corpus.heldout)
    assert corpus_mod.split_gloss('a fruit; "an apple a day"; "two"') == ["a fruit", "an apple a day", "two"]
    # documents, not lines: several sentences each, end-of-text only between them
    assert np.median([d.count("\n") + d.count(". ") for d in corpus.train[:500]]) >= 3


@pytest.mark.parametrize("name", BUNDLED)
def test_every_advertised_position_is_trained(name):
    lm = bundled_model(name)
    spec = registry.get(name)
    assert lm.max_length == spec.trained_length == RECIPES[name].seq_len       # the app's token limit follows
    assert lm.tokenizer.model_max_length == spec.trained_length


@pytest.mark.parametrize("name", [bar(n, "perplexity") for n in DECODERS])
def test_causal_lm_beats_a_fifth_of_the_unigram_perplexity(name, corpus):
    lm = bundled_model(name)
    windows = causal_eval_windows(lm.tokenizer, corpus.heldout, RECIPES[name].seq_len)
    train_stream = causal_stream(encode_lines(lm.tokenizer, corpus.train[:UNIGRAM_DOCS]), lm.tokenizer.eos_token_id)
    ppl = causal_perplexity(lm.model, windows)
    uni = unigram_perplexity(train_stream, windows, len(lm.tokenizer))
    assert card(name)["heldout_perplexity"] == pytest.approx(ppl, rel=0.01)  # the card states what we measure
    assert ppl <= BARS["perplexity_ratio"] * uni, (ppl, uni)


@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "sampled"])
@pytest.mark.parametrize("prompt", ["Where is my order?", "a small animal that"])
@pytest.mark.parametrize("name", DECODERS)
def test_decoders_write_on_without_looping(name, prompt, greedy, request):
    """From the lessons' prompts, at least 40 new tokens before end-of-text, under 10% of 4-grams repeated
    (greedy, and sampled at temperature 0.8, top-p 0.9, seed 0, with the app's decoder)."""
    reason = MISSED.get((name, f"{prompt} | {'greedy' if greedy else 'sampled'}"))
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    run = continuation(bundled_model(name), prompt, greedy)
    key = f"{prompt} | {'greedy' if greedy else 'sampled'}"
    assert card(name)["continuations"][key]["new_tokens"] == run["new_tokens"]
    assert run["new_tokens"] >= BARS["new_tokens"], run
    assert run["repeated_4grams"] < BARS["repeated_4grams"], run


@pytest.mark.parametrize("name", DECODERS)
def test_cards_state_how_much_greedy_decoding_loops_beyond_the_two_prompts(name, corpus):
    """The mean repeated-4-gram share of greedy continuations of held-out documents' first tokens, as the card says;
    a decoder trained with unlikelihood (its card says so) loops on them less than half as much as none did (0.33 for
    the tiny GPT-2, 0.38 for the tiny Llama before it)."""
    lm = bundled_model(name)
    loops, docs = greedy_heldout_repeats(lm.model, lm.tokenizer, corpus.heldout[::GREEDY_DOCS_EVERY])
    assert (card(name)["greedy_heldout_docs"], docs) == (docs, len(corpus.heldout[::GREEDY_DOCS_EVERY]))
    assert card(name)["greedy_heldout_repeats"] == pytest.approx(loops, abs=0.005)
    if card(name).get("unlikelihood"):
        assert loops < 0.15, loops


@pytest.mark.parametrize("name", [bar("tiny-gpt2", "previous-token")])
def test_gpt2_twin_has_a_previous_token_head(name, corpus):
    lm = bundled_model(name)
    scores = previous_token_scores(lm.model, lm.tokenizer, " ".join(corpus.heldout[:12]), PROBE_TOKENS)
    assert card(name)["previous_token_max"] == pytest.approx(scores.max(), abs=0.01)
    assert scores.max() >= BARS["previous_token"], np.round(scores, 2)


@pytest.mark.parametrize("name", [bar("tiny-gpt2", "few-shot")])
def test_gpt2_twin_labels_held_out_tickets_from_the_lessons_three_examples(name):
    """Scored by the Families page's own function (label log-probability after `Label:`), all six
    orders of the three examples, on held-out synthetic tickets (a grammar seed the corpus never uses)."""
    lm = bundled_model(name)
    acc = few_shot_lesson_accuracy(lm.model, lm.tokenizer, tickets.heldout_messages(FEW_SHOT_ITEMS, FEW_SHOT_SEED))
    assert card(name)["few_shot_accuracy"] == pytest.approx(acc, abs=0.005)
    assert acc >= BARS["few_shot"], acc


@pytest.mark.parametrize("name", [bar("tiny-bert", "top-5")])
def test_masked_lm_top5_accuracy_on_its_full_length(name, corpus):
    lm = bundled_model(name)
    tok = lm.tokenizer
    seqs = mlm_eval_sequences(tok, corpus.heldout, RECIPES[name].seq_len)
    assert seqs.shape[1] == lm.max_length and (seqs[:, -1] != tok.pad_token_id).float().mean() > 0.3  # last one used
    specials = [tok.convert_tokens_to_ids(t) for t in BERT_SPECIALS]
    acc = mlm_top_k_accuracy(lm.model, seqs, specials, tok.mask_token_id, tok.pad_token_id, k=5)
    assert card(name)["mlm_top5_accuracy"] == pytest.approx(acc, abs=0.005)
    assert acc >= BARS["mlm_top5"], acc


@pytest.mark.parametrize("name", ["tiny-llama"])
def test_rope_decoder_has_a_previous_token_head(name, corpus):
    """Visible structure: some head sends at least 30% of each token's attention to the token just before
    (about six times what uniform causal attention over these 96 tokens would give it)."""
    lm = bundled_model(name)
    ids = lm.tokenizer(" ".join(corpus.heldout[:12]), return_tensors="pt")["input_ids"][:, :96]
    with torch.no_grad():
        attn = torch.stack(lm.model(input_ids=ids, output_attentions=True).attentions)[:, 0].numpy()
    scores = previous_token_score(attn)       # [layer, head]
    uniform = previous_token_score(np.tril(np.ones((96, 96))) / np.arange(1, 97)[:, None])
    assert uniform < 0.06
    assert scores.max() >= 0.3, np.round(scores, 2)


# each recipe retrains from scratch in one command within this (issue 14: 45 minutes on 2 cores)
RECIPE_SECONDS = 45 * 60


def recipe_seconds(metrics: dict) -> float:
    """A run's recorded time: the whole command's where it was recorded, else its training stages'."""
    if "command_seconds" in metrics:
        return metrics["command_seconds"]
    return metrics.get("train_seconds", 0) + metrics.get("vision_seconds", 0) + metrics.get("caption_seconds", 0)


@pytest.mark.parametrize("name", BUNDLED)
def test_each_model_retrains_from_scratch_in_one_command_within_45_minutes(name):
    """The card's command trains the shipped weights from scratch (no chain of commands continuing earlier weights),
    and the run it records took at most 45 minutes."""
    metrics = card(name)
    assert not metrics.get("commands"), metrics.get("commands")
    assert 0 < recipe_seconds(metrics) <= RECIPE_SECONDS, recipe_seconds(metrics)
    assert "python -m explorer.zoo.train --only " + name in (registry.get(name).path / "MODEL_CARD.md").read_text()


def test_bundled_weights_stay_small():
    total = sum(p.stat().st_size for p in registry.BUNDLED_DIR.glob("*/*.safetensors"))
    assert 0 < total <= 30 * 2**20, total


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-bert", "tiny-mixtral"])
def test_some_head_is_far_from_uniform(name, corpus):
    """Visible structure in every bundled model: some head's mean row entropy is at most 80% of what
    uniform attention over the same keys would have."""
    from explorer.attention import entropy
    lm = bundled_model(name)
    ids = lm.tokenizer(" ".join(corpus.heldout[:12]), return_tensors="pt")["input_ids"][:, :48]
    with torch.no_grad():
        attn = torch.stack(lm.model(input_ids=ids, output_attentions=True).attentions)[:, 0].numpy()
    t = attn.shape[-1]
    causal = lm.spec.family != "encoder"
    uniform = (np.tril(np.ones((t, t))) / np.arange(1, t + 1)[:, None]) if causal else np.full((t, t), 1 / t)
    ratio = entropy(attn) / entropy(uniform)
    assert ratio.min() <= 0.8, np.round(ratio, 2)


def test_tiny_t5_spells_heldout_words_backwards():
    """The encoder-decoder's bar: greedy exact match on held-out WordNet lemmas (never trained on) >= 50%."""
    from explorer.zoo import seq2seq
    lm = bundled_model("tiny-t5")
    assert type(lm.model).__name__ == "T5ForConditionalGeneration"
    train, held = seq2seq.split_lemmas(seq2seq.read_lemmas())
    assert not set(train) & set(held) and len(held) > 3000
    words = seq2seq.eval_words(held)
    acc = seq2seq.exact_match(lm.model, lm.tokenizer, words)
    assert acc >= 0.5, acc
    card = json.loads((registry.get("tiny-t5").path / "metrics.json").read_text())
    assert card["heldout_exact_match"] == pytest.approx(acc, abs=0.005)


# ------------------------------------------------------------------ the vision-language model (tiny LLaVA)
@pytest.fixture(scope="module")
def llava_heldout():
    """Greedy captions of the held-out scenes, as they are and with their patches shuffled."""
    from explorer.zoo import llava, scenes
    lm = bundled_model("tiny-llava")
    held = scenes.seeded_scenes(llava.EVAL_SCENES, heldout=True)
    images = [scenes.render(s) for s in held]
    got = llava.captions(lm.model, lm.processor, images)
    shuffled = llava.captions(lm.model, lm.processor, [llava.shuffle_patches(im, 8, i) for i, im in enumerate(images)])
    return lm, held, [s.caption for s in held], got, shuffled


def test_tiny_llava_heldout_scenes_are_never_trained_on():
    from explorer.zoo import llava, scenes
    held = scenes.seeded_scenes(llava.EVAL_SCENES, heldout=True)
    trained = {s.caption for s in llava._Scenes(scenes.TRAIN_SEED).take(3000)}   # what training reads, in order
    assert not trained & {s.caption for s in held}
    assert all(s.heldout for s in held) and len({s.caption for s in held}) > 100


def test_tiny_llava_reads_images_as_its_processor_makes_them():
    """Training fed pixels through llava.pixels; the saved processor gives the same numbers."""
    from explorer.zoo import llava, scenes
    lm = bundled_model("tiny-llava")
    imgs = [scenes.render(s) for s in scenes.seeded_scenes(4, heldout=False)]
    pv = lm.processor(images=imgs, text=["<image>"] * 4, return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(pv, llava.pixels(imgs), atol=1e-6, rtol=0)


def llava_bar(which: str):
    reason = MISSED.get(("tiny-llava", which))
    return [pytest.param(which, marks=pytest.mark.xfail(strict=True, reason=reason))] if reason else [which]


@pytest.mark.parametrize("which", llava_bar("exact"))
def test_tiny_llava_captions_heldout_scenes_exactly(which, llava_heldout):
    from explorer.zoo import llava
    lm, _, want, got, _ = llava_heldout
    exact = float(np.mean([g == w for g, w in zip(got, want)]))
    assert card("tiny-llava")["exact_match"] == pytest.approx(exact, abs=0.005)
    assert exact >= llava.BARS["exact_match"], exact


@pytest.mark.parametrize("which", llava_bar("words"))
def test_tiny_llava_names_colours_and_shapes(which, llava_heldout):
    from explorer.zoo import llava
    _, _, want, got, _ = llava_heldout
    acc = llava.word_accuracy(got, want)
    assert card("tiny-llava")["word_accuracy"] == pytest.approx(acc, abs=0.005)
    assert acc >= llava.BARS["words"], acc


@pytest.mark.parametrize("which", llava_bar("shuffled"))
def test_tiny_llava_with_shuffled_patches_falls_to_near_chance(which, llava_heldout):
    from explorer.zoo import llava
    _, _, want, _, shuffled = llava_heldout
    exact = float(np.mean([g == w for g, w in zip(shuffled, want)]))
    assert card("tiny-llava")["shuffled_exact_match"] == pytest.approx(exact, abs=0.005)
    assert exact <= llava.BARS["shuffled_exact_match"], exact


@pytest.mark.parametrize("which", llava_bar("grounding"))
def test_tiny_llava_words_look_at_their_object(which, llava_heldout):
    """In the layer the card names, the most-attended patch of a correctly written colour or shape word lies on
    that object (mean over heads, from the position that writes the word)."""
    from explorer.zoo import llava
    lm, held, _, _, _ = llava_heldout
    by_layer = llava.grounding_by_layer(lm.model, lm.processor, held)
    layer = card("tiny-llava")["grounding_layer"]
    assert card("tiny-llava")["grounding"] == pytest.approx(by_layer[layer], abs=0.005)
    assert by_layer[layer] >= llava.BARS["grounding"], by_layer


def test_tiny_llava_is_small_and_its_stages_froze_the_encoder():
    from explorer.zoo import llava
    folder = registry.get("tiny-llava").path
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 10 * 2**20
    assert sum(p.stat().st_size for p in registry.BUNDLED_DIR.glob("*/*")) <= 40 * 2**20
    lm = bundled_model("tiny-llava")
    assert type(lm.model).__name__ == "LlavaForConditionalGeneration"
    stages = card("tiny-llava")["stages"]
    assert stages == [dict(s, trains=list(s["trains"])) for s in llava.stage_counts(lm.model)]
    assert stages[1]["trains"] == ["multi_modal_projector", "language_model", "lm_head"]
    vision = sum(p.numel() for p in lm.model.model.vision_tower.parameters())
    assert stages[1]["frozen"] == vision and stages[0]["trainable"] == vision
    assert "requires_grad False" in (folder / "MODEL_CARD.md").read_text()
