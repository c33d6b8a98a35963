"""Projector first, on every page (explorer/ui/nav.py: pages added later are covered too), at a laptop's and a
projector's size, presenter mode off and on:

- the page's main figure (the slot `Page.main()` marks with class `st-key-te-main`) is drawn on arrival and its
  top is within the top 60% of the first screen;
- every heatmap labels every token: the tick labels the browser drew are exactly the trace's tokens (no
  thinning), on each axis that shows labels;
- no two texts of a figure overlap (their rotated boxes, from the SVG);
- presenter mode: inputs, captions and every figure text are drawn at >= 16 px.

One server for the whole module; each case opens one browser page and runs every check on it.
"""
from __future__ import annotations

import pytest

from explorer.ui.nav import HOME, existing
from explorer.ui.page import MAIN_KEY
from tests.e2e.conftest import errors_on, shot, wait_idle

SIZES = [(1280, 800), (1920, 1080)]
MAIN = f".st-key-{MAIN_KEY}"
TOP_SHARE = 0.6
MIN_PRESENT_PX = 16

# What counts as drawn inside the main slot: a plotly figure, a metric, an iframe (bertviz), a table, an image,
# or a page link card (home).
DRAWN = (".js-plotly-plot .main-svg, [data-testid='stMetric'], iframe, [data-testid='stTable'], "
         "[data-testid='stDataFrame'], img, [data-testid='stPageLink']")

# Every plotly figure's texts as rotated boxes (corners in page pixels) and every heatmap's drawn tick labels.
FIGURES_JS = r"""() => {
  const out = [];
  const corners = (el) => {
    const b = el.getBBox(), m = el.getScreenCTM();
    if (!m || b.width === 0 || b.height === 0) return null;
    const pt = (x, y) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f];
    return [pt(b.x, b.y), pt(b.x + b.width, b.y), pt(b.x + b.width, b.y + b.height), pt(b.x, b.y + b.height)];
  };
  const unescape = (s) => { const t = document.createElement('textarea'); t.innerHTML = String(s); return t.value; };
  const clean = (s) => unescape(s).replace(/\u200b/g, '').replace(/<br>/g, ' ').trim();
  document.querySelectorAll('.js-plotly-plot').forEach((gd, fi) => {
    const r = gd.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;      // in a folded expander
    const title = (gd._fullLayout && gd._fullLayout.title && gd._fullLayout.title.text) || '';
    const texts = [];
    gd.querySelectorAll('svg text').forEach((t) => {
      if (t.closest('.hoverlayer') || t.closest('.modebar')) return;
      const s = (t.textContent || '').trim();
      if (!s) return;
      const st = getComputedStyle(t);
      if (st.visibility === 'hidden' || st.display === 'none' || parseFloat(st.opacity || '1') === 0) return;
      const c = corners(t);
      if (!c) return;
      texts.push({text: s, size: parseFloat(st.fontSize), corners: c,
                  cls: (t.getAttribute('class') || '') + ' ' + ((t.parentNode && t.parentNode.getAttribute &&
                        t.parentNode.getAttribute('class')) || '')});
    });
    const heatmaps = [];
    const fl = gd._fullLayout || {};
    (gd._fullData || []).forEach((tr) => {
      if (tr.type !== 'heatmap' || tr.visible === false) return;
      const sub = (tr.xaxis || 'x') + (tr.yaxis || 'y');
      const g = gd.querySelector('.cartesianlayer .subplot.' + sub);
      for (const [letter, values] of [['x', tr.x], ['y', tr.y]]) {
        const name = (letter === 'x' ? tr.xaxis : tr.yaxis) || letter;
        const ax = fl[name.replace(/^([xy])(\d*)$/, (_, a, n) => a + 'axis' + n)];
        if (!ax || ax.showticklabels === false || ax.visible === false || !g) continue;
        let expected;
        if (ax.tickmode === 'array' && ax.ticktext && ax.ticktext.length) expected = ax.ticktext.map(clean);
        else if (ax.type === 'category' && values) expected = Array.from(values).map(clean);
        else continue;                                  // a numeric axis (positions, pairs): not token labels
        const drawn = Array.from(gd.querySelectorAll('.' + name + 'tick text'))   // plotly classes ticks by axis id
          .map((t) => clean(t.textContent));
        heatmaps.push({axis: name, expected, drawn});
      }
    });
    const svg = gd.querySelector('.main-svg').getBoundingClientRect();
    out.push({index: fi, title: String(title), texts, heatmaps,
              box: [svg.left + window.scrollX, svg.top + window.scrollY, svg.right + window.scrollX,
                    svg.bottom + window.scrollY]});
  });
  return out;
}"""

