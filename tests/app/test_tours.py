"""Lesson tours in the app: every shipped step renders as promised; the bar, its buttons, links and presenter mode."""

import pytest
from streamlit.testing.v1 import AppTest

from explorer import tours as T
from explorer.ui import tour as ui_tour
from explorer.ui.tour_check import open_step, shown_page, step_problems, texts
from tests.app.conftest import ROOT, assert_clean, param, run_page

READY = [T.resolve(T.read(p), ui_tour.pages()) for p in T.tour_files()]
STEPS = [(t, n) for t in READY for n in range(1, len(t) + 1)]


@pytest.mark.parametrize("tour, n", STEPS, ids=[f"{t.id}-{n}" for t, n in STEPS])
def test_every_step_of_every_shipped_tour_renders_and_shows_what_it_promises(tour, n):
    """No exception or error box, the step's page, every link parameter read and accepted, every `shows` text."""
    at = open_step(tour.id, n)
    assert step_problems(at, tour.steps[n - 1]) == []
    assert f"step **{n} of {len(tour)}**" in bar_text(at)


def bar_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown if m.value.startswith("🎓"))


def step_of(at: AppTest) -> str | None:
    return param(at, T.STEP_PARAM)


def test_the_bar_shows_title_counter_caption_and_clicker_buttons():
    at = open_step("gqa-mqa", 1)
    tour = T.read(T.LESSONS / "gqa-mqa.toml")
    assert bar_text(at) == f"🎓 **{ui_tour.md(tour.title)}** · step **1 of {len(tour)}** · " \
                           f"{ui_tour.md(tour.steps[0].title)}  \n{ui_tour.md(tour.steps[0].caption)}"
    shortcuts = {b.key: b.proto.shortcut for b in at.button if b.key and b.key.startswith("tour_")}
    assert shortcuts == {"tour_back": "pageup", "tour_next": "pagedown", "tour_leave": "",
                         "tour_next_arrow": "right", "tour_back_arrow": "left", "tour_reveal": ""}
    assert at.button(key="tour_back").disabled and not at.button(key="tour_next").disabled


def test_next_crosses_pages_and_back_returns_to_the_exact_view():
    tour = T.read(T.LESSONS / "gqa-mqa.toml")
    rope_step = next(i for i, s in enumerate(tour.steps, 1) if s.page == "rope")
    at = open_step("gqa-mqa", rope_step - 1)
    assert shown_page(at) == "kv-cache"
    at.button(key="tour_next").click().run()
    assert_clean(at)
    assert shown_page(at) == "rope" and step_of(at) == str(rope_step)
    assert param(at, "view") == "model"
    assert f"step **{rope_step} of {len(tour)}**" in bar_text(at)
    at.button(key="tour_back").click().run()
    assert_clean(at)
    assert shown_page(at) == "kv-cache" and step_of(at) == str(rope_step - 1)


def test_a_step_opens_its_exact_view_whatever_the_class_changed_before():
    at = open_step("gqa-mqa", 2)                               # sharing, Llama-3-8B's 8 KV heads
    assert at.session_state["kv_kv"] == 8
    at.select_slider(key="kv_kv").set_value(2).run()           # the teacher plays with the slider
    assert at.session_state["kv_kv"] == 2
    at.button(key="tour_next").click().run()                   # step 3: kv = 1
    assert at.session_state["kv_kv"] == 1 and param(at, "kv") == "1"
    at.button(key="tour_back").click().run()                   # back to step 2: the step's 8, not the 2
    assert_clean(at)
    assert at.session_state["kv_kv"] == 8 and "kv" not in at.query_params
    assert "GQA: 8 KV heads, each read by 4 query heads" in "\n".join(texts(at))


def test_the_arrow_buttons_walk_like_next_and_back():
    at = open_step("rope", 1)
    at.button(key="tour_next_arrow").click().run()
    assert step_of(at) == "2" and at.session_state["rope_m"] == 14
    at.button(key="tour_back_arrow").click().run()
    assert step_of(at) == "1" and at.session_state["rope_m"] == 4


def test_a_tour_turns_presenter_mode_on_unless_the_link_turns_it_off():
    at = open_step("rope", 1)
    assert at.session_state["present"] is True and param(at, "present") == "1"
    at.button(key="tour_next").click().run()
    assert at.session_state["present"] is True
    off = open_step("rope", 1, query={"present": "0"})
    assert_clean(off)
    assert off.session_state["present"] is False


