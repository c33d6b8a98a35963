"""Engine helpers that pages call instead of computing in the page (issue 13): each against the engine's own
building blocks or the lesson's numbers."""
import numpy as np
import pytest

from explorer import attention as A
from explorer import efficient as E
from explorer import kvcache as kv
from explorer import moe
from explorer import rope
from explorer.presets import PRESETS


def test_rope_lesson_cards_group_the_lessons_cases_by_gap():
    marks, by_gap = rope.lesson_cards(rope.LESSON_Q, rope.LESSON_K, rope.LESSON_THETA)
    assert [(a, b) for a, b, _ in marks] == [(4, 2), (14, 12), (14, 2)]
    assert [round(s, 6) for _, _, s in marks] == [0.936998, 0.936998, -0.794779]
    assert list(by_gap) == [2, 12] and [(a, b) for a, b, _ in by_gap[2]] == [(4, 2), (14, 12)]


def test_rope_decay_by_base_compares_the_chosen_base_with_10k_and_500k():
    dist, curves = rope.decay_by_base(64, 100, 512, "ones")
    assert list(curves) == ["base 100", "base 10,000", "base 500,000"] and len(dist) == 513
    np.testing.assert_allclose(curves["base 10,000"], rope.expected_score(dist, rope.inv_freq(64, 10000.0)))
    assert curves["base 100"][0] == pytest.approx(1.0)
    _, bound = rope.decay_by_base(64, 10000, 512, "bound")
    assert list(bound) == ["base 10,000", "base 500,000"]
    np.testing.assert_allclose(bound["base 10,000"], rope.roformer_bound(dist, rope.inv_freq(64, 10000.0)))


def test_rope_extension_decay_log_bins_each_methods_expected_score():
    methods = rope.extension_methods(128, 10000.0, 8.0, 4096)
    centre, curves = rope.extension_decay(methods, 32768)
    assert list(curves) == [m.label for m in methods.values()]
    c, mean = rope.log_binned_mean(rope.expected_score(np.arange(32769), methods["yarn"].inv_freq,
                                                       methods["yarn"].attention_factor))
    np.testing.assert_allclose(centre, c)
    np.testing.assert_allclose(curves[methods["yarn"].label], mean)


def test_kv_preset_values_and_fit_rows():
    arch = PRESETS["Mistral-7B"]
    assert kv.preset_values(arch) == {"layers": arch.n_layers, "heads": arch.n_heads, "kv": arch.n_kv_heads,
                                      "hd": arch.head_dim, "window": arch.sliding_window or 0}
    arch = PRESETS["Llama-3-8B"]
    shape = kv.shape_of(arch)
    fits = kv.fit_check(arch, shape, 8192, 8, 16, 16, kv.capacity_bytes(80, 0.9))
    labels = {f.kind: f"{f.kind} label" for f in fits}
    rows = kv.fit_rows(fits, labels, 8192, 8, arch.max_positions)
    assert [r["attention"] for r in rows] == [labels[f.kind] for f in fits]
    assert [r["fits?"] == "✅ yes" for r in rows] == [f.fits for f in fits]
    assert [r["largest batch at 8,192 tokens"] for r in rows] == [f"{f.max_batch:,}" for f in fits]


def test_efficient_traffic_curves_are_the_two_formulas():
    lengths, std, tiled = E.traffic_curves([256, 1024], 64, 128, 64, True)
    assert lengths.tolist() == [256, 1024]
    assert std.tolist() == [int(E.standard_traffic_elements(t, 64)) for t in (256, 1024)]
    assert tiled.tolist() == [E.tiled_traffic_elements(t, 64, 128, 64, True) for t in (256, 1024)]
    assert (tiled < std).all()


def test_attention_mask_note_reads_the_weights():
    causal = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    assert "largest weight above the diagonal is 0" in A.mask_note(causal, True)
    full = np.full((2, 2), 0.5)
    assert "25% of the weight" in A.mask_note(full, False)


def test_moe_scaling_expert_counts_start_at_top_k_and_include_the_choice():
    assert moe.scaling_expert_counts(8, 2) == [2, 4, 8, 16, 32, 64, 128]
    assert moe.scaling_expert_counts(12, 1) == [1, 2, 4, 8, 12, 16, 32, 64, 128]
    assert moe.scaling_expert_counts(6, 5) == [6, 8, 16, 32, 64, 128]