PRESENT_TEXT_JS = r"""() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const small = [];
  const sel = 'input:not([type=checkbox]):not([type=radio]):not([type=hidden]), textarea, ' +
              '[data-baseweb="select"] [value], [data-baseweb="select"] div[class] > div:only-child, ' +
              '[data-testid="stCaptionContainer"] p, [data-testid="stCaptionContainer"], ' +
              '[data-testid="stSliderThumbValue"], [data-testid="stTable"] td, [data-testid="stTable"] th, ' +
              '[data-testid="stMetricDelta"] div, [data-testid="stMetricLabel"] p, ' +
              '.js-plotly-plot svg text';
  main.querySelectorAll(sel).forEach((el) => {
    if (el.closest('.hoverlayer') || el.closest('.modebar')) return;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;
    const text = el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' ? (el.value || el.placeholder || '') :
                 (el.textContent || '').trim();
    if (!text) return;
    const px = parseFloat(getComputedStyle(el).fontSize);
    if (px < 16) small.push(`${el.tagName.toLowerCase()} "${text.slice(0, 30)}" ${px}px`);
  });
  return small;
}"""


def _axes(quad):
    out = []
    for i in range(4):
        (x1, y1), (x2, y2) = quad[i], quad[(i + 1) % 4]
        out.append((y1 - y2, x2 - x1))
    return out


def overlap_depth(a: list, b: list) -> float:
    """How far two convex quads interpenetrate (separating-axis test); <= 0: apart or touching."""
    depth = float("inf")
    for nx, ny in _axes(a) + _axes(b):
        norm = (nx * nx + ny * ny) ** 0.5
        if norm == 0:
            continue
        pa = [(x * nx + y * ny) / norm for x, y in a]
        pb = [(x * nx + y * ny) / norm for x, y in b]
        depth = min(depth, min(max(pa), max(pb)) - max(min(pa), min(pb)))
        if depth <= 0:
            return depth
    return depth


def test_overlap_depth_sees_rotated_boxes():
    """The overlap check itself: two -60° labels side by side whose axis-aligned boxes overlap are apart."""
    import math

    def rotated(cx, w=60, h=14, deg=-60):
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        pts = [(-w, -h / 2), (0, -h / 2), (0, h / 2), (-w, h / 2)]
        return [(cx + x * c - y * s, 100 + x * s + y * c) for x, y in pts]

    assert overlap_depth(rotated(0), rotated(20)) <= 0            # 20 px apart along the axis: glyphs clear
    assert overlap_depth(rotated(0), rotated(5)) > 1              # 5 px apart: they collide
    assert overlap_depth([(0, 0), (10, 0), (10, 10), (0, 10)], [(5, 5), (15, 5), (15, 15), (5, 15)]) == 5


SLACK_PX = 1.5    # glyph boxes include line spacing; touching boxes are not a collision


def collisions(figures: list[dict]) -> list[str]:
    found = []
    for f in figures:
        ts = f["texts"]
        for i in range(len(ts)):
            for j in range(i + 1, len(ts)):
                if overlap_depth(ts[i]["corners"], ts[j]["corners"]) > SLACK_PX:
                    found.append(f"figure {f['index']} {f['title'][:40]!r}: {ts[i]['text'][:25]!r} overlaps "
                                 f"{ts[j]['text'][:25]!r}")
    return found


