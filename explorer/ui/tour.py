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

from explorer import tours as T
from explorer.ui import models as ui_models
from explorer.ui import presenter
from explorer.text import md
from explorer.ui.nav import PageInfo, existing
from explorer.ui.state import REGISTERED, notice, reset_controls

ACTIVE = "_tour_active"        # (tour id, step) this session is in; survives a link that lost it
OPENED = "_tour_opened"        # (tour id, step) whose view was last opened
REVEALED = "_tour_revealed"    # (tour id, step) whose answer is shown
PAGE = "_tour_page"            # link path of the page the tour bar was last drawn on
# Pages that are planned (DESIGN.md) but may not be built yet: a step on one is skipped until it lands.
PLANNED = ("families", "pipeline")
# App-shell link parameters that a step keeps (presenter mode, the sidebar's model choices).
APP_PARAMS = (presenter.KEY, *ui_models.URL_NAMES.values())

_CSS = """
<style>
.st-key-tour_keys { display: none !important; }
.st-key-tour_bar { background: #f3f6fb; margin-top: 0.75rem; }
.st-key-tour_bar [data-testid="stMarkdownContainer"] p { margin-bottom: 0.2rem; }
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


def link(tour: T.Tour, n: int = 1) -> dict[str, str]:
    return {T.TOUR_PARAM: tour.id, T.STEP_PARAM: str(n)}


# ============================================================================ the bar
def bar(nav) -> None:
    """Run the tour of the link (or of this session) on top of the current page. `nav`: st.navigation's page."""
    ss, qp = st.session_state, st.query_params
    tour_id = qp.get(T.TOUR_PARAM)
    if tour_id is None:
        if ss.get(ACTIVE) is None:
            return
        tour_id, n = ss[ACTIVE]         # the link lost the tour (the sidebar's navigation): keep it going
        qp[T.TOUR_PARAM], qp[T.STEP_PARAM] = tour_id, str(n)
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
    _draw(tour, n)


def _open(tour: T.Tour, n: int, nav) -> None:
    """Open step n exactly: forget every page's controls, put the step's parameters in the link, go to its page."""
    ss, qp = st.session_state, st.query_params
    step = tour.steps[n - 1]
    first = (ss.get(ACTIVE) or (None, 0))[0] != tour.id
    reset_controls(step.query)
    app_names = set(APP_PARAMS) | {name for key, name in ss.get(REGISTERED, {}).items() if key == name}
    params = {k: qp[k] for k in qp.keys() if k in app_names and k not in step.query}
    if first and presenter.KEY not in qp:   # a tour is for the projector, unless the link says present=0
        ss[presenter.KEY] = True
        params[presenter.KEY] = "1"
    params.update(link(tour, n))
    params.update(step.query)
    ss[ACTIVE] = ss[OPENED] = (tour.id, n)
    ss.pop(REVEALED, None)
    if step.page != nav.url_path:
        st.switch_page(pages()[step.page].path, query_params=params)
    qp.from_dict(params)


def _go(n: int) -> None:
    st.query_params[T.STEP_PARAM] = str(n)


def _leave() -> None:
    for k in (T.TOUR_PARAM, T.STEP_PARAM):
        if k in st.query_params:
            del st.query_params[k]
    for k in (ACTIVE, OPENED, REVEALED):
        st.session_state.pop(k, None)


def _reveal(where: tuple[str, int]) -> None:
    st.session_state[REVEALED] = where


def _draw(tour: T.Tour, n: int) -> None:
    """The bar: two lines (title and counter, the caption) beside the buttons; a question line when the step asks."""
    step, N = tour.steps[n - 1], len(tour)
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
            _ask(tour, n, step.ask)
    with st.container(key="tour_keys"):          # the arrow keys, on buttons nobody needs to see
        st.button("next", key="tour_next_arrow", shortcut="Right", disabled=n == N, on_click=_go, args=(n + 1,))
        st.button("back", key="tour_back_arrow", shortcut="Left", disabled=n == 1, on_click=_go, args=(n - 1,))
    with st.sidebar:
        if step.note or tour.skipped:
            with st.expander("📝 For the teacher", expanded=False):
                if step.note:
                    st.markdown(md(step.note))
                skip = tour.skip_note(page_titles())
                if skip:
                    st.caption(md(skip))


LETTERS = "ABCDEF"


def _ask(tour: T.Tour, n: int, check: T.Check) -> None:
    """An "ask the class" line: the question and its choices; the answer (and why) revealed on demand."""
    revealed = st.session_state.get(REVEALED) == (tour.id, n)
    c = st.columns([8.3, 1.5], vertical_alignment="center")
    choices = " · ".join(f"**{LETTERS[i]}.** {md(x)}" for i, x in enumerate(check.choices))
    c[0].markdown(f"❓ **Ask the class:** {md(check.question)}  \n{choices}")
    if revealed:
        why = f" — {md(check.why)}" if check.why else ""
        st.success(f"**{LETTERS[check.answer_index]}. {md(check.answer)}**{why}", icon="✅")
    else:
        c[1].button("Reveal", key="tour_reveal", icon="💡", on_click=_reveal, args=((tour.id, n),),
                    width="stretch", help="Show the answer and why")


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
