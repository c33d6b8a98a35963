"""The Pipeline page in a real browser: Next/Back through every stage (in the URL), a deep link, presenter mode."""
import re

from playwright.sync_api import expect

from tests.e2e.conftest import errors_on, shot, wait_idle

STAGES = ["tokens", "embed", "blocks", "output", "append", "shapes"]
# something each stage draws that no other stage does
MARK = {"tokens": "Characters per token", "embed": "numbers each", "blocks": "logit lens",
        "output": "Probabilities sum to", "append": "computed now", "shapes": "the lessons' toy decoder"}


def visit(open_page, query: str = "", size=(1280, 800)):
    page = open_page("pipeline", query=query, size=size)
    page.set_default_timeout(120_000)    # on a busy shared machine the browser itself answers slowly
    return page


def main(page):
    return page.locator('[data-testid="stMain"]')


def test_next_and_back_walk_every_stage_and_keep_it_in_the_url(open_page):
    page = visit(open_page)
    assert errors_on(page) == []
    expect(main(page)).to_contain_text(MARK["tokens"], timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)      # the diagram of the whole path
    shot(page, "pipeline-1280x800")
    for stage in STAGES[1:]:
        page.get_by_role("button", name="Next ▸").click()
        page.wait_for_url(re.compile(rf"view={stage}\b"), timeout=120_000)
        wait_idle(page)
        expect(main(page)).to_contain_text(MARK[stage], timeout=120_000)
        assert errors_on(page) == [], stage
    expect(page.get_by_role("button", name="Next ▸")).to_be_disabled()
    page.get_by_role("button", name="◂ Back").click()       # (every Back step is walked in the AppTest)
    page.wait_for_url(re.compile(r"view=append\b"), timeout=120_000)
    wait_idle(page)
    expect(main(page)).to_contain_text(MARK["append"], timeout=120_000)
    assert errors_on(page) == []


def test_a_deep_link_opens_the_output_stage_at_its_temperature(open_page):
    page = visit(open_page, "view=output&temp=0.5&k=5&model=rope-decoder")
    assert errors_on(page) == []
    expect(main(page)).to_contain_text("at T = 0.5", timeout=120_000)
    expect(main(page)).to_contain_text("1.000000", timeout=120_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=120_000)
    shot(page, "pipeline-output-1280x800")


def test_pipeline_in_presenter_mode_at_projector_size(open_page):
    page = visit(open_page, "present=1&view=blocks", size=(1920, 1080))
    assert errors_on(page) == []
    assert page.get_by_text("Model and prompt").count() == 1          # controls tucked into an expander
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=120_000)
    plots = page.locator(".js-plotly-plot")
    diagram, figure = plots.nth(0).bounding_box(), plots.nth(1).bounding_box()
    assert diagram is not None and figure is not None
    assert diagram["y"] < 1080 * 0.35 and figure["y"] < 1080 * 0.6   # the path and the stage's figure on screen 1
    shot(page, "pipeline-present-1920x1080")