def thinned(figures: list[dict]) -> list[str]:
    bad = []
    for f in figures:
        for h in f["heatmaps"]:
            if h["drawn"] != h["expected"]:
                bad.append(f"figure {f['index']} {f['title'][:40]!r} {h['axis']}: drew {len(h['drawn'])} labels "
                           f"{h['drawn'][:6]}… for {len(h['expected'])} tokens {h['expected'][:6]}…")
    return bad


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("page_info", [HOME] + existing(), ids=lambda p: p.url_path)
def test_main_figure_on_the_first_screen_with_every_label_readable(open_page, page_info, size, present):
    page = open_page(page_info.url_path, "present=1" if present else "", size=size)
    page.set_default_timeout(120_000)
    assert errors_on(page) == []
    main = page.locator(MAIN)
    assert main.count() == 1, f"{page_info.file} marks no main figure: call page.main() (explorer/ui/page.py)"
    main.locator(DRAWN).first.wait_for(state="visible", timeout=120_000)   # drawn on arrival, not after a click
    page.wait_for_timeout(800)                                             # plotly finishes its layout
    box = main.bounding_box()
    name = f"layout-{page_info.url_path}-{size[0]}x{size[1]}" + ("-present" if present else "")
    shot(page, name)
    assert box is not None and box["y"] < size[1] * TOP_SHARE, \
        f"main figure starts at {box and box['y']:.0f} px, below {TOP_SHARE:.0%} of {size[1]} px"
    figures = page.evaluate(FIGURES_JS)
    assert thinned(figures) == []
    assert collisions(figures) == []
    if present:
        assert page.evaluate(PRESENT_TEXT_JS) == []


# Views past the default that held colliding or thinned labels (issue 15): checked for labels only, at the laptop
# size and at the projector size in presenter mode (the attention views are in test_every_section_… below).
VIEWS = [("generation", "decode=greedy&n=3")]


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("path,query", [v for v in VIEWS if any(p.url_path == v[0] for p in existing())],
                         ids=lambda v: str(v))
def test_other_views_label_every_token_without_collisions(open_page, path, query, present):
    size = SIZES[1] if present else SIZES[0]
    page = open_page(path, query + ("&present=1" if present else ""), size=size)
    page.set_default_timeout(120_000)
    assert errors_on(page) == []
    page.locator('[data-testid="stMain"] .js-plotly-plot .main-svg').first.wait_for(state="visible", timeout=120_000)
    page.wait_for_timeout(800)
    shot(page, f"layout-{path}-{query.replace('&', '-').replace('=', '')}" + ("-present" if present else ""))
    figures = page.evaluate(FIGURES_JS)
    assert thinned(figures) == []
    assert collisions(figures) == []


def clipped(figures: list[dict]) -> list[str]:
    """Texts cut by their figure's edge (e.g. a Sankey label above the figure's top)."""
    bad = []
    for f in figures:
        x0, y0, x1, y1 = f["box"]
        for t in f["texts"]:
            xs, ys = [c[0] for c in t["corners"]], [c[1] for c in t["corners"]]
            if min(xs) < x0 - SLACK_PX or max(xs) > x1 + SLACK_PX or min(ys) < y0 - SLACK_PX or max(ys) > y1 + SLACK_PX:
                bad.append(f"figure {f['index']} {f['title'][:40]!r}: {t['text'][:25]!r} is cut by the figure's edge")
    return bad


# ---------------------------------------------------------------------------------------------------------------
# Every section past the default of each page with sections (issue 15), opened through its link
# (`view=`): the section's main figure starts within the top 60% of the first screen, at the laptop size and at the
# projector size in presenter mode, with every label readable. One browser page per page and mode visits every
# section in turn (CI time: one context, no new server).
SECTIONS = {"families": ["objectives", "translator", "fewshot"],
            "adapt": ["choose", "adapt", "watch"],
            "pipeline": ["embed", "blocks", "output", "append", "shapes"],
            "multimodal": ["caption", "encoder", "ablate", "train"],
            # the MoE toy and the window mask again: the Sankey's top label (cut in presenter mode) and the two
            # mask panels' top edges are checked there
            "rope": ["full", "extend", "model", "gpt2"], "moe": ["toy", "model", "size"],
            "efficient": ["mask", "reach", "model", "tiles", "traffic"], "kv-cache": ["sharing", "fit", "measured"],
            "attention": ["layer", "model", "focus", "summary", "bertviz"]}
