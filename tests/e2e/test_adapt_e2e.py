"""The Train & adapt page in a real browser: the lessons' numbers, and a fine-tune whose curve grows until Stop."""
import re
import time

from playwright.sync_api import expect

from tests.e2e.conftest import errors_on, shot


def visit(open_page, query: str = "", size=(1280, 800)):
    page = open_page("adapt", query=query, size=size)
    page.set_default_timeout(120_000)    # on a busy shared machine the browser itself answers slowly
    return page


def steps_shown(page) -> int:
    m = re.search(r"Step (\d+) of", page.locator('[data-testid="stMain"]').inner_text())
    return int(m.group(1)) if m else -1


def points_drawn(page) -> int:
    """Points of the first loss line, read from the plotly figure the browser drew."""
    return page.evaluate("""() => {
        const plots = [...document.querySelectorAll('.js-plotly-plot')];
        const p = plots.find(el => (el.layout && el.layout.title && el.layout.title.text || '').includes('Training loss'));
        const d = p && p._fullData;
        return d && d.length && d[0].x ? d[0].x.length : 0; }""")


GROWN = "() => { const p = [...document.querySelectorAll('.js-plotly-plot')].find(el => (el.layout && el.layout.title " \
        "&& el.layout.title.text || '').includes('Training loss')); const d = p && p._fullData; " \
        "return !!(d && d.length && d[0].x && d[0].x.length > N); }"


def test_scale_and_scorecard_show_the_lessons_numbers(open_page):
    page = visit(open_page)
    assert errors_on(page) == []
    main = page.locator('[data-testid="stMain"]')
    for value in ("20.0", "1.0x", "53.6x", "not a quality predictor"):
        expect(main).to_contain_text(value, timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box is not None and box["y"] < 800 * 0.6
    shot(page, "adapt-scale-1280x800")
    page = visit(open_page, "view=choose&scn=audit")
    expect(page.locator('[data-testid="stMain"]')).to_contain_text("picks hosted-deep at 84.40 points",
                                                                  timeout=120_000)
    assert errors_on(page) == []
    shot(page, "adapt-choose-1280x800")


def test_a_fine_tune_draws_its_curve_as_it_runs_and_stops(open_page):
    page = visit(open_page, "view=watch&steps=400")
    assert errors_on(page) == []
    page.get_by_role("button", name="▶ Start").click()
    expect(page.get_by_text(re.compile(r"Step \d+ of 400"))).to_be_visible(timeout=120_000)
    page.wait_for_function(GROWN.replace("N", "0"), timeout=120_000)           # the first points are drawn
    first = points_drawn(page)
    page.wait_for_function(GROWN.replace("N", str(first)), timeout=120_000)    # and more follow while we watch
    assert points_drawn(page) > first > 0
    page.get_by_role("button", name="■ Stop").click()
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("stopped", timeout=120_000)
    expect(main).to_contain_text("before (the bundled model)", timeout=120_000)
    stopped_at = steps_shown(page)
    assert 0 < stopped_at < 400
    time.sleep(3)
    assert steps_shown(page) == stopped_at                      # nothing trains after Stop
    assert errors_on(page) == []
    shot(page, "adapt-watch-1280x800")


def test_adapt_page_in_presenter_mode_at_projector_size(open_page):
    page = visit(open_page, "present=1&view=adapt", size=(1920, 1080))
    assert errors_on(page) == []
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box is not None and box["y"] < 1080 * 0.6
    shot(page, "adapt-present-1920x1080")
