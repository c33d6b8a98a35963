"""Self-study in Chromium: one chapter answered with the keyboard only (Tab, arrows, Space, Enter, PageDown), the
summary at its end, axe on the checks and the summary, and screenshots at 1280x800 and 1920x1080 with presenter
mode off and on (artifacts/screenshots/study-*.png)."""
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from explorer import checks as C
from explorer import tours as T
from explorer.ui import tour as ui_tour
from tests.e2e.a11y import serious_violations
from tests.e2e.conftest import SHOTS, errors_on, wait_idle

CHAPTER = "gqa-mqa"
BAR = ".st-key-tour_bar"
IN_BAR = """(kind) => { const a = document.activeElement;
    if (!a || !a.closest('.st-key-tour_bar')) return false;
    if (kind === 'radio') return a.matches('input[type=radio]');
    if (kind === 'number') return a.matches('input[type=number], input[inputmode=decimal], input');
    return a.matches('button') && /Check my answer|Commit my guess/.test(a.innerText); }"""


def tour() -> T.Tour:
    return T.resolve(T.read(T.LESSONS / f"{CHAPTER}.toml"), ui_tour.pages())


def at_step(page, n: int, total: int) -> None:
    expect(page.locator(BAR)).to_contain_text(f"step {n} of {total}", timeout=180_000)
    wait_idle(page)


def tab_to(page, kind: str, limit: int = 80) -> None:
    """Press Tab until the focus is on the tour bar's `kind` control (radio, number or the check button)."""
    for _ in range(limit):
        if page.evaluate(IN_BAR, kind):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached the check's {kind}")


def answer_with_keys(page, step: T.Step, right: bool) -> None:
    ask = step.ask
    if ask.live:
        live = C.compute(ask.compute, ask.kwargs, C.bundled_models)
        tab_to(page, "number")
        page.keyboard.type(f"{live.value if right else live.value * 4:g}")
    else:
        i = ask.answer_index if right else (ask.answer_index + 1) % len(ask.choices)
        tab_to(page, "radio")                 # the first choice has the focus; arrows move and select
        if i == 0:
            page.keyboard.press("Space")
        for _ in range(i):
            page.keyboard.press("ArrowDown")
    tab_to(page, "button")
    page.keyboard.press("Enter")
    expect(page.locator(BAR)).to_contain_text("Right." if right else "Not quite.", timeout=60_000)
    wait_idle(page)


def test_one_chapter_answered_with_the_keyboard_only(open_page):
    t = tour()
    checks = T.check_steps(t)
    page = open_page("", query=f"tour={CHAPTER}&step=1&solo=1", size=(1280, 800))
    marks = []
    for n, step in enumerate(t.steps, 1):
        at_step(page, n, len(t))
        assert not errors_on(page), (n, errors_on(page))
        if n in checks:
            right = checks.index(n) % 2 == 0
            answer_with_keys(page, step, right)
            marks.append(right)
            if n == checks[1]:       # a prediction: the guess beside the live evidence
                expect(page.locator(BAR)).to_contain_text("Your guess")
                expect(page.locator(BAR)).to_contain_text("Computed now")
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / "study-predict-1280.png"))
                assert serious_violations(page) == []
        if n < len(t):
            page.keyboard.press("PageDown")
    query = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
    assert T.decode_progress(query["prog"])[CHAPTER] == T.Progress(len(t), "1212"[:len(marks)])
    summary = page.locator(".st-key-tour_summary")
    expect(summary).to_contain_text(f"{marks.count(True)} of {len(checks)} checks right")
    expect(summary.get_by_role("link")).to_have_count(marks.count(False) + 1)      # the missed ones and what's next
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "study-summary-1280.png"))


def test_screenshots_of_a_check_and_the_path_at_two_sizes_presenter_on_and_off(open_page):
    t = tour()
    n = T.check_steps(t)[0]
    for size in ((1280, 800), (1920, 1080)):
        for present in ("0", "1"):
            page = open_page("", query=f"tour={CHAPTER}&step={n}&solo=1&present={present}", size=size)
            at_step(page, n, len(t))
            expect(page.locator(BAR).get_by_role("radiogroup")).to_be_visible()
            assert not errors_on(page)
            page.screenshot(path=str(SHOTS / f"study-check-{size[0]}-present{present}.png"))
            home = open_page("", query=f"present={present}&prog={CHAPTER}_3_12", size=size)
            expect(home.get_by_text("Learn on your own")).to_be_visible(timeout=60_000)
            expect(home.get_by_text("at step 3 · 1/", exact=False)).to_be_visible()
            expect(home.get_by_role("link", name=tour().title).first).to_be_visible()      # links drawn, not skeletons
            assert not errors_on(home)
            home.screenshot(path=str(SHOTS / f"study-path-{size[0]}-present{present}.png"))
