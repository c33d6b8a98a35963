"""KV-cache formula: the lesson's numbers, presets vs their configs, sliding windows, GPU fit checks."""
import numpy as np
import pytest

from explorer import kvcache as kv
from explorer.presets import PRESETS, param_count

LESSON = kv.KVShape(n_layers=32, n_heads=32, n_kv_heads=8, head_dim=128)


def test_lesson_example_mha_gqa_mqa_sizes_and_ratios():
    rows = kv.compare(LESSON, seq_len=8192, batch=8, bits=16)
    assert [r.kind for r in rows] == ["MHA", "GQA", "MQA"]
    assert [r.n_kv_heads for r in rows] == [32, 8, 1]
    assert [f"{r.gib:.2f} GiB" for r in rows] == ["32.00 GiB", "8.00 GiB", "1.00 GiB"]
    assert [kv.format_bytes(r.bytes) for r in rows] == ["32.00 GiB", "8.00 GiB", "1.00 GiB"]
    assert [f"{r.ratio:.3f}" for r in rows] == ["1.000", "0.250", "0.031"]
    assert rows[0].bytes == 2 * 32 * 32 * 128 * 8192 * 8 * 2 == 32 * 2 ** 30


@pytest.mark.parametrize("dtype, gib", [("fp32", 16.0), ("bf16", 8.0), ("fp16", 8.0), ("fp8", 4.0), ("int4", 2.0)])
def test_element_type_scales_the_cache(dtype, gib):
    assert kv.cache_bytes(LESSON, 8192, 8, kv.DTYPE_BITS[dtype]) == gib * kv.GIB


def test_int4_cache_is_a_whole_number_of_bytes_even_for_odd_sizes():
    s = kv.KVShape(1, 1, 1, 1)
    assert kv.cache_bytes(s, 1, 1, 4) == 1          # 2 elements (K and V) x half a byte
    assert isinstance(kv.cache_bytes(s, 3, 1, 4), int)


def test_cache_grows_linearly_in_every_factor():
    base = kv.cache_bytes(LESSON, 1000, 1, 16)
    assert kv.cache_bytes(LESSON, 2000, 1, 16) == 2 * base
    assert kv.cache_bytes(LESSON, 1000, 3, 16) == 3 * base
    assert kv.cache_bytes(kv.KVShape(64, 32, 8, 128), 1000, 1, 16) == 2 * base
    assert kv.cache_bytes(LESSON.with_kv_heads(16), 1000, 1, 16) == 2 * base


def test_query_heads_do_not_change_the_cache():
    a = kv.cache_bytes(kv.KVShape(32, 32, 8, 128), 4096, 1, 16)
    b = kv.cache_bytes(kv.KVShape(32, 64, 8, 128), 4096, 1, 16)
    assert a == b


def test_growth_arrays_match_the_scalar_formula():
    lengths = kv.log_lengths(extra=(8192, 4096))
    assert lengths[0] == 1 and lengths[-1] == 2 ** 20 and 8192 in lengths and np.all(np.diff(lengths) > 0)
    curves = kv.growth(LESSON, lengths, 8, 16)
    for kind, shape in LESSON.variants().items():
        assert curves[kind].dtype == np.int64
        assert [int(x) for x in curves[kind]] == [kv.cache_bytes(shape, int(t), 8, 16) for t in lengths]


def test_sliding_window_caps_growth():
    mistral = kv.shape_of(PRESETS["Mistral-7B"])
    assert mistral.sliding_window == 4096
    at_window = kv.cache_bytes(mistral, 4096, 1, 16)
    assert at_window == 512 * 2 ** 20                      # 128 KiB per token x 4096 tokens
    assert kv.cache_bytes(mistral, 4095, 1, 16) < at_window
    for t in (4097, 32768, 2 ** 20):
        assert kv.cache_bytes(mistral, t, 1, 16) == at_window
    curve = kv.growth(mistral, kv.log_lengths(), 1, 16)["GQA"]
    assert curve.max() == at_window
    # without the window the same model keeps growing
    llama3 = kv.shape_of(PRESETS["Llama-3-8B"])
    assert kv.cache_bytes(llama3, 2 ** 20, 1, 16) == 256 * at_window


