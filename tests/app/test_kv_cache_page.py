"""The KV-cache page: the lesson's numbers, presets, sliders, deep links, bad links, fit check, measured cache."""
import pytest

from explorer import kvcache as kv
from explorer.presets import PRESETS
from tests.app.conftest import assert_clean, run_page

PAGE = "pages/kv-cache.py"


def cards(at) -> list[tuple[str, str, str]]:
    return [(m.label, m.value, m.delta) for m in at.metric][:3]


def infos(at) -> str:
    return " ".join(i.value for i in at.info)


def param(at, name):
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def test_the_default_view_is_the_lesson_example():
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value.startswith("🧮 KV cache")
    assert cards(at) == [("MHA · 32 KV heads", "32.00 GiB", "1.000 × MHA"),
                         ("GQA · 8 KV heads", "8.00 GiB", "0.250 × MHA"),
                         ("MQA · 1 KV head", "1.00 GiB", "0.031 × MHA")]
    assert at.selectbox(key="kv_preset").value == "Llama-3-8B"
    assert len(at.get("plotly_chart")) == 1
    text = " ".join(m.value for m in at.markdown)
    assert "8,192 tokens × 8 sequences × 2 bytes" in text
    assert PRESETS["Llama-3-8B"].source in text
    assert not at.query_params     # defaults stay out of the link


@pytest.mark.parametrize("view", ["growth", "sharing", "fit", "measured"])
def test_every_section_renders_a_figure(view):
    at = run_page(PAGE, query={"view": view, "ntok": "16"})
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 1
    assert at.button_group(key="kv_view").value == view


def test_choosing_a_preset_loads_its_config_and_the_window_caps_the_cache():
    at = run_page(PAGE)
    at.selectbox(key="kv_preset").set_value("Mistral-7B").run()
    assert_clean(at)
    assert (at.slider(key="kv_layers").value, at.slider(key="kv_heads").value) == (32, 32)
    assert at.select_slider(key="kv_kv").value == 8 and at.select_slider(key="kv_hd").value == 128
    assert at.selectbox(key="kv_window").value == 4096
    # 8,192 tokens but only the last 4,096 are kept: half the lesson's sizes
    assert [c[1] for c in cards(at)] == ["16.00 GiB", "4.00 GiB", "512.00 MiB"]
    at.select_slider(key="kv_seq").set_value(2 ** 20).run()
    assert [c[1] for c in cards(at)] == ["16.00 GiB", "4.00 GiB", "512.00 MiB"]   # flat beyond the window
    assert param(at, "preset") == "Mistral-7B" and param(at, "window") is None    # the preset's own value


def test_falcon_preset_offers_only_divisors_of_71_heads():
    at = run_page(PAGE, query={"preset": "Falcon-7B"})
    assert_clean(at)
    assert at.slider(key="kv_heads").value == 71
    assert at.select_slider(key="kv_kv").options == ["1", "71"]
    assert cards(at)[1][0].startswith("Your setting (MQA)")


def test_sliders_change_the_sizes_and_the_link():
    at = run_page(PAGE)
    at.select_slider(key="kv_kv").set_value(4).run()
    assert cards(at)[1] == ("GQA · 4 KV heads", "4.00 GiB", "0.125 × MHA")
    at.selectbox(key="kv_dtype").set_value("fp32").run()
    assert [c[1] for c in cards(at)] == ["64.00 GiB", "8.00 GiB", "2.00 GiB"]
    at.number_input(key="kv_batch").set_value(1).run()
    at.slider(key="kv_layers").set_value(16).run()
    expected = kv.cache_bytes(kv.KVShape(16, 32, 4, 128), 8192, 1, 32)
    assert cards(at)[1][1] == kv.format_bytes(expected) == "512.00 MiB"
    assert_clean(at)
    assert (param(at, "kv"), param(at, "dtype"), param(at, "batch"), param(at, "layers")) == ("4", "fp32", "1", "16")


def test_more_query_heads_keep_a_valid_kv_head_count():
    at = run_page(PAGE)
    at.slider(key="kv_heads").set_value(12).run()       # 8 does not divide 12: the largest divisor below it
    assert_clean(at)
    assert at.select_slider(key="kv_kv").value == 6


