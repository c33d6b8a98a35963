"""RoPE math: the 2-D lesson numbers, relative-position invariance, decay, and context extension
(linear interpolation, NTK-aware, YaRN) against their definitions and against transformers' own code."""
import math

import numpy as np
import pytest
import torch

from explorer import rope as R


# ------------------------------------------------------------------ the 2-D lesson
def test_lesson_scores_are_pinned_to_six_decimals():
    q, k, theta = R.LESSON_Q, R.LESSON_K, R.LESSON_THETA
    assert round(float(R.score2d(q, k, 4, 2, theta)), 6) == 0.936998
    assert round(float(R.score2d(q, k, 14, 12, theta)), 6) == 0.936998
    assert round(float(R.score2d(q, k, 14, 2, theta)), 6) == -0.794779


def test_same_gap_gives_the_same_score_and_another_gap_does_not():
    q, k, theta = R.LESSON_Q, R.LESSON_K, R.LESSON_THETA
    a, b, c = (R.score2d(q, k, m, n, theta) for m, n in R.LESSON_CASES)
    assert a == pytest.approx(b, abs=1e-12)
    assert abs(a - c) > 1.0


def test_score_by_gap_closed_form_matches_rotating_both_vectors():
    q, k, theta = R.LESSON_Q, R.LESSON_K, R.LESSON_THETA
    for m, n in [(0, 0), (4, 2), (14, 2), (3, 17), (40, 0)]:
        assert R.score2d_by_gap(q, k, m - n, theta) == pytest.approx(R.score2d(q, k, m, n, theta), abs=1e-12)


def test_rotation_keeps_length_and_turns_by_the_angle():
    v = np.array([0.3, 0.9])
    w = R.rotate2d(v, 0.7)
    assert np.linalg.norm(w) == pytest.approx(np.linalg.norm(v), abs=1e-15)
    assert math.atan2(w[1], w[0]) - math.atan2(v[1], v[0]) == pytest.approx(0.7, abs=1e-12)
    assert np.allclose(R.rotate2d([1.0, 0.0], math.pi / 2), [0.0, 1.0], atol=1e-15)


# ------------------------------------------------------------------ full RoPE
def test_frequencies_follow_base_to_the_minus_two_i_over_d():
    assert np.allclose(R.inv_freq(4, 100.0), [1.0, 0.1], rtol=0, atol=1e-15)
    f = R.inv_freq(128, 10000.0)
    assert f[0] == 1.0 and f[-1] == pytest.approx(10000.0 ** (-126 / 128), rel=1e-14)
    assert np.all(np.diff(f) < 0)   # fast pairs first
    with pytest.raises(ValueError):
        R.inv_freq(7)


def test_frequencies_match_transformers_default_rope():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    cfg = LlamaConfig(hidden_size=256, num_attention_heads=4, head_dim=64, rope_parameters={"rope_theta": 500000.0,
                                                                                            "rope_type": "default"})
    theirs, scale = LlamaRotaryEmbedding.compute_default_rope_parameters(cfg)
    assert np.allclose(R.inv_freq(64, 500000.0), theirs.double().numpy(), rtol=1e-6, atol=0)
    assert scale == 1.0


@pytest.mark.parametrize("pairing", R.PAIRINGS)
def test_score_depends_only_on_the_gap_diagonals_constant_to_1e_9(pairing):
    rng = np.random.default_rng(7)
    for d, base in [(8, 10000.0), (64, 10000.0), (128, 500000.0)]:
        q, k = rng.normal(size=d), rng.normal(size=d)
        S = R.score_matrix(q, k, np.arange(64), R.inv_freq(d, base), pairing)
        assert S.dtype == np.float64
        assert R.diagonal_spread(S) < 1e-9
        assert np.ptp(S) > 1e-3   # not trivially constant: the gap does matter


def test_absolute_position_vectors_break_the_diagonal_invariance():
    # the check can fail: add a learned-style absolute position vector instead of rotating
    rng = np.random.default_rng(1)
    q, k, pos = rng.normal(size=16), rng.normal(size=16), rng.normal(size=(32, 16))
    S = (q + pos) @ (k + pos).T
    assert R.diagonal_spread(S) > 1.0


