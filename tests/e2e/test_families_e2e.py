"""The families page in a real browser: masks beside attention on the first screen, the encoder-decoder's
answer and cross-attention, the few-shot verdict, presenter mode at projector size."""
from playwright.sync_api import expect

from tests.e2e.conftest import errors_on, shot


def visit(open_page, query: str = "", size=(1280, 800)):
    open_page("")            # a first visit straight to a deep link runs without the app shell: settle it first
    page = open_page("families", query=query, size=size)
    page.set_default_timeout(120_000)    # a busy shared machine draws late
    return page


def test_masks_beside_attention_on_the_first_screen(open_page):
    page = visit(open_page)
    assert errors_on(page) == []
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Mask: decoder self-attention", timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box and box["y"] < 800, "the main figure starts on the first screen at 1280x800"
    # the lesson's rows, computed by the engine and written in the expander
    expect(main).to_contain_text("[1, 1, 1, 0]")
    expect(main).to_contain_text("0.0000%")
    assert shot(page, "families-masks-1280x800").stat().st_size > 10_000


def test_encoder_decoder_answer_and_cross_attention_from_a_link(open_page):
    page = visit(open_page, "view=translator&s2s=lamp&layer=1&head=mean")
    assert errors_on(page) == []
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("lamp →", timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=120_000)
    expect(main).to_contain_text("Cross-attention, layer 1, mean of heads")
    shot(page, "families-translator-1280x800")


def test_few_shot_verdict_and_presenter_mode_at_projector_size(open_page):
    page = visit(open_page, "view=fewshot&present=1", size=(1920, 1080))
    assert errors_on(page) == []
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("chance", timeout=180_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    size = page.evaluate("""() => parseFloat(getComputedStyle(
        document.querySelector('[data-testid="stMain"] h1')).fontSize)""")
    assert size >= 40
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box and box["y"] < 1080, "the accuracy chart starts on the first screen"
    shot(page, "families-fewshot-present-1920x1080")
