"""The Multimodal page: defaults, every section, deep links, the scene builder, junk and hostile links; figures
hold the engine's numbers and changing the token, layer or head never re-runs the model."""
import base64
import json

import numpy as np
import pytest

from explorer import multimodal as M
from tests.app.conftest import assert_clean, infos, param, run_page
from tests.conftest import bundled_model

PAGE = "pages/multimodal.py"
SECTIONS = ["tokens", "caption", "encoder", "ablate", "train"]


def figures(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(v) -> np.ndarray:
    if isinstance(v, dict) and "bdata" in v:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return arr.reshape([int(x) for x in str(v["shape"]).split(",")]) if "shape" in v else arr
    return np.asarray(v)


def heat(at) -> np.ndarray:
    """The overlay of the page's first figure that has one."""
    for f in figures(at):
        for t in f["data"]:
            if t.get("type") == "heatmap":
                return values(t["z"]).astype(np.float32)
    raise AssertionError("no overlay")


@pytest.fixture(scope="module")
def run():
    return M.caption(bundled_model("tiny-llava"), M.scene_image(M.BUNDLED["two"]))


def test_default_view_shows_the_image_as_numbered_patches_and_the_trace(run):
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value.startswith("🖼️ Multimodal")
    assert at.button_group(key="mm_view").value == "tokens"
    figs = figures(at)
    assert any(t.get("type") == "image" for t in figs[0]["data"])
    numbers = next(t for t in figs[0]["data"] if t.get("mode") == "text")["text"]
    assert numbers == [str(k) for k in range(run.geometry.n_patches)]
    trace = " ".join(next(t for t in figs[1]["data"] if t.get("mode") == "text")["text"])
    for s in run.trace:
        assert str(s.shape).replace(",)", ")") in trace.replace(",)", ")")


@pytest.mark.parametrize("view", SECTIONS)
def test_every_section_runs_clean(view):
    at = run_page(PAGE, {"view": view})
    assert_clean(at)
    assert at.get("plotly_chart") or at.metric


def test_caption_overlay_is_the_engines_attention_and_a_deep_link_restores_it(run):
    at = run_page(PAGE, {"view": "caption", "tok": "3", "layer": "0", "head": "0"})
    assert_clean(at)
    assert at.select_slider(key="mm_tok").value == 3
    assert at.selectbox(key="mm_layer").value == 0 and at.selectbox(key="mm_head").value == 0
    np.testing.assert_allclose(heat(at), run.patch_attention(3, 0, 0), atol=1e-3)
    assert param(at, "tok") == "3" and param(at, "layer") == "0" and param(at, "head") == "0"


def test_the_default_caption_view_is_the_first_colour_word_in_the_cards_grounding_layer(run):
    at = run_page(PAGE, {"view": "caption"})
    assert run.caption == "a high red circle left of a low blue square"       # the scene's rows and objects
    assert at.select_slider(key="mm_tok").value == 2 and at.selectbox(key="mm_layer").value == M.grounding_layer(
        bundled_model("tiny-llava")) == 1
    np.testing.assert_allclose(heat(at), run.patch_attention(2, 1), atol=1e-3)


def test_changing_token_layer_head_does_not_run_the_model_again(monkeypatch):
    at = run_page(PAGE, {"view": "caption"})
    calls = []
    real = M.caption
    monkeypatch.setattr(M, "caption", lambda *a, **k: calls.append(1) or real(*a, **k))
    at.selectbox(key="mm_layer").set_value(0).run()
    at.selectbox(key="mm_head").set_value(1).run()
    at.select_slider(key="mm_tok").set_value(0).run()
    assert_clean(at)
    assert calls == []


def test_encoder_section_from_a_patch_and_rollout(run):
    at = run_page(PAGE, {"view": "encoder", "patch": "10", "vlayer": "1", "vhead": "2"})
    assert_clean(at)
    np.testing.assert_allclose(heat(at), M.from_patch(run, 10, 1, 2), atol=1e-3)
    at = run_page(PAGE, {"view": "encoder", "patch": "10", "vlayer": "2", "roll": "1"})
    np.testing.assert_allclose(heat(at), M.from_patch(run, 10, 2, rollout=True), atol=1e-3)


def test_scene_builder_lives_in_the_link():
    at = run_page(PAGE, {"img": "build", "c1": "green", "s1": "triangle", "x1": "middle", "y1": "top", "c2": "none"})
    assert_clean(at)
    assert at.selectbox(key="mm_c1").value == "green" and at.selectbox(key="mm_x1").value == "middle"
    at.selectbox(key="mm_c2").set_value("yellow").run()
    assert param(at, "c2") == "yellow"


def test_builder_objects_in_one_column_are_explained():
    at = run_page(PAGE, {"img": "build", "c3": "red", "x3": "left"})
    assert_clean(at)
    assert "left column" in infos(at)


def test_train_section_counts_parts_and_frozen_stages():
    at = run_page(PAGE, {"view": "train"})
    assert_clean(at)
    parts = M.parts(bundled_model("tiny-llava"))
    shown = {m.label: m.value for m in at.metric}
    assert shown == {k: f"{v:,}" for k, v in parts.items()}
    assert "frozen" in " ".join(c.value for c in at.caption)


def test_ablations_table_has_the_four_variants():
    at = run_page(PAGE, {"view": "ablate", "other": "one"})
    assert_clean(at)
    df = at.dataframe[0].value
    assert list(df["what the decoder got"]) == ["the image", "image removed", "patches shuffled", "another image"]


@pytest.mark.parametrize("query", [
    {"view": "caption", "tok": "999", "layer": "-1", "head": "<script>alert(1)</script>"},
    {"view": "encoder", "patch": "1e9", "vlayer": "x", "vhead": "9", "roll": "maybe"},
    {"img": "nope", "view": "nope"},
    {"img": "build", "c1": "[x](javascript:alert(1))", "s1": "hexagon", "x1": "🙂", "y1": "\u202e"},
    {"view": "ablate", "other": "two"},
])
def test_junk_and_hostile_links_fall_back_with_notices(query):
    at = run_page(PAGE, query)
    assert_clean(at)
    md = " ".join(m.value for m in at.markdown)
    assert "<script>" not in md and "javascript:" not in md
