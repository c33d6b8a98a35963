"""The tour bar: a lesson tour running on top of every page, driven by a presentation clicker.

app.py calls `bar(nav)` once per run, after `st.navigation` and before the sidebar's controls:

- the tour and step live in the link (`?tour=gqa-mqa&step=3`), so a teacher can bookmark step 3;
- a step is opened exactly: every page's controls are forgotten, the step's link parameters are put in
  the link, and the step's page is opened (Next may cross pages); the page then reads its view from
  the link as on any visit;
- Back / Next answer to PageUp / PageDown (what presentation clickers send) and to the left / right
  arrows; Streamlit ignores these shortcuts while a text box has the focus, so typing is never stolen;
- a tour turns presenter mode on, unless the link says `present=0` or the teacher turns it off;
- a step whose page is not built yet is skipped, with a note for the teacher (never an error).

The home page lists the tours with `listing()`.
"""
from __future__ import annotations

import streamlit as st

from explorer import checks as C
from explorer import tours as T
from explorer.ui import models as ui_models
from explorer.ui import presenter
from explorer.text import md
from explorer.ui.nav import HOME, PageInfo, existing
from explorer.ui.state import REGISTERED, notice, reset_controls

ACTIVE = "_tour_active"        # (tour id, step) this session is in; survives a link that lost it
OPENED = "_tour_opened"        # (tour id, step) whose view was last opened
REVEALED = "_tour_revealed"    # (tour id, step) whose answer is shown
PAGE = "_tour_page"            # link path of the page the tour bar was last drawn on
SOLO = "_tour_solo"            # this session plays the active tour solo (a learner: checks are graded)
PROGRESS = "_tour_progress"    # {tour id: tours.Progress} of this session's learner (mirrored in the link)
PROGRESS_LINK = "_tour_prog_link"   # the link's `prog` text last read or written
GUESSES = "_tour_guesses"      # {(tour id, step): Guess} committed in this session
LIVE = "_tour_live"            # {(compute, args, model): checks.Live} computed in this session (a few kept)
KEEP_LIVE = 16
# Pages that are planned (DESIGN.md) but may not be built yet: a step on one is skipped until it lands.
PLANNED = ("families", "pipeline", "multimodal")
# App-shell link parameters that a step keeps (presenter mode, the sidebar's model choices).
APP_PARAMS = (presenter.KEY, *ui_models.URL_NAMES.values())

_CSS = """
<style>
.st-key-tour_keys { display: none !important; }
.st-key-tour_bar { background: #f3f6fb; margin-top: 0.75rem; }
.st-key-tour_bar [data-testid="stMarkdownContainer"] p { margin-bottom: 0.2rem; }
.st-key-tour_bar button[kind="primary"]:not(:disabled) kbd { color: #ffffff !important; opacity: 1 !important; }
</style>
"""


def pages() -> dict[str, PageInfo]:
    """Built pages by link path."""
    return {p.url_path: p for p in existing()}


def known_pages() -> set[str]:
    """Link paths a step may name: the built pages, every page listed in nav, and the planned ones."""
    from explorer.ui.nav import PAGES
    return {p.url_path for p in PAGES} | set(PLANNED)


def page_titles() -> dict[str, str]:
    from explorer.ui.nav import PAGES
    return {**{p: p.capitalize() for p in PLANNED}, **{p.url_path: p.title for p in PAGES}}


def all_tours() -> tuple[list[T.Tour], list[T.TourError]]:
    """Every tour file, read afresh (a teacher's edit shows on the next click), steps resolved against the
    built pages; and the files that do not follow the schema."""
    tours, broken = T.load_all(pages())
    known = known_pages()
    ok = []
    for t in tours:
        wrong = T.check_pages(t, known) + [f"step {s.number}: no page {s.page!r}" for s in t.skipped
                                           if s.page not in known]
        if wrong:
            broken.append(T.TourError(t.source, wrong))
        else:
            ok.append(t)
    return ok, broken


def link(tour: T.Tour, n: int = 1, solo: bool = False) -> dict[str, str]:
    """The link parameters of step n (solo: played by a learner alone, with the learner's progress)."""
    if not solo:
        return {T.TOUR_PARAM: tour.id, T.STEP_PARAM: str(n)}
    prog = T.encode_progress(st.session_state.get(PROGRESS, {}))
    return {T.TOUR_PARAM: tour.id, T.STEP_PARAM: str(n), T.SOLO_PARAM: "1",
            **({T.PROGRESS_PARAM: prog} if prog else {})}


