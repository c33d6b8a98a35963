"""Parameter counts computed from real configs match the published figures."""
import pytest

from explorer.presets import PRESETS, PUBLISHED_ACTIVE, PUBLISHED_PARAMS, param_count


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_total_parameters_match_published_within_2_percent(name):
    total, _ = param_count(PRESETS[name])
    assert total == pytest.approx(PUBLISHED_PARAMS[name], rel=0.02)


def test_mixtral_active_parameters_are_about_13b_of_47b():
    total, active = param_count(PRESETS["Mixtral-8x7B"])
    assert active == pytest.approx(PUBLISHED_ACTIVE["Mixtral-8x7B"], rel=0.02)
    assert total / active == pytest.approx(46.7 / 12.9, rel=0.03)


def test_gpt2_count_is_exact():
    # 124,439,808 is what sum(p.numel() for p in GPT2LMHeadModel(GPT2Config()).parameters()) gives
    assert param_count(PRESETS["GPT-2"])[0] == 124_439_808


def test_attention_kinds():
    assert PRESETS["Llama-2-7B"].attention_kind == "MHA"
    assert PRESETS["Llama-3-8B"].attention_kind == "GQA"
    assert PRESETS["Falcon-7B"].attention_kind == "MQA" and PRESETS["Gemma-2B"].attention_kind == "MQA"
