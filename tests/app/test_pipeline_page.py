"""The Pipeline page: every stage, Next/Back without a forward pass, numbers equal to the model's, deep links,
junk links and hostile text."""
import base64
import json

import numpy as np

import pytest
import torch

from explorer import pipeline as P
from explorer.text import display_token
from tests.app.conftest import assert_clean, run_page
from tests.conftest import bundled_model

PAGE = "pages/pipeline.py"
STAGES = ["tokens", "embed", "blocks", "output", "append", "shapes"]
MODELS = {"decoder": "tiny-gpt2", "rope-decoder": "tiny-llama"}


def param(at, name):
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def figures(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(v) -> list:
    """A trace's array as plotly's JSON holds it: a list, or base64 typed-array data (numpy input)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def metrics(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def texts(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def plain_logits(name: str, text: str):
    lm = bundled_model(name)
    ids = lm.tokenizer(text)["input_ids"]
    with torch.no_grad():
        out = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=True)
    return lm, ids, out


def test_default_view_is_the_lessons_prompt_tokenized():
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value.startswith("🛤️ Pipeline")
    assert at.text_input(key="pipe_text").value == P.LESSON_PROMPT
    assert at.button_group(key="pipe_view").value == "tokens"
    lm, ids, _ = plain_logits("tiny-gpt2", P.LESSON_PROMPT)
    m = metrics(at)
    assert m["Tokens"][0] == str(len(ids)) and m["Characters"][0] == str(len(P.LESSON_PROMPT))
    assert len(figures(at)) == 2          # the whole path and the token strip
    assert at.button(key="pipe_go_back").disabled and not at.button(key="pipe_go_next").disabled
    assert not at.query_params            # defaults stay out of the link


@pytest.mark.parametrize("family", list(MODELS))
@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_renders_for_both_families(stage, family):
    at = run_page(PAGE, query={"view": stage, "model": family})
    assert_clean(at)
    assert at.button_group(key="pipe_view").value == stage
    assert at.selectbox(key="pipe_model").value == family
    figs = figures(at)
    assert figs, "no diagram"
    assert {"tokens": 2, "embed": 2, "blocks": 3, "output": 2, "append": 2, "shapes": 1}[stage] == len(figs)


def test_next_and_back_step_through_every_stage_without_a_forward_pass(monkeypatch):
    from transformers import GPT2LMHeadModel
    at = run_page(PAGE)
    assert_clean(at)
    calls = []
    original = GPT2LMHeadModel.forward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(GPT2LMHeadModel, "forward", counting)
    for stage in STAGES[1:]:
        at.button(key="pipe_go_next").click().run()
        assert_clean(at)
        assert at.button_group(key="pipe_view").value == stage and param(at, "view") == stage
    assert at.button(key="pipe_go_next").disabled
    for stage in reversed(STAGES[:-1]):
        at.button(key="pipe_go_back").click().run()
        assert at.button_group(key="pipe_view").value == stage
    assert param(at, "view") is None       # back at the default stage: the link is short again
    assert calls == []


@pytest.mark.parametrize("family", list(MODELS))
def test_the_numbers_shown_are_the_models(family):
    name = MODELS[family]
    lm, ids, out = plain_logits(name, P.LESSON_PROMPT)
    logits = out.logits[0, -1]
    at = run_page(PAGE, query={"view": "output", "model": family, "k": "5"})
    assert_clean(at)
    m = metrics(at)
    assert m["Greedy pick"][0] == display_token(lm.tokenizer.convert_ids_to_tokens(int(logits.argmax())))
    p = torch.softmax(logits, -1)
    assert m["Greedy pick"][1] == f"p = {float(p.max()):.1%} at T = 1"
    # (summed in float64 over a float64 softmax: a float32 softmax of the retrained twin sums to 0.9999995)
    assert m["Probabilities sum to"][0] == f"{float(torch.softmax(logits.double(), -1).sum()):.6f}" == "1.000000"
    bars = next(f for f in figures(at) if any(tr.get("type") == "bar" for tr in f["data"]))["data"][0]
    # the page's traced forward and this plain one differ by float32 noise (~3e-6 in the logits): a tolerance, not a
    # rounding that can fall either side of a boundary (0.4926151 vs 0.4926145 for the retrained tiny Llama)
    np.testing.assert_allclose(values(bars["y"]), torch.topk(p, 5).values.numpy(), rtol=0, atol=1e-5)
    # the shape trace: this model's tensors, and the lessons' toy decoder
    at = run_page(PAGE, query={"view": "shapes", "model": family})
    assert_clean(at)
    table = at.dataframe[0].value
    rows = {r["tensor"]: r for r in table.to_dict("records")}
    col = next(c for c in table.columns if "this prompt" in c)
    cache = out.cache
    kv = torch.stack([torch.stack([c.keys, c.values]) for c in cache.layers])
    assert rows["input ids"][col] == str((1, len(ids)))
    assert rows["final normalized states"][col] == str(tuple(out.hidden_states[-1].shape))
    assert rows["last-position logits"][col] == str(tuple(out.logits[:, -1].shape))
    assert rows["cached K/V (layers, K and V, batch, KV heads, tokens, head_dim)"][col] == str(tuple(kv.shape))
    toy = "the lessons' toy decoder"
    assert rows["final normalized states"][toy] == "(1, 5, 8)"
    assert rows["last-position logits"][toy] == "(1, 6)"
    assert rows["cached K/V (layers, K and V, batch, KV heads, tokens, head_dim)"][toy] == "(4, 2, 1, 2, 5, 4)"
    assert rows["next-token probabilities, summed"][toy] == "1.000000"


def test_deep_link_restores_token_temperature_and_model():
    at = run_page(PAGE, query={"view": "blocks", "model": "rope-decoder", "tok": "2", "text": "the cat sat on the mat"})
    assert_clean(at)
    assert at.select_slider(key="pipe_tok").value == 2
    assert at.text_input(key="pipe_text").value == "the cat sat on the mat"
    lens = [f for f in figures(at) if "logit lens" in (f["layout"].get("title") or {}).get("text", "")]
    assert len(lens) == 1 and len(values(lens[0]["data"][0]["y"])) == 5      # embeddings + 4 blocks
    at = run_page(PAGE, query={"view": "output", "temp": "0.5", "k": "7"})
    assert_clean(at)
    assert at.slider(key="pipe_temp").value == 0.5 and at.slider(key="pipe_k").value == 7
    assert len(values(figures(at)[1]["data"][0]["x"])) == 7
    assert metrics(at)["Greedy pick"][1].endswith("at T = 0.5")


def test_embed_stage_links_the_rope_page_for_the_rope_model():
    at = run_page(PAGE, query={"view": "embed", "model": "rope-decoder"})
    assert_clean(at)
    assert "no position table" in texts(at)
    links = at.get("page_link")
    assert [(x.proto.page, x.proto.query_string) for x in links] == [("rope", "view=model&text=Where+is+my+order%3F")]
    at = run_page(PAGE, query={"view": "embed"})
    assert "position embedding (row" in json.dumps(values(figures(at)[1]["data"][0]["y"]))


@pytest.mark.parametrize("query", [
    {"view": "zzz", "tok": "-3", "temp": "abc", "k": "999", "model": "evil"},
    {"view": "blocks", "tok": "99999"},
    {"view": "output", "temp": "nan", "k": "1"},
    {"view": "tokens", "text": "x" * 2500},
])
def test_junk_links_fall_back_with_a_notice(query):
    at = run_page(PAGE, query=query)
    assert_clean(at)
    assert any("Ignored the link" in i.value for i in at.info)
    assert at.button_group(key="pipe_view").value in STAGES


@pytest.mark.parametrize("text", ["<script>alert(1)</script> **bold** `tick` [a](javascript:x)",
                                  "مرحبا بالعالم 👩‍👩‍👧 日本語", "a\x00b\x1bc\u202ed", "🤖" * 300])
@pytest.mark.parametrize("stage", ["tokens", "blocks", "output", "append"])
def test_hostile_text_is_shown_as_text(stage, text):
    at = run_page(PAGE, query={"view": stage, "text": text})
    assert_clean(at)
    for m in at.markdown:        # model or user text reaches markdown only escaped (explorer.text.md)
        assert "<script>" not in m.value
    if len(text) > 1000:
        assert any("Following the first" in w.value for w in at.warning)


def test_append_stage_links_the_kv_cache_and_generation_pages_with_this_prompt():
    at = run_page(PAGE, query={"view": "append", "text": "the cat sat"})
    assert_clean(at)
    links = {x.proto.page: x.proto.query_string for x in at.get("page_link")}
    assert links == {"kv-cache": "view=measured", "generation": "prompt=the+cat+sat&model=decoder"}


def test_empty_prompt_asks_for_one():
    at = run_page(PAGE, query={"view": "blocks"})
    at.text_input(key="pipe_text").set_value("   ").run()
    assert_clean(at)
    assert any("Type a prompt" in i.value for i in at.info)
    assert len(figures(at)) == 0