# ============================================================================ the learner's progress
def progress() -> dict[str, T.Progress]:
    """This session's progress, read from the link when the link brings some (a bookmark), and written back
    into the link when it lost it (the sidebar's navigation). Only the visitor's own session holds it."""
    ss, qp = st.session_state, st.query_params
    raw = qp.get(T.PROGRESS_PARAM)
    if raw is not None and raw != ss.get(PROGRESS_LINK):
        got = T.decode_progress(raw)
        if got is None:
            notice("Ignored the link's `prog` value (not progress this app wrote); "
                   + ("your progress in this session is kept." if ss.get(PROGRESS) else "starting afresh."))
        else:
            ss[PROGRESS] = got
    mine = ss.setdefault(PROGRESS, {})
    text = T.encode_progress(mine)
    if text:
        if qp.get(T.PROGRESS_PARAM) != text:
            qp[T.PROGRESS_PARAM] = text
    elif T.PROGRESS_PARAM in qp:
        del qp[T.PROGRESS_PARAM]
    ss[PROGRESS_LINK] = text if text else None
    return dict(mine)


def _save(tour_id: str, p: T.Progress) -> None:
    ss = st.session_state
    mine = dict(ss.get(PROGRESS, {}))
    if mine.get(tour_id) == p:
        return
    mine[tour_id] = p
    ss[PROGRESS] = mine
    text = T.encode_progress(mine)
    st.query_params[T.PROGRESS_PARAM] = text
    ss[PROGRESS_LINK] = text


# ============================================================================ the bar
def bar(nav) -> None:
    """Run the tour of the link (or of this session) on top of the current page. `nav`: st.navigation's page."""
    ss, qp = st.session_state, st.query_params
    progress()                          # the learner's progress: from the link, or back into it
    tour_id = qp.get(T.TOUR_PARAM)
    if tour_id is None:
        if ss.get(ACTIVE) is None:
            return
        tour_id, n = ss[ACTIVE]         # the link lost the tour (the sidebar's navigation): keep it going
        qp[T.TOUR_PARAM], qp[T.STEP_PARAM] = tour_id, str(n)
        if ss.get(SOLO):
            qp[T.SOLO_PARAM] = "1"
    solo = qp.get(T.SOLO_PARAM)
    if solo not in (None, "0", "1"):
        notice("Ignored the link's `solo` value (1 plays the tour on your own, with graded checks).")
        del qp[T.SOLO_PARAM]
    ss[SOLO] = solo == "1"
    tours, _ = all_tours()
    tour = next((t for t in tours if t.id == tour_id and t.runnable), None)
    if tour is None:
        notice("Ignored the link's `tour` value (there is no such tour); see the list of tours on the home page.")
        _leave()
        return
    n = T.step_number(qp.get(T.STEP_PARAM), len(tour))
    if n is None:
        notice(f"Ignored the link's `step` value (not a step of this tour: 1 to {len(tour)}); starting at step 1.")
        n = 1
    if ss.get(OPENED) != (tour.id, n):
        _open(tour, n, nav)             # may switch to the step's page: this run ends there
    ss[ACTIVE], ss[PAGE] = (tour.id, n), nav.url_path
    _draw(tour, n, ss[SOLO])


def _open(tour: T.Tour, n: int, nav) -> None:
    """Open step n exactly: forget every page's controls, put the step's parameters in the link, go to its page."""
    ss, qp = st.session_state, st.query_params
    step = tour.steps[n - 1]
    first = (ss.get(ACTIVE) or (None, 0))[0] != tour.id
    reset_controls(step.query)
    app_names = set(APP_PARAMS) | {name for key, name in ss.get(REGISTERED, {}).items() if key == name}
    params = {k: qp[k] for k in qp.keys() if k in app_names and k not in step.query}
    solo = bool(ss.get(SOLO))
    if first and presenter.KEY not in qp and not solo:   # a class tour is for the projector, unless present=0
        ss[presenter.KEY] = True
        params[presenter.KEY] = "1"
    params.update(link(tour, n, solo))
    params.update(step.query)
    ss[ACTIVE] = ss[OPENED] = (tour.id, n)
    ss.pop(REVEALED, None)
    if step.page != nav.url_path:
        st.switch_page(pages()[step.page].path, query_params=params)
    qp.from_dict(params)


def _go(n: int) -> None:
    st.query_params[T.STEP_PARAM] = str(n)


def _leave() -> None:
    for k in (T.TOUR_PARAM, T.STEP_PARAM, T.SOLO_PARAM):   # the learner's progress stays in the link
        if k in st.query_params:
            del st.query_params[k]
    for k in (ACTIVE, OPENED, REVEALED, SOLO):
        st.session_state.pop(k, None)


