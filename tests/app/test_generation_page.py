"""The generation page in AppTest: step, back, branch, fill-mask, deep links and bad links."""
import re

from tests.app.conftest import assert_clean, run_page

PAGE = "pages/generation.py"
GREEDY = {"decode": "greedy", "prompt": "a small animal that"}


def _count(at) -> int:
    m = [re.search(r"(\d+) of \d+ new tokens", c.value) for c in at.caption]
    return next(int(x.group(1)) for x in m if x)


def _shown(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Showing step"))


def test_the_chart_caption_says_what_remains_in_words_a_learner_reads():
    """Greedy keeps one token of zero entropy: '1 token remains', '0.00 bits' (was '1 tokens remain', '-0.00 bits');
    sampling without top-k or top-p keeps every token: 'every token remains' (was 'every token remain')."""
    greedy = " ".join(c.value for c in run_page(PAGE, query={**GREEDY, "n": "3"}).caption)
    assert "1 token remains and" in greedy and "drawn from: 0.00 bits" in greedy and "-0.00" not in greedy
    sampled = " ".join(c.value for c in run_page(PAGE, query={"decode": "sample", "prompt": "a small animal that",
                                                               "topk": "0", "topp": "1", "n": "3"}).caption)
    assert "top-p, every token remains and" in sampled, sampled


def test_step_and_back_move_one_token_and_the_link_follows():
    at = run_page(PAGE, query=GREEDY)
    assert_clean(at)
    assert _count(at) == 0
    assert any("Press **Step" in i.value for i in at.info)
    for _ in range(3):
        at.button(key="gen_step").click().run()
    assert_clean(at)
    assert _count(at) == 3 and at.query_params["n"] == "3"
    assert _shown(at).startswith("Showing step 3:")
    at.button(key="gen_back").click().run()
    assert_clean(at)
    assert _count(at) == 2 and at.query_params["n"] == "2"
    assert _shown(at).startswith("Showing step 2:")
    at.button(key="gen_reset").click().run()
    assert _count(at) == 0 and "n" not in at.query_params


def test_choosing_an_earlier_step_shows_its_distribution_again():
    at = run_page(PAGE, query={**GREEDY, "n": "5"})
    assert _shown(at).startswith("Showing step 5:")
    at.slider(key="gen_view").set_value(2).run()
    assert_clean(at)
    assert _shown(at).startswith("Showing step 2:")
    assert at.query_params["view"] == "2"


def test_branch_takes_another_candidate_and_keeps_the_original():
    at = run_page(PAGE, query={**GREEDY, "n": "4"})
    original = _shown(at)
    at.slider(key="gen_view").set_value(2).run()
    alt = at.selectbox(key="gen_alt")
    alt.set_value(alt.options and alt.value).run()          # the first other candidate
    chosen_label = at.selectbox(key="gen_alt").value
    at.button(key="gen_branch").click().run()
    assert_clean(at)
    assert any(m.value == "**Branches**" for m in at.markdown)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Branch 1 (the original run, 4 tokens)") for c in captions)
    assert any(c.startswith("Branch 2 (from branch 1 at step 2") and "on screen" in c for c in captions)
    assert len(at.text) == 2
    assert "chosen by you" in _shown(at) and _count(at) == 2
    at.button(key="gen_step").click().run()                  # the branch continues from its own choice
    assert _count(at) == 3
    at.button(key="gen_show_0").click().run()                # back to the original: untouched
    assert _count(at) == 4 and _shown(at) == original
    assert chosen_label is not None


def test_an_encoder_explains_and_offers_fill_mask_instead():
    at = run_page(PAGE, query={"model": "encoder", "mask": "a small [MASK] that lives in the [MASK]."})
    assert_clean(at)
    assert any("cannot write left to right" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 2                  # one candidate chart per [MASK]
    at.text_input(key="gen_mask").set_value("no blanks here").run()
    assert any("at least one `[MASK]`" in i.value for i in at.info)


def test_the_encoder_s_example_fills_its_blanks_from_the_lessons_ticket_world():
    """The default fill-mask sentence is a support ticket; the bundled BERT's top candidates for its two blanks are a
    product and what a customer wants back (the charts' words, from the model)."""
    import json
    at = run_page(PAGE, query={"model": "encoder"})
    assert_clean(at)
    assert at.text_input(key="gen_mask").value == "the [MASK] arrived broken, so i want a [MASK]."
    words = [json.loads(c.proto.spec)["data"][0]["y"] for c in at.get("plotly_chart")]
    assert len(words) == 2
    assert words[1][0] in {"refund", "return", "replacement"}, words          # most likely first
    assert not {"refund", "return", "replacement"} & set(words[0][:3]), words


def test_a_deep_link_restores_prompt_settings_tokens_and_step():
    q = {"prompt": "the act of", "temp": "0.7", "topk": "30", "topp": "0.8", "seed": "42", "n": "6",
         "view": "3", "k": "7", "color": "entropy"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    assert at.text_input(key="gen_prompt").value == "the act of"
    assert at.slider(key="gen_temp").value == 0.7 and at.slider(key="gen_topk").value == 30
    assert at.number_input(key="gen_seed").value == 42
    assert _count(at) == 6 and _shown(at).startswith("Showing step 3:")
    assert at.slider(key="gen_k").value == 7 and at.radio(key="gen_color").value == "entropy"
    first = _shown(at)
    again = run_page(PAGE, query=q)                          # a new visitor: the same seeded tokens
    assert _shown(again) == first


def test_nonsense_link_values_fall_back_with_a_notice():
    at = run_page(PAGE, query={"temp": "hot", "topp": "5", "n": "-3", "model": "gpt-5", "seed": "x",
                               "prompt": "x" * 5000})
    assert_clean(at)
    notices = " ".join(i.value for i in at.info)
    for name in ("temp", "topp", "n", "model", "seed", "prompt"):
        assert f"`{name}`" in notices, name
    assert at.slider(key="gen_temp").value == 1.0 and _count(at) == 0


def test_an_empty_prompt_gets_a_friendly_line_and_no_chart():
    at = run_page(PAGE, query={"prompt": "   "})
    assert_clean(at)
    assert any("Type the beginning" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def _ending_run(max_new: int = 40) -> tuple[dict, int]:
    """Link values of a run (the page's default sampling, a seed) that the bundled decoder ends within
    max_new tokens, and how many tokens it writes."""
    from explorer import generation as G
    from tests.conftest import bundled_model
    lm = bundled_model("tiny-gpt2")
    for prompt in ("I forgot my password.\nLabel: Account\nAgent: Your account is unlocked now. Have a nice day.",
                   "a small animal that"):
        for seed in range(20):
            run = G.Generation(lm, lm.tokenizer(prompt)["input_ids"], G.Sampling(temperature=1.0, top_p=0.9,
                                                                                 seed=seed), max_new)
            run.run(lm, max_new)
            if run.done() == "end-of-text":
                return {"prompt": prompt, "seed": str(seed)}, len(run.branch.steps)
    raise AssertionError("the bundled decoder ends none of the candidate runs")


def test_a_finished_text_says_so_and_continues_past_end_of_text():
    query, n = _ending_run()
    at = run_page(PAGE, query={**query, "n": str(n)})
    assert_clean(at)
    assert _count(at) == n and "stopped: end-of-text" in " ".join(c.value for c in at.caption)
    assert any(i.value.startswith("The model ended its text") for i in at.info)
    at.button(key="gen_continue").click().run()
    assert_clean(at)
    assert at.query_params["eos"] == str(n - 1)                     # in the link: suppressed from that step on
    assert _count(at) == n                                          # the same tokens, the last one drawn again
    captions = " ".join(c.value for c in at.caption)
    assert "stopped: end-of-text" not in captions and f"suppressed from step {n} on" in captions
    assert not any(i.value.startswith("The model ended its text") for i in at.info)
    at.button(key="gen_step").click().run()                         # and it writes on
    assert _count(at) == n + 1
    at.button(key="gen_reset").click().run()
    assert "eos" not in at.query_params
