"""The efficient-attention page: the lesson's window picture, the Mistral preset, the receptive field, the real
model with a window, the tiling animation's controls, memory traffic, deep links, bad links and hostile text."""
import pytest

from explorer import efficient as E
from tests.app.conftest import assert_clean, run_page

PAGE = "pages/efficient.py"


def metrics(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def text_of(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def param(at, name):
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def test_the_default_view_is_the_lessons_window_of_three():
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value.startswith("⚡ Efficient attention")
    m = metrics(at)
    assert m["Pairs scored, full causal"][0] == "36"                 # 8 x 9 / 2
    assert m["Pairs scored, window 3"] == ("21", "58.3% of full")   # 1 + 2 + 3 x 6
    assert m["Keys cached per layer"][0] == "3 of 8"
    assert len(at.get("plotly_chart")) == 1
    assert not at.query_params


@pytest.mark.parametrize("view", ["mask", "reach", "model", "tiles", "traffic"])
def test_every_section_renders_a_figure(view):
    at = run_page(PAGE, query={"view": view})
    assert_clean(at)
    assert at.button_group(key="eff_view").value == view
    assert len(at.get("plotly_chart")) >= 1


def test_mistral_preset_counts_a_4096_window_over_16k_tokens():
    at = run_page(PAGE)
    next(b for b in at.button if b.label == "Mistral").click().run()
    assert_clean(at)
    m = metrics(at)
    assert m["Pairs scored, full causal"][0] == f"{16384 * 16385 // 2:,}"
    assert m["Pairs scored, window 4,096"][0] == f"{E.attended_pairs(16384, 4096):,}"
    assert m["Keys cached per layer"][0] == "4,096 of 16,384"
    assert (param(at, "len"), param(at, "win")) == ("16384", "4096")
    next(b for b in at.button if b.label == "Lesson").click().run()
    assert metrics(at)["Pairs scored, window 3"][0] == "21" and not at.query_params


def test_receptive_field_states_the_reach_and_mistrals():
    at = run_page(PAGE, query={"view": "reach", "rlen": "24", "rwin": "4", "layers": "4", "tok": "23"})
    assert_clean(at)
    text = text_of(at)
    assert "4 × (4 − 1) + 1 = **13**" in text and "**131,041**" in text


def test_real_model_gives_exactly_zero_weight_outside_the_window():
    at = run_page(PAGE, query={"view": "model", "mwin": "3"})
    assert_clean(at)
    m = metrics(at)
    assert m["Attention outside the window"] == ("0", "exactly zero")
    changed, total = m["Top prediction changed at"][0].split(" / ")
    assert 0 < int(changed) <= int(total)
    assert "explicit mask" in text_of(at)
    assert len(at.get("plotly_chart")) == 3
    assert any("kv_cache" in str(p.proto) or "KV-cache" in str(p.proto) for p in at.get("page_link"))


def test_a_window_as_long_as_the_text_changes_no_prediction():
    at = run_page(PAGE, query={"view": "model", "mwin": "128", "text": "My refund has not arrived yet."})
    assert_clean(at)
    m = metrics(at)
    assert m["Top prediction changed at"][0].startswith("0 / ")
    value, delta = m["KV cache after the text"]
    assert delta == f"full cache: {value}"                   # nothing to cap: the window holds the whole text
    assert param(at, "mwin") == "128"


@pytest.mark.parametrize("text", ["<script>alert(1)</script> **bold** [x](y)", "退款 🚚🚚 مرحبا \u202e\x07 ok",
                                  "a" * 3000])
def test_hostile_text_is_shown_as_text_never_a_traceback(text):
    at = run_page(PAGE, query={"view": "model", "text": text})
    assert not at.exception, [e.value for e in at.exception]


def test_empty_text_asks_for_a_sentence():
    at = run_page(PAGE, query={"view": "model"})
    at.text_area(key="eff_text").set_value("   ").run()
    assert_clean(at)
    assert "Type a sentence" in text_of(at) and not at.get("plotly_chart")


def test_tiling_deep_link_restores_the_step_and_buttons_move_it():
    at = run_page(PAGE, query={"view": "tiles", "tile": "0"})
    assert_clean(at)
    assert "Step 0 of 10" in text_of(at)                # 16 tokens, 4 x 4 tiles, causal: 1 + 2 + 3 + 4 tiles
    next(b for b in at.button if b.key == "eff_btn_step").click().run()
    assert "Step 1 of 10: query tile 0 × key tile 0" in text_of(at) and param(at, "tile") == "1"
    assert "max |tiled − standard|" not in metrics(at)  # the result appears at the end
    at.slider(key="eff_tile").set_value(10).run()
    m = metrics(at)
    assert float(m["max |tiled − standard|"][0]) < 1e-5 and float(m["max |tiled − torch SDPA|"][0]) < 1e-5
    t = E.tiled_traffic(16, 8, 4, 4, causal=True).elements
    assert m["Elements moved: tiled vs standard"][0] == f"{t:,} vs {E.standard_traffic(16, 8).elements:,}"


def test_play_at_the_end_starts_again_from_zero():
    at = run_page(PAGE, query={"view": "tiles"})
    assert "Step 10 of 10" in text_of(at)
    next(b for b in at.button if b.key == "eff_btn_play").click().run()
    assert_clean(at)
    assert next(b for b in at.button if b.key == "eff_btn_play").label == "⏸ Pause"
    assert at.session_state["eff_tile"] <= 1


def test_tiling_without_causal_and_with_a_window():
    at = run_page(PAGE, query={"view": "tiles", "causal": "0", "tlen": "24", "bq": "8", "bk": "4", "twin": "5"})
    assert_clean(at)
    n_steps = sum(len(k) for _, k in E.tile_schedule(24, 8, 4, True, 5))
    assert f"Step {n_steps} of {n_steps}" in text_of(at)


def test_traffic_numbers_at_128k():
    at = run_page(PAGE, query={"view": "traffic"})
    assert_clean(at)
    m = metrics(at)
    assert m["Standard attention"] == ("128.12 GiB", "T = 131,072")     # (4 T d + 4 T^2) x 2 bytes
    assert m["The T × T score matrix alone"][0] == "32.00 GiB"
    tiled = E.tiled_traffic_elements(131072, 128, 128, 64, True) * 2
    assert m["Tiled (FlashAttention)"][0] == f"{tiled / 2 ** 30:.2f} GiB"
    counted = E.tiled_traffic_elements(2048, 128, 128, 64, True)
    assert f"counted **{counted:,}** elements" in text_of(at)


@pytest.mark.parametrize("query", [
    {"view": "nope"}, {"len": "abc", "win": "-1"}, {"view": "reach", "rlen": "9999", "tok": "500", "rwin": "0"},
    {"view": "tiles", "tile": "999", "bq": "3", "row": "-4", "speed": "nan"},
    {"view": "traffic", "xlen": "5", "xhd": "7", "xdtype": "<b>"},
    {"view": "model", "mwin": "0", "layer": "99", "head": "x", "pos": "-1"},
])
def test_junk_links_fall_back_with_a_notice(query):
    at = run_page(PAGE, query=query)
    assert_clean(at)
    assert any("Ignored the link" in i.value for i in at.info)