def test_the_teacher_turning_presenter_mode_off_stays_off_for_the_next_steps():
    at = open_step("rope", 1)
    at.toggle(key="present").set_value(False).run()
    at.button(key="tour_next").click().run()
    assert at.session_state["present"] is False


def test_leave_tour_keeps_the_view_and_drops_the_bar():
    at = open_step("rope", 3)
    at.button(key="tour_leave").click().run()
    assert_clean(at)
    assert not bar_text(at) and T.TOUR_PARAM not in at.query_params and T.STEP_PARAM not in at.query_params
    assert shown_page(at) == "rope" and at.session_state["rope_n"] == 2


def test_ask_the_class_reveals_the_answer_on_demand_and_hides_it_on_the_next_step():
    tour = T.read(T.LESSONS / "rope.toml")
    ask = tour.steps[0].ask
    at = open_step("rope", 1)
    assert not at.success
    assert any(ui_tour.md(ask.question) in m.value for m in at.markdown)
    at.button(key="tour_reveal").click().run()
    letter = ui_tour.LETTERS[ask.answer_index]
    assert [s.value for s in at.success] == [f"**{letter}. {ui_tour.md(ask.answer)}** — {ui_tour.md(ask.why)}"]
    at.button(key="tour_next").click().run()
    at.button(key="tour_back").click().run()
    assert not at.success


@pytest.mark.parametrize("query, notice", [
    ({"tour": "no-such-tour", "step": "1"}, "Ignored the link's `tour` value"),
    ({"tour": "<script>alert(1)</script>", "step": "2"}, "Ignored the link's `tour` value"),
    ({"tour": "rope", "step": "99"}, "Ignored the link's `step` value"),
    ({"tour": "rope", "step": "abc"}, "Ignored the link's `step` value"),
])
def test_a_bad_tour_link_falls_back_with_a_notice(query, notice):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert_clean(at)
    assert any(i.value.startswith(notice) for i in at.info), [i.value for i in at.info]
    if query["tour"] == "rope":
        assert step_of(at) == "1" and "step **1 of" in bar_text(at)
    else:
        assert not bar_text(at) and T.TOUR_PARAM not in at.query_params


def test_home_lists_every_tour_with_its_length():
    at = run_page()
    assert_clean(at)
    assert any(s.value == "🎓 Tours for the classroom" for s in at.subheader)
    written = "\n".join(texts(at))
    for t in READY:
        if t.runnable:
            assert f"{len(t)} steps · " in written
        else:
            assert "Coming when its page" in written


@pytest.fixture
def lessons(tmp_path, monkeypatch):
    """A lessons folder of the test's own, and a planned page that is never built."""
    monkeypatch.setattr(T, "LESSONS", tmp_path)
    monkeypatch.setattr(ui_tour, "PLANNED", (*ui_tour.PLANNED, "someday"))
    return tmp_path


HOSTILE = '''
title = "<b>bold</b> **tour** [x](javascript:alert(1))"
audience = "<img src=x onerror=alert(1)>"

[[steps]]
page = "rope"
params = { view = "2d" }
caption = "<script>alert(1)</script> *look* `here` 🎓 مرحبا 中文"
note = "<b>note</b>"

[steps.ask]
question = "<i>q</i>?"
choices = ["<b>a</b>", "**b**"]
answer = "**b**"

[[steps]]
page = "someday"
caption = "A page that is planned but not built."

[[steps]]
page = "rope"
params = { view = "full" }
caption = "Second step."
'''


def test_tour_text_from_a_file_is_shown_as_typed_never_as_markup(lessons):
    (lessons / "hostile.toml").write_text(HOSTILE)
    at = open_step("hostile", 1)
    assert_clean(at)
    shown = "\n".join(m.value for m in at.markdown if "<style>" not in m.value)
    assert "<script>" not in shown and "<b>" not in shown
    assert r"\<script\>alert\(1\)\</script\> \*look\* \`here\` 🎓 مرحبا 中文" in shown
    at.button(key="tour_reveal").click().run()
    assert r"\*\*b\*\*" in at.success[0].value


def test_a_step_on_a_page_not_built_is_skipped_with_a_note_for_the_teacher(lessons):
    (lessons / "hostile.toml").write_text(HOSTILE)
    at = open_step("hostile", 2)
    assert_clean(at)
    assert "step **2 of 2**" in bar_text(at) and at.session_state["rope_view"] == "full"
    notes = [c.value for c in at.sidebar.caption]
    assert ui_tour.md("1 step of this tour waits for a page not built yet (Someday) and is left out.") in notes
    home = run_page()
    assert any("1 step of this tour waits" in c.value for c in home.caption)