def _reveal(where: tuple[str, int]) -> None:
    st.session_state[REVEALED] = where


def _draw(tour: T.Tour, n: int, solo: bool = False) -> None:
    """The bar: two lines (title and counter, the caption) beside the buttons; a question line when the step asks.
    Solo (a learner alone): the check is graded, and the last step ends with the chapter's summary."""
    step, N = tour.steps[n - 1], len(tour)
    if solo:
        _save(tour.id, progress().get(tour.id, T.Progress()).with_seen(n))
    st.markdown(_CSS, unsafe_allow_html=True)     # our own static stylesheet
    with st.container(border=True, key="tour_bar"):
        c = st.columns([4.6, 1.8, 1.9, 1.5], vertical_alignment="center")   # room for the labels at 1280 px
        title = f" · {md(step.title)}" if step.title else ""
        c[0].markdown(f"🎓 **{md(tour.title)}** · step **{n} of {N}**{title}  \n{md(step.caption)}")
        c[1].button("← Back", key="tour_back", shortcut="PageUp", disabled=n == 1, on_click=_go,
                    args=(n - 1,), width="stretch", help="Previous step (PageUp or ←)")
        c[2].button("Next →", key="tour_next", shortcut="PageDown", disabled=n == N, on_click=_go,
                    args=(n + 1,), width="stretch", type="primary", help="Next step (PageDown or →)")
        c[3].button("Leave tour", key="tour_leave", on_click=_leave, width="stretch",
                    help="Stay on this view without the tour")
        if step.ask is not None:
            (_quiz if solo else _ask)(tour, n, step.ask)
        if solo and n == N:
            _summary(tour)
    if not solo:   # a learner's arrow keys stay with the choices of a check
        with st.container(key="tour_keys"):          # the arrow keys, on buttons nobody needs to see
            st.button("next", key="tour_next_arrow", shortcut="Right", disabled=n == N, on_click=_go, args=(n + 1,))
            st.button("back", key="tour_back_arrow", shortcut="Left", disabled=n == 1, on_click=_go, args=(n - 1,))
    with st.sidebar:
        if not solo and (step.note or tour.skipped):
            with st.expander("📝 For the teacher", expanded=False):
                if step.note:
                    st.markdown(md(step.note))
                skip = tour.skip_note(page_titles())
                if skip:
                    st.caption(md(skip))


LETTERS = "ABCDEF"


def _ask(tour: T.Tour, n: int, check: T.Check) -> None:
    """An "ask the class" line: the question and its choices; the answer (and why) revealed on demand. A predict
    check shows the choices the model offers now (or asks for a number) and reveals what it computes."""
    revealed = st.session_state.get(REVEALED) == (tour.id, n)
    c = st.columns([8.3, 1.5], vertical_alignment="center")
    live = None
    if check.live:
        live = _live(check)
        if live is None:           # could not be computed now: the question alone (the reason is shown)
            c[0].markdown(f"❓ **Ask the class:** {md(check.question)}")
            return
        choices = (" · ".join(f"**{LETTERS[i]}.** {md(x)}" for i, x in enumerate(live.options)) if live.options
                   else "Everyone writes down a guess, then reveal.")
    else:
        choices = " · ".join(f"**{LETTERS[i]}.** {md(x)}" for i, x in enumerate(check.choices))
    c[0].markdown(f"❓ **Ask the class:** {md(check.question)}  \n{choices}")
    if revealed and live is not None:
        letter = f"{LETTERS[live.options.index(live.answer)]}. " if live.options else ""
        why = f" — {md(check.why)}" if check.why else ""
        st.success(f"**{letter}{md(live.answer)}**{why}", icon="✅")
        _evidence(live)
    elif revealed:
        why = f" — {md(check.why)}" if check.why else ""
        st.success(f"**{LETTERS[check.answer_index]}. {md(check.answer)}**{why}", icon="✅")
    else:
        c[1].button("Reveal", key="tour_reveal", icon="💡", on_click=_reveal, args=((tour.id, n),),
                    width="stretch", help="Show the answer and why")


# ============================================================================ checks, live and graded
class _NoModel(Exception):
    pass


def _models(family: str):
    """The sidebar's model of a family, loaded (shared by all sessions); the loader shows why when it cannot."""
    lm = ui_models.get(ui_models.chosen(family), family)
    if lm is None:
        raise _NoModel(family)
    return lm