# Pages whose figures are also checked for texts cut by the figure's edge (clipped()).
CLIP_CHECKED = {"rope", "moe", "efficient", "kv-cache", "attention"}
# Where a section's own figure is, when the main slot starts with something every section shares: the Pipeline's
# main slot holds the path diagram and the stage buttons, then the stage (marked `st-key-pipe_stage`).
SECTION_FIGURE = {"pipeline": ".st-key-pipe_stage"}


@pytest.mark.parametrize("present", [False, True], ids=["normal-1280x800", "presenter-1920x1080"])
@pytest.mark.parametrize("path", [p for p in SECTIONS if any(i.url_path == p for i in existing())])
def test_every_section_puts_its_main_figure_on_the_first_screen(server, browser, path, present):
    size = SIZES[1] if present else SIZES[0]
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        failures = []
        for view in SECTIONS[path]:
            query = f"view={view}" + ("&present=1" if present else "")
            page.goto(f"{server}/{path}?{query}", wait_until="domcontentloaded", timeout=120_000)
            wait_idle(page)
            where = f"{path}?{query}"
            if errs := errors_on(page):
                failures.append(f"{where}: {errs}")
                continue
            main = page.locator(MAIN)
            if main.count() != 1:
                failures.append(f"{where}: no main figure marked (page.main(), explorer/ui/page.py)")
                continue
            own = page.locator(SECTION_FIGURE[path]) if path in SECTION_FIGURE else main
            first = own.locator(DRAWN).first
            first.wait_for(state="visible", timeout=120_000)           # drawn on arrival
            page.wait_for_timeout(800)
            shot(page, f"layout-{path}-{view}-{size[0]}x{size[1]}" + ("-present" if present else ""))
            for name, box in [("main slot", main.bounding_box()), ("section's figure", first.bounding_box())]:
                if box is None or box["y"] >= size[1] * TOP_SHARE:
                    failures.append(f"{where}: {name} starts at {box and round(box['y'])} px, below "
                                    f"{TOP_SHARE:.0%} of {size[1]} px")
            figures = page.evaluate(FIGURES_JS)
            failures += [f"{where}: {m}" for m in thinned(figures) + collisions(figures)
                         + (clipped(figures) if path in CLIP_CHECKED else [])]
            if (path, view) == ("efficient", "mask"):     # full causal and sliding window: one top edge
                tops = page.evaluate("""() => Array.from(document.querySelectorAll(
                    '.st-key-te-main .js-plotly-plot .heatmaplayer image')).map((i) => i.getBoundingClientRect().top)""")
                if len(tops) != 2 or abs(tops[0] - tops[1]) > 3:
                    failures.append(f"{where}: the mask panels' top edges {tops} are not level")
            if present:
                failures += [f"{where}: small text {m}" for m in page.evaluate(PRESENT_TEXT_JS)]
        assert failures == [], "\n".join(failures)
    finally:
        ctx.close()


def test_generation_keeps_the_top_k_bars_on_the_first_screen_after_steps(open_page):
    """Issue 15: after a few Steps the next-token bars sat near the bottom of a laptop's screen."""
    size = (1280, 800)
    page = open_page("generation", "decode=greedy", size=size)
    page.set_default_timeout(120_000)
    step = page.get_by_role("button", name="Step ▸")
    for n in range(1, 4):
        step.click()
        page.get_by_text(f"{n} of 40 new tokens").wait_for()
    wait_idle(page)
    assert errors_on(page) == []
    bars = page.locator(".st-key-fig_top-k-next-tokens .js-plotly-plot .main-svg").first
    bars.wait_for(state="visible")
    page.wait_for_timeout(800)
    shot(page, "layout-generation-3-steps-1280x800")
    box = bars.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size[1], box
