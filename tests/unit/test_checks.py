"""Self-study checks: the schema of choice and predict checks, live answers, grading, progress in the link, the path."""
import pytest

from explorer import checks as C
from explorer import tours as T


@pytest.fixture(scope="module")
def models():
    held = {}

    def get(family):
        if family not in held:
            held[family] = C.bundled_models(family)
        return held[family]
    return get


HEAD = 'title = "t"\n\n[[steps]]\npage = "kv-cache"\ncaption = "c"\n\n[steps.ask]\n'


# ---------------------------------------------------------------------------- schema
def test_a_predict_check_names_what_to_compute_and_never_its_answer():
    t = T.parse(HEAD + 'kind = "predict"\nquestion = "How many GiB?"\ncompute = "kv_cache_gib"\n'
                'args = { kv_heads = 4 }\nwhy = "Linear in KV heads."\n', "x")
    ask = t.steps[0].ask
    assert (ask.kind, ask.compute, ask.kwargs, ask.why, ask.live) == ("predict", "kv_cache_gib", {"kv_heads": 4},
                                                                       "Linear in KV heads.", True)
    assert ask.choices == () and ask.answer == ""


@pytest.mark.parametrize("body, expected", [
    ('kind = "predict"\nquestion = "q"\ncompute = "kv_cache_gib"\nanswer = "8"\n', "has no `answer`"),
    ('kind = "predict"\nquestion = "q"\ncompute = "kv_cache_gib"\nchoices = ["a", "b"]\n', "has no `choices`"),
    ('kind = "predict"\nquestion = "q"\ncompute = "nope"\n', "`compute` 'nope' is not one of"),
    ('kind = "predict"\nquestion = "q"\ncompute = "next_token"\n', "`args.prompt` is needed"),
    ('kind = "predict"\nquestion = "q"\ncompute = "kv_cache_gib"\nargs = { kv = 4 }\n', "no parameter 'kv'"),
    ('kind = "predict"\nquestion = "q"\ncompute = "kv_cache_gib"\nargs = { kv_heads = 3 }\n', "must divide it"),
    ('kind = "predict"\nquestion = "q"\ncompute = "kv_cache_gib"\nargs = { preset = "GPT-9" }\n', "must be one of"),
    ('kind = "predict"\nquestion = "q"\ncompute = "kv_cache_gib"\nargs = { batch = "8" }\n', "must be a whole number"),
    ('kind = "predict"\nquestion = "q"\ncompute = "toy_router"\nargs = { logits = "1,2" }\n', "`args.logits`"),
    ('kind = "quiz"\nquestion = "q"\n', "`kind` must be one of choice, predict"),
    ('question = "q"\nchoices = ["a", "b"]\nanswer = "a"\nsee = 9\n', "`see` = 9, but the tour has 1 steps"),
])
def test_a_wrong_check_is_reported_with_where_it_is(body, expected):
    with pytest.raises(T.TourError) as e:
        T.parse(HEAD + body, "x")
    assert any(expected in p and p.startswith("step 1, ask") for p in e.value.problems), e.value.problems


def test_the_tour_link_names_are_reserved_for_the_tour():
    with pytest.raises(T.TourError) as e:
        T.parse('title = "t"\n[[steps]]\npage = "rope"\ncaption = "c"\nparams = { prog = "x", solo = 1 }\n', "x")
    assert sum("the tour itself uses it" in p for p in e.value.problems) == 2


SHIPPED = [T.read(p) for p in T.tour_files()]
PREDICTS = [(t.id, s.number, s.ask) for t in SHIPPED for s in t.steps if s.ask and s.ask.live]


def test_the_lessons_knowledge_checks_are_asked():
    questions = {s.ask.question: s.ask for t in SHIPPED for s in t.steps if s.ask}
    for q in ("Which model is encoder-only?", "What is usually frozen in multimodal LLMs?",
              "Why use LoRA instead of full fine-tuning?", "Why can ChatGPT work without an encoder?"):
        assert q in questions and questions[q].answer and questions[q].why, q
    assert {c.compute for _, _, c in PREDICTS} >= {"next_token", "model_router", "toy_router", "kv_cache_gib"}
    assert set(C.REGISTRY) == {"next_token", "model_router", "toy_router", "kv_cache_gib", "word_patch"}