def _live(check: T.Check) -> C.Live | None:
    """What the check's computation gives now, from the sidebar's model (kept per session for reruns of the same
    model and arguments); None, with one sentence, when it cannot be computed."""
    family = C.family_of(check.compute, check.kwargs)
    model = ui_models.chosen(family) if family else ""
    key = (check.compute, check.args, model)
    kept: dict = st.session_state.setdefault(LIVE, {})
    if key in kept:
        return kept[key]
    try:
        live = C.compute(check.compute, check.kwargs, _models)
    except _NoModel:
        return None
    except (ValueError, KeyError, IndexError) as e:
        st.info(f"This check cannot be computed with the model chosen now ({md(e, 200)}).", icon="ℹ️")
        return None
    kept[key] = live
    while len(kept) > KEEP_LIVE:
        kept.pop(next(iter(kept)))
    return live


def _evidence(live: C.Live, guess: str | None = None) -> None:
    """The live evidence (beside the learner's guess, when there is one)."""
    rows = " · ".join(f"{md(k)} **{md(v)}**" for k, v in live.evidence)
    cols = st.columns([1, 3]) if guess is not None else [None, st.container()]
    if guess is not None:
        cols[0].markdown(f"**Your guess**  \n{md(guess)}")
    cols[1].markdown(f"**Computed now** ({md(live.source)})  \n{rows}")


def _mark_of(tour: T.Tour, n: int) -> str:
    i = T.check_steps(tour).index(n)
    return progress().get(tour.id, T.Progress()).answer(i)


def _commit(tour: T.Tour, n: int, key: str, check: T.Check) -> None:
    """Grade the learner's guess (once) and keep the mark in the progress (and the link)."""
    ss = st.session_state
    guess = ss.get(key)
    if guess is None:
        notice("Pick an answer first, then check it." if not check.live or check.choices
               else "Type your guess first, then check it.")
        return
    if check.live:
        live = _live(check)
        if live is None:
            return
        right, shown = live.grade(guess), (f"{guess:g} {live.unit}" if live.numeric else str(guess))
    else:
        live, right, shown = None, check.grade(guess), str(guess)
    ss.setdefault(GUESSES, {})[(tour.id, n)] = (shown, right, live)
    i = T.check_steps(tour).index(n)
    _save(tour.id, progress().get(tour.id, T.Progress()).with_answer(i, right))


def _quiz(tour: T.Tour, n: int, check: T.Check) -> None:
    """A learner's check: pick (or type) an answer, check it, then right or wrong with the answer and evidence."""
    mark = _mark_of(tour, n)
    done = mark != T.NOT_ANSWERED
    key = f"tour_guess_{tour.id}_{n}"
    live = _live(check) if check.live else None
    if check.live and live is None:
        st.markdown(f"❓ **Predict:** {md(check.question)}")
        return
    st.markdown(f"{'🔮 **Predict:**' if check.live else '❓ **Check yourself:**'} {md(check.question)}")
    label = md(check.question)            # the widget's name for screen readers; the line above shows it
    c = st.columns([7.6, 2.2], vertical_alignment="bottom")    # the answer, and its button beside it
    if live is not None and live.numeric:
        c[0].number_input(label, value=None, min_value=0.0, step=0.5, format="%.2f", key=key, disabled=done,
                          placeholder=f"your guess, in {live.unit}", label_visibility="collapsed")
    else:
        options = live.options if live is not None else check.choices
        c[0].radio(label, options, index=None, key=key, disabled=done, format_func=md, label_visibility="collapsed",
                   horizontal=sum(len(o) + 4 for o in options) <= 90)     # short choices on one line
    if not done:
        c[1].button("Check my answer" if not check.live else "Commit my guess", key="tour_check",
                    icon="✔️", on_click=_commit, args=(tour, n, key, check), width="stretch")
        return
    got = st.session_state.get(GUESSES, {}).get((tour.id, n))
    right = mark == T.RIGHT
    why = f" — {md(check.why)}" if check.why else ""
    answer = live.answer if live is not None else check.answer
    if right:
        st.success(f"**Right.** {md(answer)}{why}", icon="✅")
    else:
        st.warning(f"**Not quite.** The answer: **{md(answer)}**{why}", icon="❌")
    if live is not None:
        _evidence(live, got[0] if got else "(answered before this visit)")
    elif got:
        st.caption(f"Your answer: {md(got[0])}")