def test_a_broken_tour_file_is_named_on_the_home_page_and_never_breaks_it(lessons):
    (lessons / "broken.toml").write_text('title = "x"\n[[steps]]\npage = "nowhere"\ncaption = "c"\n')
    (lessons / "bad-toml.toml").write_text('title = "x\n')
    at = run_page()
    assert_clean(at)
    warned = "\n".join(w.value for w in at.warning)
    assert "broken.toml needs fixing: step 1: no page 'nowhere'" in warned.replace("\\", "")
    assert "bad-toml.toml needs fixing: not valid TOML" in warned.replace("\\", "")


def test_the_tour_bar_hook_is_one_call_in_app_py():
    source = (ROOT / "app.py").read_text()
    assert source.count("tour.bar(nav)") == 1
    assert source.index("tour.bar(nav)") < source.index("url = UrlState()")   # before the presenter toggle


CHECKED = '''
title = "Checked"

[[steps]]
page = "kv-cache"
params = { view = "sharing", kv = 1 }
caption = "Fine."
shows = ["MQA: 1 KV head shared by all 32 query heads"]

[[steps]]
page = "kv-cache"
params = { view = "sharing", zzz = 3 }
caption = "A parameter the page does not read."

[[steps]]
page = "kv-cache"
params = { view = "growth", kv = 3 }
caption = "A value the page rejects (3 does not divide 32 query heads)."

[[steps]]
page = "kv-cache"
params = { view = "growth" }
caption = "A promise the view does not keep."
shows = ["7.00 GiB"]

[[steps]]
page = "someday"
caption = "Not built yet: skipped."
'''


def test_the_checker_finds_unread_parameters_rejected_values_and_broken_promises(tmp_path, monkeypatch):
    """`python -m explorer.tours check` on a draft outside assets/lessons: one line per step, problems named."""
    import io
    from explorer.ui import tour_check
    monkeypatch.setattr(ui_tour, "PLANNED", (*ui_tour.PLANNED, "someday"))
    draft = tmp_path / "draft.toml"
    draft.write_text(CHECKED)
    out = io.StringIO()
    assert tour_check.check_file(draft, out=out) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{draft}: 'Checked', 5 steps"
    assert "1 step of this tour waits for a page not built yet" in lines[1]
    assert lines[2] == "  step 1 (kv-cache): ok"
    assert lines[3] == "  step 2 (kv-cache): page 'kv-cache' does not read the link parameter `zzz` in this view"
    assert lines[4].startswith("  step 3 (kv-cache): notice: Ignored the link's `kv` value")
    assert lines[5] == "  step 4 (kv-cache): does not show '7.00 GiB'"
    assert T.LESSONS == ROOT / "assets" / "lessons"            # the app reads the shipped tours again


def test_the_checker_reports_schema_and_page_problems_without_opening_the_app(tmp_path):
    import io
    from explorer.ui import tour_check
    draft = tmp_path / "draft.toml"
    draft.write_text('title = "x"\n[[steps]]\npage = "nowhere"\ncaption = "c"\n[[steps]]\npage = "rope"\n')
    out = io.StringIO()
    assert tour_check.check_file(draft, out=out) == 1
    assert out.getvalue() == f"{draft}: step 2: `caption` is missing\n"
    draft.write_text('title = "x"\n[[steps]]\npage = "nowhere"\ncaption = "c"\n')
    out = io.StringIO()
    assert tour_check.check_file(draft, out=out) == 1
    assert out.getvalue().startswith(f"{draft}: step 1: no page 'nowhere' (pages: ")


def test_the_readme_example_tour_passes_the_check_command(tmp_path):
    """The README's example, saved as a file and checked with the README's command (exit 0); a broken copy
    exits 1 and names the problem."""
    import os
    import re
    import subprocess
    import sys
    example = re.search(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    (tmp_path / "my-tour.toml").write_text(example)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "explorer.tours", "check", str(tmp_path / "my-tour.toml")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-2:] == ["  step 1 (kv-cache): ok", "every tour checks out"]
    (tmp_path / "my-tour.toml").write_text(example.replace('"1.00 GiB"', '"2.00 GiB"'))
    run = subprocess.run([sys.executable, "-m", "explorer.tours", "check", str(tmp_path / "my-tour.toml")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1
    assert "step 1 (kv-cache): does not show '2.00 GiB'" in run.stdout
    assert "Traceback" not in run.stderr