def test_a_deep_link_restores_the_view():
    q = {"preset": "Gemma-2B", "seq": str(2 ** 20), "batch": "1", "dtype": "int4", "view": "sharing",
         "heads": "8", "kv": "2"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    assert at.selectbox(key="kv_preset").value == "Gemma-2B"
    assert at.select_slider(key="kv_seq").value == 2 ** 20 and at.number_input(key="kv_batch").value == 1
    assert at.selectbox(key="kv_dtype").value == "int4" and at.select_slider(key="kv_kv").value == 2
    assert at.button_group(key="kv_view").value == "sharing"
    # Gemma-2B: 18 layers, head_dim 256; 8 query heads; MHA = 2 x 18 x 8 x 256 x 2^20 x 1/2 byte = 36 GiB
    assert [c[1] for c in cards(at)] == ["36.00 GiB", "9.00 GiB", "4.50 GiB"]


def test_nonsense_link_values_fall_back_with_notices():
    q = {"preset": "GPT-5", "layers": "999", "seq": "123", "dtype": "fp64", "kv": "3", "view": "nope",
         "batch": "-1", "hd": "<script>", "window": "abc"}
    at = run_page(PAGE, query=q)
    assert_clean(at)
    notes = infos(at)
    for name in q:
        assert f"`{name}`" in notes, name
    assert [c[1] for c in cards(at)] == ["32.00 GiB", "8.00 GiB", "1.00 GiB"]   # the lesson's defaults


def test_out_of_range_values_are_refused():
    at = run_page(PAGE, query={"layers": "0", "heads": "129", "batch": "257", "usable": "5", "view": "fit",
                               "gpu": "12"})
    assert_clean(at)
    notes = infos(at)
    for name in ("layers", "heads", "batch", "usable", "gpu"):
        assert f"`{name}`" in notes, name
    assert at.slider(key="kv_layers").value == 32 and at.number_input(key="kv_batch").value == 8


def test_the_lesson_button_restores_the_lesson():
    at = run_page(PAGE, query={"preset": "GPT-2", "seq": "1024", "batch": "2", "dtype": "fp32"})
    assert cards(at)[0][1] != "32.00 GiB"
    at.button(key="kv_lesson").click().run()
    assert_clean(at)
    assert [c[1] for c in cards(at)] == ["32.00 GiB", "8.00 GiB", "1.00 GiB"]
    assert not at.query_params


def test_fit_check_table_matches_the_engine():
    at = run_page(PAGE, query={"view": "fit", "gpu": "24"})
    assert_clean(at)
    table = at.dataframe[0].value
    arch = PRESETS["Llama-3-8B"]
    fits = kv.fit_check(arch, kv.shape_of(arch), 8192, 8, 16, 16, kv.capacity_bytes(24, 0.9))
    assert list(table["KV cache"]) == ["32.00 GiB", "8.00 GiB", "1.00 GiB"]
    assert list(table["fits?"]) == ["❌ no", "❌ no", "✅ yes"]
    assert list(table["largest batch at 8,192 tokens"]) == [f"{f.max_batch:,}" for f in fits]
    assert fits[2].max_batch > 8 > fits[1].max_batch
    at.button_group(key="kv_gpu").set_value(80).run()
    assert list(at.dataframe[0].value["fits?"]) == ["✅ yes"] * 3


def test_measured_section_matches_the_formula_and_is_not_rerun_by_sliders(monkeypatch):
    from explorer.ui import kvcache as cached
    calls = []
    real = kv.measure

    def counting(*a, **k):
        calls.append(a[1:])
        return real(*a, **k)

    cached._measure.clear()
    monkeypatch.setattr(kv, "measure", counting)
    at = run_page(PAGE, query={"view": "measured", "ntok": "16", "mbatch": "2"})
    assert_clean(at)
    assert len(calls) == 2
    diffs = [m.delta for m in at.metric[3:]]
    assert len(diffs) == 2 and all(d.endswith("largest difference over all steps 0 bytes") for d in diffs)
    assert at.metric[4].value == f"{2 * 4 * 2 * 32 * 16 * 2 * 4:,} bytes"      # tiny Llama, batch 2, float32
    shapes = list(at.dataframe[0].value.iloc[:, 2])
    assert shapes == ["[2, 4, 16, 32]", "[2, 2, 16, 32]"]                       # MHA: 4 KV heads; GQA: 2
    at.slider(key="kv_layers").set_value(20).run()
    at.select_slider(key="kv_seq").set_value(1024).run()
    assert len(calls) == 2