def _summary(tour: T.Tour) -> None:
    """The chapter's end: the score, each question missed with a link to the step that answers it, what is next."""
    p = progress().get(tour.id, T.Progress())
    sc = T.score(tour, p)
    with st.container(border=True, key="tour_summary"):
        if sc.total:
            open_ = sc.total - sc.answered
            rest = ", ".join(x for x in (f"{sc.wrong} wrong" if sc.wrong else "",
                                         f"{open_} not answered" if open_ else "") if x)
            st.markdown(f"🏁 **Chapter summary:** **{sc.right} of {sc.total}** checks right"
                        + (f" ({rest})" if rest else " — all of them!"))
        else:
            st.markdown("🏁 **Chapter summary:** this chapter has no checks.")
        for m in sc.missed:
            target = T.answering_step(tour, m)
            step = tour.steps[target - 1]
            state = "wrong" if p.answer(T.check_steps(tour).index(m)) == T.WRONG else "not answered"
            st.page_link(pages()[step.page].path, label=f"Step {target} ({state}): {md(tour.steps[m - 1].ask.question)}",
                         icon="↩️", query_params=link(tour, target, solo=True))
        nxt = _next_chapter(tour.id)
        if nxt is not None:
            st.page_link(pages()[nxt.steps[0].page].path, label=f"Next chapter: **{md(nxt.title)}**", icon="➡️",
                         query_params=link(nxt, 1, solo=True))
        else:
            st.page_link(HOME.path, label="Back to the learning path", icon="🧭")


def _next_chapter(tour_id: str) -> T.Tour | None:
    tours, _ = all_tours()
    chapters = [t for _, t in T.path(tours, pages())]
    ids = [t.id if t else None for t in chapters]
    if tour_id not in ids:
        return None
    return next((t for t in chapters[ids.index(tour_id) + 1:] if t is not None), None)


# ============================================================================ the home page's learning path
def learning_path() -> None:
    """The lessons' arc as chapters, each a tour played solo, with its length and this learner's progress."""
    mine = progress()
    tours, _ = all_tours()
    st.subheader("🧭 Learn on your own")
    presenter.explain("Ten chapters in the lessons' order. Each is a short tour through the app's pages with "
                      "checks: choice questions, and predictions you commit before the app computes the answer "
                      "with the model. Your progress lives in the page's link: bookmark it to come back. It is "
                      "kept nowhere else.", title="How does this work?")
    chapters = T.path(tours, pages())
    cols = st.columns(2)
    half = (len(chapters) + 1) // 2
    for i, (chapter, t) in enumerate(chapters):
        with cols[i // half]:
            if t is None:
                st.markdown(f"{i + 1}\\. {md(chapter.title)} · *coming*")
                continue
            p = mine.get(t.id, T.Progress())
            sc = T.score(t, p)
            start = min(max(p.seen, 1), len(t))
            state = ("not started" if not p.seen else "done" if p.seen >= len(t) else f"at step {p.seen}")
            checks = f" · {sc.right}/{sc.total} right" if p.seen and sc.total else ""
            st.page_link(pages()[t.steps[start - 1].page].path, label=f"{i + 1}. **{md(t.title)}**",
                         query_params=link(t, start, solo=True), help=f"{len(t)} steps, {sc.total} checks")
            st.caption(f"{len(t)} steps · {sc.total} checks · {state}{checks}")


# ============================================================================ the home page's list
def listing() -> None:
    """The Tours section of the home page: each tour with its length, started by one click."""
    tours, broken = all_tours()
    st.subheader("🎓 Tours for the classroom")
    presenter.explain("A tour walks a class through the app one view at a time. Next and Back answer to a "
                      "presentation clicker (PageDown / PageUp) and to the arrow keys; the tour and step are in "
                      "the link, so you can bookmark any step. Presenter mode turns on with a tour.")
    titles = page_titles()
    if tours:
        cols = st.columns(min(3, len(tours)))
        for i, t in enumerate(tours):
            with cols[i % len(cols)].container(border=True):
                if t.runnable:
                    st.page_link(pages()[t.steps[0].page].path, label=f"**{md(t.title)}**", icon="▶️",
                                 query_params=link(t))
                    where = ", ".join(dict.fromkeys(titles.get(s.page, s.page) for s in t.steps))
                    st.write(f"{len(t)} steps · {where}")
                else:
                    st.markdown(f"**{md(t.title)}**")
                    st.write("Coming when its page" + ("s land: " if len(t.waiting_for) > 1 else " lands: ")
                             + ", ".join(titles.get(p, p) for p in t.waiting_for))
                if t.audience:
                    st.caption(md(t.audience))
                skip = t.skip_note(titles) if t.runnable else None
                if skip:
                    st.caption(md(skip))
    for e in broken:
        st.warning(md(f"Tour file {e.source} needs fixing: " + "; ".join(e.problems)), icon="🛠️")
