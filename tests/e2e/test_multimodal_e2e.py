"""The multimodal page in a real browser: the image cut into patches on the first screen, the caption's attention
drawn on the image from a deep link, the scene builder, presenter mode at projector size."""
from playwright.sync_api import expect

from tests.e2e.conftest import errors_on, shot


def visit(open_page, query: str = "", size=(1280, 800)):
    page = open_page("multimodal", query=query, size=size)
    page.set_default_timeout(120_000)    # on a busy shared machine the browser itself answers slowly
    return page


def test_default_view_shows_the_patch_grid_on_the_first_screen(open_page):
    page = visit(open_page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("64 patches → 64 image tokens", timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    assert errors_on(page) == []
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box is not None and box["y"] < 800 * 0.6
    shot(page, "multimodal-tokens-1280x800")


def test_caption_attention_from_a_deep_link(open_page):
    page = visit(open_page, "view=caption&tok=1&layer=0&head=1")
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Caption:", timeout=120_000)
    expect(main).to_contain_text("layer 0, head 1", timeout=120_000)
    expect(main).to_contain_text("Attention on the image", timeout=120_000)
    assert errors_on(page) == []
    assert page.locator(".js-plotly-plot").count() == 2
    shot(page, "multimodal-caption-1280x800")


def test_scene_builder_choices_go_into_the_link(open_page):
    page = visit(open_page, "img=build&c1=green&s1=triangle")
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Scene builder", timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    assert errors_on(page) == []
    assert "c1=green" in page.url and "img=build" in page.url


def test_presenter_mode_at_projector_size_keeps_the_figure_on_the_first_screen(open_page):
    page = visit(open_page, "present=1&view=caption", size=(1920, 1080))
    assert errors_on(page) == []
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    assert page.get_by_text("Settings").count() >= 1      # the controls are tucked into an expander
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box is not None and box["y"] < 1080 * 0.6
    shot(page, "multimodal-present-1920x1080")
