"""A lesson tour in Chromium, driven the way a presentation clicker drives it: PageDown only.

The tour crosses pages (KV cache -> RoPE -> KV cache); at every step the counter, the page, the link
and the step's view are checked, and a 1920x1080 screenshot is saved (artifacts/screenshots/tour-*.png).
"""
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from explorer import tours as T
from explorer.ui import tour as ui_tour
from tests.e2e.conftest import SHOTS, errors_on, wait_idle

TOUR = "gqa-mqa"
BAR = ".st-key-tour_bar"


def ready_tour() -> T.Tour:
    return T.resolve(T.read(T.LESSONS / f"{TOUR}.toml"), ui_tour.pages())


def at_step(page, n: int, total: int) -> None:
    """Wait until the bar counts step n and the app has finished drawing it."""
    expect(page.locator(BAR)).to_contain_text(f"step {n} of {total}", timeout=180_000)
    wait_idle(page)


def test_a_whole_tour_with_page_down_only(open_page):
    tour = ready_tour()
    pages_seen = {s.page for s in tour.steps}
    assert len(pages_seen) > 1, "the e2e tour must cross pages"
    page = open_page("", query=f"tour={TOUR}&step=1", size=(1920, 1080))
    for n, step in enumerate(tour.steps, 1):
        at_step(page, n, len(tour))
        url = urlparse(page.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert url.path.rstrip("/").endswith("/" + step.page), (n, page.url)
        assert query.get("tour") == TOUR and query.get("step") == str(n), page.url
        for name, value in step.query.items():        # the step's view is in the link (a default is left out)
            assert query.get(name, value) == value, (n, name, page.url)
        main = page.locator('[data-testid="stMain"]')
        expect(main.locator("h1")).to_have_count(1)
        for text in step.shows:                       # and what the step promises is on the screen
            expect(main.get_by_text(text, exact=False).first).to_be_attached(timeout=60_000)
        assert not errors_on(page), (n, errors_on(page))
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"tour-{TOUR}-{n:02d}.png"))   # what the class sees
        if n < len(tour):
            page.keyboard.press("PageDown")
    page.keyboard.press("PageDown")                   # past the last step: nothing happens
    wait_idle(page)
    expect(page.locator(BAR)).to_contain_text(f"step {len(tour)} of {len(tour)}")


def test_keys_typed_in_a_text_box_stay_in_the_text_box(open_page):
    tour = ready_tour()
    n = next(i for i, s in enumerate(tour.steps, 1) if s.page == "rope" and s.query.get("view") == "model")
    page = open_page("", query=f"tour={TOUR}&step={n}", size=(1920, 1080))
    at_step(page, n, len(tour))
    box = page.locator('[data-testid="stMain"] textarea').first
    if not box.is_visible():   # a tour presents: the section's controls are folded into its "⚙️" expander
        page.locator('[data-testid="stMain"] [data-testid="stExpander"] summary').filter(has_text="⚙️").first.click()
    box.click()
    for key in ("PageDown", "ArrowRight", "ArrowLeft", "PageUp"):
        page.keyboard.press(key)
    page.wait_for_timeout(2500)
    expect(page.locator(BAR)).to_contain_text(f"step {n} of {len(tour)}")
    page.locator(BAR).get_by_text(tour.steps[n - 1].caption[:30]).click()   # focus leaves the box
    page.keyboard.press("ArrowRight")                                        # a clicker's other key
    at_step(page, n + 1, len(tour))
    page.keyboard.press("PageUp")
    at_step(page, n, len(tour))


def test_home_lists_the_tours_and_one_click_starts_one(open_page):
    tour = ready_tour()
    page = open_page("", size=(1920, 1080))
    card = page.get_by_role("link", name=tour.title, exact=True)     # the classroom card, not the chapter
    expect(card).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"{len(tour)} steps ·", exact=False).first).to_be_visible()
    card.click()
    at_step(page, 1, len(tour))
    assert urlparse(page.url).path.rstrip("/").endswith("/" + tour.steps[0].page)
    assert "present=1" in page.url                      # a tour is for the projector
    assert not errors_on(page)