def test_half_and_interleaved_pairings_are_the_same_rotation_after_a_permutation():
    rng = np.random.default_rng(3)
    d, T = 16, 10
    x = rng.normal(size=(T, d))
    f = R.inv_freq(d)
    half = R.pair_dims(d, "half")            # (i, i + d/2)
    inter = R.pair_dims(d, "interleaved")    # (2i, 2i + 1)
    perm = np.empty(d, int)
    perm[inter.ravel()] = half.ravel()       # interleaved slot <- the half-layout dim of the same pair
    y_half = R.rotate(x, np.arange(T), f, "half")
    y_inter = R.rotate(x[:, perm], np.arange(T), f, "interleaved")
    assert np.allclose(y_inter, y_half[:, perm], atol=1e-13)
    assert not np.allclose(R.rotate(x, np.arange(T), f, "interleaved"), y_half)


def test_rotation_matches_transformers_rotate_half_on_random_vectors():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
    rng = np.random.default_rng(5)
    d, T = 32, 20
    f = R.inv_freq(d, 10000.0)
    q, k = rng.normal(size=(1, 2, T, d)), rng.normal(size=(1, 2, T, d))
    emb = np.concatenate([R.angles(np.arange(T), f)] * 2, axis=-1)[None]   # HF: cat(freqs, freqs)
    qt, kt = apply_rotary_pos_emb(torch.tensor(q), torch.tensor(k), torch.tensor(np.cos(emb)),
                                  torch.tensor(np.sin(emb)))
    assert np.allclose(R.rotate(q, np.arange(T), f, "half"), qt.numpy(), atol=1e-12)
    assert np.allclose(R.rotate(k, np.arange(T), f, "half"), kt.numpy(), atol=1e-12)


def test_partial_rotary_leaves_the_tail_dims_alone():
    x = np.arange(12, dtype=float).reshape(1, 12)
    y = R.rotate(x, [5], R.inv_freq(8), "half")
    assert np.array_equal(y[:, 8:], x[:, 8:]) and not np.allclose(y[:, :8], x[:, :8])


def test_expected_score_is_one_at_distance_zero_and_decays_with_distance():
    f = R.inv_freq(128, 10000.0)
    e = R.expected_score(np.arange(0, 4097), f)
    assert e[0] == pytest.approx(1.0, abs=1e-15)
    bands = [e[a:b].mean() for a, b in [(0, 64), (64, 256), (256, 512), (512, 1024), (1024, 2048), (2048, 4096)]]
    assert all(x > y for x, y in zip(bands, bands[1:]))   # band averages fall with distance
    # equals the all-ones rotated dot product divided by d
    ones = np.ones(128)
    for dist in (0, 3, 100, 3000):
        s = R.rotate(ones[None], [dist], f) @ ones
        assert s[0] / 128 == pytest.approx(R.expected_score([dist], f)[0], abs=1e-12)


def test_a_larger_base_decays_more_slowly():
    d = np.arange(1, 4097)
    e10k = R.expected_score(d, R.inv_freq(128, 10_000.0))
    e500k = R.expected_score(d, R.inv_freq(128, 500_000.0))
    assert e500k.mean() > e10k.mean()


def test_roformer_bound_starts_at_the_mean_partial_sum_length_and_shrinks():
    f = R.inv_freq(128)
    b = R.roformer_bound(np.array([0, 16, 256, 4096]), f)
    assert b[0] == pytest.approx(np.arange(1, 65).mean())
    assert b[0] > b[1] > b[3]


# ------------------------------------------------------------------ context extension
def _hf_config(rope: dict, head_dim=64, max_pos=32768):
    from transformers import LlamaConfig
    return LlamaConfig(hidden_size=head_dim * 4, num_attention_heads=4, head_dim=head_dim,
                       max_position_embeddings=max_pos, rope_parameters=rope)


def test_linear_interpolation_divides_every_frequency_by_the_factor():
    s = R.linear_interpolation(8, 100.0, 4.0)
    assert np.allclose(s.inv_freq, [1 / 4, 100 ** -0.25 / 4, 0.1 / 4, 100 ** -0.75 / 4], atol=1e-15)
    assert s.attention_factor == 1.0
    # a position m*factor under PI turns exactly like position m did before
    assert np.allclose(R.angles([4096 * 4], s.inv_freq), R.angles([4096], R.inv_freq(8, 100.0)))