# ---------------------------------------------------------------------------- live answers
@pytest.mark.parametrize("tour, step, check", PREDICTS, ids=[f"{t}-{n}" for t, n, _ in PREDICTS])
def test_every_shipped_predict_check_computes_an_answer(tour, step, check, models):
    live = C.compute(check.compute, check.kwargs, models)
    assert live.answer and live.evidence and live.source
    assert live.grade(live.answer if live.options else live.value)
    if live.options:
        assert live.answer in live.options and len(set(live.options)) == len(live.options)


def test_next_token_is_what_the_model_predicts_now(models):
    """The answer is the model's own argmax for the prompt; another prompt, another answer."""
    import torch

    from explorer.forward import encode, forward
    answers = {}
    for prompt in ("Where is my order?", "I want a", "Where is my"):
        live = C.compute("next_token", {"prompt": prompt}, models)
        lm = models("decoder")
        logits = forward(lm, encode(lm, prompt)).output.logits[0, -1]
        top = lm.tokenizer.convert_ids_to_tokens(int(torch.argmax(logits)))
        from explorer.text import display_token
        assert live.answer == display_token(top)
        answers[prompt] = live.answer
    assert len(set(answers.values())) > 1, answers


def test_the_router_pick_follows_the_model_and_its_input(models):
    """The real router: the expert the model handed the token to; another layer (or text) changes the answer."""
    from explorer import moe
    text = "I want a refund for my order"
    lm = models("moe-decoder")
    cap = moe.capture(lm, text, 64)
    picks = [C.compute("model_router", {"text": text, "layer": layer}, models).answer for layer in range(cap.n_layers)]
    ref = [i for i, t in enumerate(cap.tokens) if t.lstrip("Ġ␣ ").startswith("ref")]     # " refund"'s first token
    assert len(ref) == 1 and ref[0] >= 3
    assert picks == [f"expert {int(cap.chosen[layer, ref[0], 0])}" for layer in range(cap.n_layers)]
    assert len(set(picks)) > 1


def test_the_toy_router_pick_follows_its_scores(models):
    assert C.compute("toy_router", {"word": "refund"}, models).answer == "returns"     # the lessons' router
    assert C.compute("toy_router", {"word": "delayed"}, models).answer == "shipping"
    from explorer import moe
    changed = C.compute("toy_router", {"logits": "0.2,2.6,0.5,1.9;0.1,2.2,0.7,0"}, models)
    assert changed.answer == "shipping"
    assert changed.evidence[1] == ("shipping", f"{moe.softmax([0.2, 2.6, 0.5, 1.9])[1]:.3f}")


def test_kv_cache_gib_is_the_kv_cache_module_and_follows_its_inputs(models):
    from explorer import kvcache as kv
    from explorer.presets import PRESETS
    for heads, gib in ((32, 32.0), (8, 8.0), (1, 1.0), (4, 4.0)):     # the lessons' 32 / 8 / 1 GiB
        live = C.compute("kv_cache_gib", {"kv_heads": heads}, models)
        shape = kv.shape_of(PRESETS["Llama-3-8B"]).with_kv_heads(heads)
        assert live.value == kv.cache_bytes(shape, 8192, 8, 16) / kv.GIB == gib
        assert live.answer == f"{gib:.2f} GiB"
    assert C.compute("kv_cache_gib", {"kv_heads": 8, "seq": 32768}, models).value == 32.0


# ---------------------------------------------------------------------------- grading
def test_grading_a_pick():
    live = C.Live("returns", (), "toy", options=("returns", "shipping"))
    assert live.grade("returns") and not live.grade("shipping") and not live.grade(None)


@pytest.mark.parametrize("guess, right", [(8, True), ("8", True), (8.7, True), (7.3, True), (9, False), (4, False),
                                          ("eight", False), (None, False), (float("nan"), False)])
def test_grading_a_number_within_its_tolerance(guess, right):
    assert C.Live("8.00 GiB", (), "kv", value=8.0, tolerance=0.1, unit="GiB").grade(guess) is right


def test_grading_a_choice_check_against_the_file():
    ask = T.parse(HEAD + 'question = "q"\nchoices = ["a", "b"]\nanswer = "b"\n', "x").steps[0].ask
    assert ask.grade("b") and not ask.grade("a") and not ask.grade(None) and ask.answer_index == 1