# bf16 bytes per token per sequence, worked out by hand from each config.json:
# 2 x layers x kv_heads x head_dim x 2 bytes
PER_TOKEN_BF16 = {
    "GPT-2": 2 * 12 * 12 * 64 * 2,            # 36 KiB
    "Llama-2-7B": 2 * 32 * 32 * 128 * 2,      # 512 KiB (MHA)
    "Llama-3-8B": 2 * 32 * 8 * 128 * 2,       # 128 KiB (GQA 8)
    "Llama-3-70B": 2 * 80 * 8 * 128 * 2,      # 320 KiB
    "Mistral-7B": 2 * 32 * 8 * 128 * 2,       # 128 KiB
    "Mixtral-8x7B": 2 * 32 * 8 * 128 * 2,     # experts share the attention: 128 KiB
    "Falcon-7B": 2 * 32 * 1 * 64 * 2,         # 8 KiB (MQA)
    "Gemma-2B": 2 * 18 * 1 * 256 * 2,         # 18 KiB (MQA, head_dim 256)
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_bytes_per_token(name):
    shape = kv.shape_of(PRESETS[name])
    assert kv.bytes_per_token(shape, 16) == PER_TOKEN_BF16[name]
    assert kv.cache_bytes(shape, 1, 1, 16) == PER_TOKEN_BF16[name]


def test_preset_kinds():
    kinds = {n: kv.shape_of(c).kind for n, c in PRESETS.items()}
    assert kinds == {"GPT-2": "MHA", "Llama-2-7B": "MHA", "Llama-3-8B": "GQA", "Llama-3-70B": "GQA",
                     "Mistral-7B": "GQA", "Mixtral-8x7B": "GQA", "Falcon-7B": "MQA", "Gemma-2B": "MQA"}


def _hf_configs():
    """transformers' config classes default to these published models' config.json values."""
    from transformers import FalconConfig, GPT2Config, LlamaConfig, MistralConfig, MixtralConfig
    return {"GPT-2": GPT2Config(), "Llama-2-7B": LlamaConfig(), "Mistral-7B": MistralConfig(),
            "Mixtral-8x7B": MixtralConfig(), "Falcon-7B": FalconConfig()}


@pytest.mark.parametrize("name", ["GPT-2", "Llama-2-7B", "Mistral-7B", "Mixtral-8x7B", "Falcon-7B"])
def test_presets_agree_with_the_transformers_config_of_the_same_model(name):
    config = _hf_configs()[name]
    assert kv.shape_from_config(config) == kv.shape_of(PRESETS[name])


def test_presets_name_their_config_source():
    for c in PRESETS.values():
        assert c.source.startswith("https://huggingface.co/") and c.source.endswith("config.json")


def test_kv_head_of_follows_repeat_kv():
    # repeat_kv expands KV head j into query heads j*g .. j*g+g-1
    assert [kv.kv_head_of(h, 32, 8) for h in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [kv.kv_head_of(h, 4, 2) for h in range(4)] == [0, 0, 1, 1]
    assert {kv.kv_head_of(h, 71, 1) for h in range(71)} == {0}
    assert [kv.kv_head_of(h, 12, 12) for h in range(12)] == list(range(12))


def test_valid_kv_heads_are_the_divisors():
    assert kv.valid_kv_heads(32) == [1, 2, 4, 8, 16, 32]
    assert kv.valid_kv_heads(71) == [1, 71]
    with pytest.raises(ValueError):
        kv.KVShape(32, 32, 5, 128)


# ---------------------------------------------------------------- fit check
def brute_max_seq(shape, free, batch, bits, hi=2 ** 22):
    best = 0
    for t in range(1, hi + 1):
        if kv.cache_bytes(shape, t, batch, bits) <= free:
            best = t
        else:
            break
    return best


def test_longest_context_hand_case():
    # 1 GiB free, 128 KiB per token (Llama-3-8B, bf16, batch 1) -> exactly 8192 tokens
    llama3 = kv.shape_of(PRESETS["Llama-3-8B"])
    assert kv.max_seq_len(llama3, kv.GIB, 1, 16) == 8192
    assert kv.max_seq_len(llama3, kv.GIB - 1, 1, 16) == 8191
    assert kv.max_seq_len(llama3, kv.GIB, 4, 16) == 2048
    assert kv.max_seq_len(llama3, -5, 1, 16) == 0


def test_longest_context_matches_a_brute_force_search():
    s = kv.KVShape(3, 6, 2, 10)
    for free, batch, bits in [(10_000, 1, 16), (123_457, 3, 4), (999, 2, 32), (0, 1, 8)]:
        assert kv.max_seq_len(s, free, batch, bits) == brute_max_seq(s, free, batch, bits)


def test_sliding_window_makes_any_context_fit_once_the_window_fits():
    mistral = kv.shape_of(PRESETS["Mistral-7B"])
    assert kv.max_seq_len(mistral, 512 * 2 ** 20, 1, 16) is None           # the full window fits
    assert kv.max_seq_len(mistral, 512 * 2 ** 20 - 1, 1, 16) == 4095


def test_largest_batch_hand_case():
    llama3 = kv.shape_of(PRESETS["Llama-3-8B"])
    # one 8192-token sequence is 1 GiB: 10.5 GiB free -> 10 sequences
    assert kv.max_batch(llama3, int(10.5 * kv.GIB), 8192, 16) == 10
    assert kv.max_batch(llama3, kv.GIB - 1, 8192, 16) == 0
    assert kv.max_batch(llama3, -1, 8192, 16) == 0
    mistral = kv.shape_of(PRESETS["Mistral-7B"])   # the window caps each sequence at 512 MiB
    assert kv.max_batch(mistral, 10 * kv.GIB, 2 ** 20, 16) == 20


def test_fit_check_llama3_8b_on_an_80gb_gpu():
    arch = PRESETS["Llama-3-8B"]
    cap = kv.capacity_bytes(80)
    assert cap == 80 * kv.GIB
    fits = {f.kind: f for f in kv.fit_check(arch, kv.shape_of(arch), 8192, 8, 16, 16, cap)}
    assert fits["GQA"].weights == param_count(arch)[0] * 2
    assert fits["GQA"].cache == 8 * kv.GIB and fits["GQA"].fits
    assert fits["MHA"].cache == 32 * kv.GIB
    # MHA has bigger k/v projections too: more weights
    assert fits["MHA"].weights > fits["GQA"].weights > fits["MQA"].weights
    for f in fits.values():
        s = kv.shape_of(arch).with_kv_heads({"MHA": 32, "GQA": 8, "MQA": 1}[f.kind])
        assert f.max_seq_len == kv.max_seq_len(s, cap - f.weights, 8, 16)
        assert kv.cache_bytes(s, f.max_seq_len, 8, 16) <= cap - f.weights < kv.cache_bytes(s, f.max_seq_len + 1, 8, 16)
        assert kv.cache_bytes(s, 8192, f.max_batch, 16) <= cap - f.weights < kv.cache_bytes(s, 8192, f.max_batch + 1, 16)


def test_weights_that_do_not_fit_leave_no_room():
    arch = PRESETS["Llama-3-70B"]
    fit = kv.fit_check(arch, kv.shape_of(arch), 1024, 1, 16, 16, kv.capacity_bytes(80))[1]
    assert fit.weights > fit.capacity and not fit.fits
    assert fit.max_seq_len == 0 and fit.max_batch == 0


def test_int4_weights_are_half_a_byte_per_parameter():
    arch = PRESETS["Llama-3-8B"]
    assert kv.weight_bytes(arch, 4) == -(-param_count(arch)[0] // 2)
    assert kv.weight_bytes(arch, 32) == param_count(arch)[0] * 4