def test_linear_interpolation_matches_transformers():
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    theirs, att = ROPE_INIT_FUNCTIONS["linear"](_hf_config({"rope_type": "linear", "rope_theta": 10000.0,
                                                              "factor": 8.0}))
    assert np.allclose(R.linear_interpolation(64, 10000.0, 8.0).inv_freq, theirs.double().numpy(), rtol=1e-6)
    assert att == 1.0


def test_ntk_base_keeps_the_fastest_pair_and_interpolates_the_slowest_by_the_factor():
    d, base, s = 16, 10000.0, 8.0
    new = R.ntk_aware(d, base, s)
    old = R.inv_freq(d, base)
    assert new.detail["base"] == pytest.approx(base * s ** (16 / 14))
    assert new.inv_freq[0] == old[0] == 1.0
    assert new.inv_freq[-1] == pytest.approx(old[-1] / s, rel=1e-12)
    assert np.all(new.inv_freq <= old + 1e-15) and np.all(new.inv_freq >= old / s - 1e-15)


def test_ntk_matches_transformers_dynamic_ntk_at_the_target_length():
    # HF's dynamic NTK uses alpha = factor * L / L0 - (factor - 1); with factor 1 at L = s * L0, alpha = s
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    cfg = _hf_config({"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 1.0}, max_pos=4096)
    theirs, _ = ROPE_INIT_FUNCTIONS["dynamic"](cfg, seq_len=32768)
    assert np.allclose(R.ntk_aware(64, 10000.0, 8.0).inv_freq, theirs.double().numpy(), rtol=1e-5)


def test_yarn_keeps_fast_pairs_interpolates_slow_pairs_and_ramps_between():
    d, base, s, L = 128, 10000.0, 8.0, 4096
    y = R.yarn(d, base, s, L)
    theta = R.inv_freq(d, base)
    turns = L / R.wavelengths(theta)          # r_i = L / lambda_i
    fast, slow = turns > 32, turns < 1
    assert fast.any() and slow.any()
    assert np.allclose(y.inv_freq[fast], theta[fast], rtol=1e-12)          # extrapolation: untouched
    assert np.allclose(y.inv_freq[slow], theta[slow] / s, rtol=1e-12)      # interpolation: theta / s
    mid = ~fast & ~slow
    assert np.all(y.inv_freq[mid] <= theta[mid] + 1e-15) and np.all(y.inv_freq[mid] >= theta[mid] / s - 1e-15)
    ratio = y.inv_freq / theta
    assert np.all(np.diff(ratio) <= 1e-12)    # monotone ramp from 1 down to 1/s
    assert y.attention_factor == pytest.approx(0.1 * math.log(8) + 1)
    assert R.yarn_mscale(1.0) == 1.0


def test_yarn_correction_dim_is_where_the_pair_fits_n_turns_into_the_context():
    d, base, L = 128, 10000.0, 4096
    i = R.yarn_correction_dim(32, d, base, L)
    wavelength = 2 * math.pi * base ** (2 * i / d)
    assert L / wavelength == pytest.approx(32, rel=1e-12)


def test_yarn_matches_transformers():
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    for head_dim, base, factor, orig in [(64, 10000.0, 8.0, 4096), (128, 500000.0, 4.0, 8192), (32, 10000.0, 2.0, 512)]:
        cfg = _hf_config({"rope_type": "yarn", "rope_theta": base, "factor": factor,
                          "original_max_position_embeddings": orig}, head_dim=head_dim, max_pos=int(orig * factor))
        theirs, att = ROPE_INIT_FUNCTIONS["yarn"](cfg)
        ours = R.yarn(head_dim, base, factor, orig)
        assert np.allclose(ours.inv_freq, theirs.double().numpy(), rtol=1e-5), (head_dim, base)
        assert ours.attention_factor == pytest.approx(att)


def test_settings_from_a_yarn_config_match_the_models_rotary_buffer():
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    cfg = _hf_config({"rope_type": "yarn", "rope_theta": 10000.0, "factor": 8.0,
                      "original_max_position_embeddings": 4096})
    emb = LlamaRotaryEmbedding(cfg)
    s = R.settings_from_config(cfg)
    assert np.allclose(s.inv_freq, emb.inv_freq.double().numpy(), rtol=1e-5)
    assert s.attention_scaling == pytest.approx(emb.attention_scaling)


def test_stretched_curves_under_interpolation_replay_the_original_context():
    # PI over 0..32K is the original curve over 0..4K, squeezed: the model sees only trained angles
    ms = R.extension_methods(128, 10000.0, 8.0, 4096)
    d = np.arange(0, 32768, 8)
    assert np.allclose(R.expected_score(d, ms["linear"].inv_freq), R.expected_score(d / 8, ms["original"].inv_freq),
                       atol=1e-12)


# ------------------------------------------------------------------ learned positions (contrast)
def test_cosine_matrix_has_a_unit_diagonal_and_is_symmetric():
    v = np.random.default_rng(0).normal(size=(6, 4))
    c = R.cosine_matrix(v)
    assert np.allclose(np.diag(c), 1.0) and np.allclose(c, c.T) and np.all(np.abs(c) <= 1 + 1e-12)


def _ulps(a: np.ndarray, b: np.ndarray) -> int:
    """Largest distance between two float32 arrays in units in the last place."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return int(np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64)).max())


@pytest.mark.parametrize("d, base", [(32, 10000.0), (64, 100000.0), (128, 500000.0)])
def test_float32_frequencies_are_within_a_few_ulp_of_the_models_rotary_buffer(d, base):
    # Anchored to what a model holds (its rotary `inv_freq` buffer), not to a re-typed copy of the formula.
    # numpy's and torch's float32 pow may round the last bit differently (seen: 2 ulp with transformers 5.24),
    # so the bound is 4 ulp (relative ~5e-7): at position 1,000 that moves an angle by < 1e-3 rad x 5e-7.
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    cfg = LlamaConfig(hidden_size=d * 4, num_attention_heads=4, head_dim=d,
                      rope_parameters={"rope_theta": base, "rope_type": "default"})
    buffer = LlamaRotaryEmbedding(cfg).inv_freq.numpy()
    assert buffer.dtype == np.float32
    assert _ulps(R.inv_freq_float32(d, base), buffer) <= 4
    assert np.allclose(R.inv_freq_float32(d, base), R.inv_freq(d, base), rtol=1e-6)


def test_float32_frequencies_match_the_bundled_llamas_own_buffer(load_bundled):
    lm = load_bundled("tiny-llama")
    cfg = lm.model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    buffer = lm.model.model.rotary_emb.inv_freq.float().numpy()
    assert _ulps(R.inv_freq_float32(head_dim, float(cfg.rope_parameters["rope_theta"])), buffer) <= 4


def test_turned_angles_count_whole_turns_and_recover_m_theta():
    from explorer import rope as R
    theta = 0.9
    positions = np.arange(20)
    pre = {0: np.tile([[1.0, 0.5]], (20, 1))}
    post = {0: R.rotate2d(pre[0], positions * theta)}
    turned = R.turned_angles(pre, post)[0]
    np.testing.assert_allclose(turned, positions * theta, atol=1e-9)     # past 2π: unwrapped, not folded back


def test_position_contrast_compares_the_trained_positions_and_rope_is_gap_only():
    from explorer import rope as R
    rng = np.random.default_rng(0)
    table = rng.normal(size=(300, 16))
    C = R.cosine_matrix(table)
    pc = R.position_contrast(C, npos=300, trained=100, head_dim=16)
    assert pc.n == 100 and pc.stride == 2 and len(pc.idx) == 150
    assert pc.rope_spread < 1e-9 < pc.learned_spread
    assert pc.learned_spread == pytest.approx(R.diagonal_spread(C[:100, :100]))
    np.testing.assert_allclose(pc.rope_std, 0, atol=1e-9)
    assert 0.05 <= pc.clip <= 1.0 and pc.gaps[-1] == 99


def test_head_dim_and_default_pairs():
    from transformers import GPT2Config

    from explorer import rope as R
    assert R.head_dim_of(GPT2Config()) == 64 and R.head_dim_of(GPT2Config(n_embd=128, n_head=4)) == 32
    assert R.default_pairs(16) == [0, 1, 4, 15] and R.default_pairs(2) == [0, 1]


# ------------------------------------------------------------------ what the page shows (issue 13: out of the page)
def test_lesson_2d_scores_the_lessons_cases_and_the_sliders_position():
    v = R.lesson_2d(14, 2, R.LESSON_THETA)
    assert v.score == pytest.approx(-0.794779, abs=1e-6) == v.score_at(14, 2)
    assert v.cards() == [("(4, 2) and (14, 12): gap 2", "0.936998"), ("(14, 2): gap 12", "-0.794779")]
    assert v.rows()[1] == {"m": 14, "n": 12, "gap m − n": 2, "score": "0.936998"}
    assert v.gaps.tolist() == list(range(-40, 41)) and len(v.smooth) == 641
    np.testing.assert_allclose(v.gap_scores, [R.score2d(v.q, v.k, g, 0, v.theta) for g in v.gaps], atol=1e-12)
    nums = v.numbers()
    np.testing.assert_allclose(nums["q_rotated"] @ nums["k_rotated"], v.score)


def test_rotation_values_and_speed_note_of_full_rope():
    freqs, pos = R.inv_freq(8, 100.0), np.arange(5)
    np.testing.assert_allclose(R.rotation_values(freqs, pos, "cos"), np.cos(np.outer(freqs, pos)))
    angle = R.rotation_values(freqs, pos, "angle")
    assert angle.shape == (4, 5) and (0 <= angle).all() and (angle < 2 * np.pi).all()
    note = R.speed_note(freqs)
    assert note.startswith("Pair 0: θ = 1 rad/token, one turn every 6.28 tokens.") and "Pair 3: θ = 0.0316" in note


def test_random_score_matrix_depends_only_on_the_gap():
    freqs = R.inv_freq(16)
    S, q, k, spread = R.random_score_matrix(freqs, 256, seed=3)
    assert S.shape == (64, 64) and q.shape == k.shape == (16,) and spread < 1e-9
    S2, *_ = R.random_score_matrix(freqs, 20, seed=3)
    np.testing.assert_allclose(S2, S[:20, :20])


def test_decay_measures_name_each_measure_of_decay_by_base():
    assert set(R.DECAY_MEASURES) == {"ones", "bound"}
    for measure in R.DECAY_MEASURES:
        R.decay_by_base(64, 10000, 512, measure)                 # each measure is one decay_by_base knows


def test_extension_compares_the_chosen_methods_with_the_original():
    x = R.extension(128, 10000, 4096, 32768, ["ntk", "yarn"])
    assert x.factor == 8 and list(x.shown) == ["original", "ntk", "yarn"] and len(x.pairs) == 64
    ratios = x.ratios()
    np.testing.assert_allclose(ratios[x.methods["original"].label], 1)
    assert ratios[x.methods["ntk"].label][-1] == pytest.approx(1 / 8)     # NTK squeezes the slowest pair by s
    assert x.ratio_ticks() == {1.0: "1", 0.5: "1/2", 0.25: "1/4", 0.125: "1/8"}
    y = x.methods["yarn"]
    assert x.ramp() == (y.detail["low"], y.detail["high"])
    assert R.extension(128, 10000, 4096, 32768, ["linear"]).ramp() is None
    assert "= **8**" in x.note() and "82,685" in x.note() and "1.2079" in x.note()


def test_table_notes_name_the_tables_end():
    assert "no vector for position 1024." in R.table_note(1024, False)
    assert R.table_note(256, True).endswith("real GPT-2's is smooth and banded.")
    assert "positions beyond 255" in R.untrained_note(256)


def test_position_contrast_names_its_numbers_and_tables_them_by_gap():
    from explorer.text import md
    pc = R.position_contrast(R.rope_cosines(16, 40), 32, None, 16)
    (l_label, l_value, l_help), (r_label, r_value, _) = pc.numbers("tiny *GPT-2*")
    assert (l_label, l_value) == ("Diagonal spread, learned table", f"{pc.learned_spread:.2f}")
    assert l_help.startswith(md("tiny *GPT-2*") + ": ") and l_help.endswith("the first 32 positions")
    assert (r_label, r_value) == ("Diagonal spread, RoPE (d = 16)", f"{pc.rope_spread:.0e}")
    table = pc.by_gap()
    assert list(table) == ["gap", "learned_mean", "learned_std", "rope_mean", "rope_std"]
    np.testing.assert_array_equal(table["gap"], pc.gaps)