# ---------------------------------------------------------------------------- progress in the link
def test_progress_round_trips_through_its_link_text():
    p = {"families": T.Progress(7, "1201"), "gqa-mqa": T.Progress(3, "12"), "rope": T.Progress(0, "")}
    text = T.encode_progress(p)
    assert text == "families_7_1201.gqa-mqa_3_12"
    assert T.decode_progress(text) == {k: v for k, v in p.items() if k != "rope"}
    assert T.decode_progress("") == {}


@pytest.mark.parametrize("raw", ["x", "families_7", "families_7_3", "Families_1_1", "a_1_1.a_2_2", "a_100_1",
                                 "<b>x</b>", "a_1_1" + "2" * 40, "x" * 1000, "a_1_1..b_1_1"])
def test_progress_the_app_did_not_write_is_refused(raw):
    assert T.decode_progress(raw) is None


def test_score_counts_right_wrong_and_unanswered_and_names_the_steps_that_answer():
    t = T.parse('title = "t"\n' + "".join(
        f'[[steps]]\npage = "rope"\ncaption = "c{i}"\n' + (
            f'[steps.ask]\nquestion = "q{i}"\nchoices = ["a", "b"]\nanswer = "a"\n' + ("see = 1\n" if i == 4 else "")
            if i in (2, 3, 4) else "") for i in range(1, 6)), "t")
    p = T.Progress(5).with_answer(0, True).with_answer(1, False)
    s = T.score(t, p)
    assert (s.right, s.wrong, s.total, s.missed) == (1, 1, 3, (3, 4))
    assert T.answering_step(t, 3) == 3 and T.answering_step(t, 4) == 1
    assert p.with_answer(1, True).answers == "11" and p.with_seen(2).seen == 5


# ---------------------------------------------------------------------------- the learning path
def test_the_path_follows_the_lessons_and_lists_missing_pages_or_tours_as_coming():
    tours = [T.resolve(t, ["families", "pipeline", "generation", "kv-cache", "attention"]) for t in SHIPPED]
    path = T.path(tours, ["families", "pipeline", "generation", "kv-cache", "attention"])
    assert [c.tour for c, _ in path] == ["families", "decoder", "attention", "generation", "gqa-mqa", "rope", "moe",
                                         "efficient", "adapt", "multimodal"]
    ready = {c.tour for c, t in path if t is not None}
    assert ready == {"families", "decoder", "attention", "generation", "gqa-mqa"}   # rope: page not built here
    assert dict((c.tour, t) for c, t in path)["multimodal"] is None                # no tour yet


def test_every_chapter_of_the_path_exists_once_its_page_is_built():
    from explorer.ui.tour import pages
    ids = {t.id for t in SHIPPED}
    for c in T.PATH:
        if c.page in pages() and c.page != "multimodal":
            assert c.tour in ids, f"chapter {c.title!r}: no tour file {c.tour}.toml"


def test_the_engine_registry_loads_without_streamlit():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import explorer.checks, explorer.tours, sys; "
                          "print('streamlit' in sys.modules)"], capture_output=True, text=True, cwd=T.ROOT)
    assert out.stdout.strip() == "False", out.stderr



def test_which_object_a_word_looks_at_follows_the_model_and_the_picture(models):
    """The vision-language model's own most-attended patch at the step writing the word (multimodal.word_patch),
    named by the object it touches; another picture, another answer."""
    from explorer import multimodal as M
    lm = models("vision-language")
    for scene, word in (("two", "red"), ("pair", "green"), ("pair", "yellow")):
        live = C.compute("word_patch", {"scene": scene, "word": word}, models)
        sc = M.scenes.build(list(M.BUNDLED[scene]))
        run = M.caption(lm, M.scenes.render(sc))
        patch = M.word_patch(run, word, M.grounding_layer(lm))
        r, c = divmod(patch, run.geometry.grid)
        assert live.evidence[1][1].startswith(f"row {r + 1}, column {c + 1} ")
        assert live.answer in live.options and live.options[-1] == "the background"
        assert live.options[:-1] == tuple(f"the {o.words}" for o in sc.objects)
    answers = {C.compute("word_patch", {"scene": s, "word": w}, models).answer
               for s, w in (("two", "red"), ("pair", "green"), ("pair", "yellow"))}
    assert len(answers) == 3
    with pytest.raises(ValueError):
        C.compute("word_patch", {"scene": "pair", "word": "red"}, models)   # no red in that caption
