"""Self-study: a chapter played solo with graded checks, its summary, progress in the link (and only there), the
learning path on the home page, and the teacher's tours unchanged."""
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from explorer import checks as C
from explorer import tours as T
from explorer.ui import tour as ui_tour
from explorer.ui.tour_check import open_step, shown_page
from tests.app.conftest import assert_clean, infos, param, run_page

CHAPTER = "gqa-mqa"       # four checks: a choice, a predicted number, two more choices; crosses to the RoPE page
TOUR = T.resolve(T.read(T.LESSONS / f"{CHAPTER}.toml"), ui_tour.pages())
CHECKS = T.check_steps(TOUR)


def links(at: AppTest) -> list[tuple[str, dict]]:
    """Every page link on screen: (label, its query parameters)."""
    return [(x.proto.label, {k: v[0] for k, v in parse_qs(x.proto.query_string).items()}) for x in at.get("page_link")]


def right_answer(step: T.Step):
    """The right answer: the file's for a choice, computed now by the engine for a prediction (never typed here)."""
    if not step.ask.live:
        return step.ask.answer
    live = C.compute(step.ask.compute, step.ask.kwargs, C.bundled_models)
    return live.answer if live.options else live.value


def wrong_answer(step: T.Step):
    if not step.ask.live:
        return next(c for c in step.ask.choices if c != step.ask.answer)
    live = C.compute(step.ask.compute, step.ask.kwargs, C.bundled_models)
    return next(o for o in live.options if o != live.answer) if live.options else live.value * 4


def answer(at: AppTest, n: int, value) -> None:
    key = f"tour_guess_{CHAPTER}_{n}"
    widget = at.number_input(key=key) if isinstance(value, float) else at.radio(key=key)
    widget.set_value(value).run()
    at.button(key="tour_check").click().run()
    assert_clean(at)


def feedback(at: AppTest) -> str:
    return " ".join([s.value for s in at.success] + [w.value for w in at.warning])


@pytest.fixture(scope="module")
def played():
    """One learner plays the whole chapter: right, wrong, right, wrong (in the checks' order)."""
    at = open_step(CHAPTER, 1, query={"solo": "1"})
    assert_clean(at)
    marks = []
    for n in range(1, len(TOUR) + 1):
        if n > 1:
            at.button(key="tour_next").click().run()
            assert_clean(at)
        assert param(at, "step") == str(n) and shown_page(at) == TOUR.steps[n - 1].page
        if n in CHECKS:
            good = CHECKS.index(n) % 2 == 0
            answer(at, n, right_answer(TOUR.steps[n - 1]) if good else wrong_answer(TOUR.steps[n - 1]))
            marks.append(good)
            assert ("**Right.**" in feedback(at)) is good and ("**Not quite.**" in feedback(at)) is not good
    return at, marks


def test_a_chapter_played_through_is_graded_right_and_wrong(played):
    at, marks = played
    assert marks == [True, False, True, False]
    assert T.decode_progress(param(at, "prog"))[CHAPTER] == T.Progress(len(TOUR), "1212")


def test_a_prediction_shows_the_live_evidence_beside_the_guess(played):
    at, _ = played
    step = TOUR.steps[CHECKS[1] - 1]
    assert step.ask.live and step.ask.compute == "kv_cache_gib"
    again = open_step(CHAPTER, CHECKS[1], query={"solo": "1"})
    live = C.compute(step.ask.compute, step.ask.kwargs, C.bundled_models)
    guess = live.value * 4
    again.number_input(key=f"tour_guess_{CHAPTER}_{CHECKS[1]}").set_value(guess).run()
    again.button(key="tour_check").click().run()
    assert f"The answer: **{ui_tour.md(live.answer)}**" in feedback(again)
    shown = " ".join(m.value for m in again.markdown)
    assert f"**Your guess**  \n{ui_tour.md(f'{guess:g} GiB')}" in shown
    assert "**Computed now**" in shown and ui_tour.md(live.evidence[1][1]) in shown


def test_the_summary_counts_and_links_each_missed_question_to_its_step(played):
    at, _ = played
    summary = [m.value for m in at.markdown if m.value.startswith("🏁")]
    assert summary == [f"🏁 **Chapter summary:** **2 of 4** checks right (2 wrong)"]
    missed = {q: p for q, p in links(at) if " (wrong): " in q}
    assert len(missed) == 2
    for n in (CHECKS[1], CHECKS[3]):
        label = next(q for q in missed if q.startswith(f"Step {T.answering_step(TOUR, n)} (wrong): "))
        assert ui_tour.md(TOUR.steps[n - 1].ask.question) in label
        assert missed[label] == {"tour": CHAPTER, "step": str(T.answering_step(TOUR, n)), "solo": "1",
                                 "prog": param(at, "prog")}
    assert any(q.startswith("Next chapter:") for q, _ in links(at))


def test_progress_survives_a_reload_through_the_link(played):
    at, _ = played
    prog = param(at, "prog")
    home = run_page(query={"prog": prog})        # a bookmark of any page of the app brings it back
    assert_clean(home)
    assert f"{len(TOUR)} steps · {len(CHECKS)} checks · done · 2/4 right" in [c.value for c in home.caption]
    assert param(home, "prog") == prog
    step = open_step(CHAPTER, CHECKS[1], query={"solo": "1", "prog": prog})     # a wrong answer stays wrong
    assert_clean(step)
    assert "**Not quite.**" in feedback(step) and "tour_check" not in [b.key for b in step.button]
    assert step.number_input(key=f"tour_guess_{CHAPTER}_{CHECKS[1]}").disabled


def test_two_sessions_never_see_each_others_progress(played):
    at, _ = played
    assert at.session_state[ui_tour.PROGRESS][CHAPTER].answers == "1212"
    other = open_step(CHAPTER, CHECKS[0], query={"solo": "1"})          # another visitor, same server process
    assert_clean(other)
    assert other.session_state[ui_tour.PROGRESS] == {CHAPTER: T.Progress(CHECKS[0], "")}
    assert "tour_check" in [b.key for b in other.button] and not feedback(other)
    home = run_page()
    assert param(home, "prog") is None
    assert not any("right" in c.value for c in home.caption if "checks ·" in c.value)


def test_the_home_page_lists_the_chapters_in_the_lessons_order():
    at = run_page()
    assert_clean(at)
    assert any(s.value == "🧭 Learn on your own" for s in at.subheader)
    tours, _ = ui_tour.all_tours()
    path = T.path(tours, ui_tour.pages())
    chapters = [(label, q) for label, q in links(at) if q.get("solo") == "1"]
    ready = [t for _, t in path if t is not None]
    assert [q["tour"] for _, q in chapters] == [t.id for t in ready]
    assert [label.split(".")[0] for label, _ in chapters] == [str(i) for i, (_, t) in enumerate(path, 1) if t]
    captions = [c.value for c in at.caption]
    for t in ready:
        assert f"{len(t)} steps · {len(T.check_steps(t))} checks · not started" in captions
    coming = [c for c, t in path if t is None]
    written = " ".join(m.value for m in at.markdown)
    for c in coming:
        assert f"{ui_tour.md(c.title)} · *coming*" in written
    if "multimodal" not in ui_tour.pages():
        assert "Multimodal · *coming*" in written


def test_a_check_in_a_teachers_tour_shows_the_question_and_reveals_the_live_answer_on_demand():
    n = CHECKS[1]
    at = open_step(CHAPTER, n)                                        # no solo: the class tour, as before
    assert_clean(at)
    ask = TOUR.steps[n - 1].ask
    assert any(m.value.startswith(f"❓ **Ask the class:** {ui_tour.md(ask.question)}") for m in at.markdown)
    assert not at.success and f"tour_guess_{CHAPTER}_{n}" not in [x.key for x in at.number_input]
    assert param(at, "prog") is None and at.session_state["present"] is True
    at.button(key="tour_reveal").click().run()
    live = C.compute(ask.compute, ask.kwargs, C.bundled_models)
    assert at.success[0].value.startswith(f"**{ui_tour.md(live.answer)}**")


def test_a_predicted_next_token_is_graded_against_the_model():
    tour = T.resolve(T.read(T.LESSONS / "generation.toml"), ui_tour.pages())
    n = T.check_steps(tour)[0]
    ask = tour.steps[n - 1].ask
    assert ask.compute == "next_token"
    live = C.compute(ask.compute, ask.kwargs, C.bundled_models)
    at = open_step("generation", n, query={"solo": "1"})
    radio = at.radio(key=f"tour_guess_generation_{n}")
    assert list(radio.options) == [ui_tour.md(o) for o in live.options]
    radio.set_value(live.answer).run()
    at.button(key="tour_check").click().run()
    assert_clean(at)
    assert "**Right.**" in feedback(at)
    assert any(ui_tour.md(live.evidence[0][0]) in m.value for m in at.markdown if "**Computed now**" in m.value)


@pytest.mark.parametrize("query, notice", [
    ({"prog": "<script>alert(1)</script>"}, "Ignored the link's `prog` value"),
    ({"prog": "x" * 5000}, "Ignored the link's `prog` value"),
    ({"tour": CHAPTER, "step": "1", "solo": "yes"}, "Ignored the link's `solo` value"),
])
def test_a_bad_progress_link_falls_back_with_a_notice(query, notice):
    at = run_page(query=query)
    assert_clean(at)
    assert notice in infos(at)
    assert param(at, "prog") is None


def test_the_last_chapter_ready_ends_with_a_way_back_to_the_path():
    tours, _ = ui_tour.all_tours()
    last = [t for _, t in T.path(tours, ui_tour.pages()) if t is not None][-1]
    at = open_step(last.id, len(last), query={"solo": "1"})
    assert_clean(at)
    assert any(m.value.startswith("🏁 **Chapter summary:**") for m in at.markdown)
    labels = [q for q, _ in links(at)]                  # no chapter after the last ready one: back to the path
    assert "Back to the learning path" in labels and not any(q.startswith("Next chapter") for q in labels)
