"""Efficient attention, the math: window masks by hand, receptive fields, the tiled online softmax against
standard attention and torch's SDPA, and the memory-traffic counts by hand."""
import numpy as np
import pytest
import torch

from explorer import efficient as E


# ------------------------------------------------------------------ masks
def test_window_of_three_by_hand():
    expected = np.array([[1, 0, 0, 0, 0],
                         [1, 1, 0, 0, 0],
                         [1, 1, 1, 0, 0],
                         [0, 1, 1, 1, 0],
                         [0, 0, 1, 1, 1]], dtype=bool)
    assert np.array_equal(E.window_mask(5, 3), expected)


def test_window_of_one_is_the_diagonal_and_a_long_window_is_the_causal_mask():
    assert np.array_equal(E.window_mask(6, 1), np.eye(6, dtype=bool))
    for w in (6, 7, 100, None):
        assert np.array_equal(E.window_mask(6, w), E.causal_mask(6).astype(bool))


def test_window_must_hold_a_token():
    with pytest.raises(ValueError):
        E.window_mask(4, 0)


def test_visible_keys_and_pairs():
    assert list(E.visible_keys(6, 3)) == [1, 2, 3, 3, 3, 3]
    assert list(E.visible_keys(4, None)) == [1, 2, 3, 4]
    assert E.attended_pairs(5, 3) == 1 + 2 + 3 + 3 + 3 == 12
    assert E.attended_pairs(16384, None) == 16384 * 16385 // 2
    assert E.attended_pairs(16384, 4096) == 4096 * 4097 // 2 + (16384 - 4096) * 4096
    for t in (1, 2, 7, 20):
        for w in (None, 1, 3, 7, 30):
            assert E.attended_pairs(t, w) == E.window_mask(t, w).sum() == E.visible_keys(t, w).sum()


@pytest.mark.parametrize("t, w, cells", [(10, 3, 4), (12, None, 4), (17, 5, 6), (9, 9, 3), (8, 1, 8)])
def test_pooled_mask_is_the_block_mean_of_the_mask(t, w, cells):
    share = E.pooled_mask(t, w, cells)
    m = E.window_mask(t, w).astype(float)
    size = -(-t // cells)
    for a in range(share.shape[0]):
        for b in range(share.shape[1]):
            block = m[a * size:(a + 1) * size, b * size:(b + 1) * size]
            assert share[a, b] == pytest.approx(block.mean())


def test_pooled_mistral_mask_stays_small():
    share = E.pooled_mask(16384, E.MISTRAL_WINDOW, 128)
    assert share.shape == (128, 128)
    assert share[-1, 0] == 0 and share[-1, -1] > 0 and share[0, -1] == 0   # far past: hidden; future: hidden


def test_receptive_field_grows_by_window_minus_one_per_layer():
    reach = E.receptive_field(10, 3, 3, 9)
    assert [list(np.flatnonzero(r)) for r in reach] == [[9], [7, 8, 9], [5, 6, 7, 8, 9], [3, 4, 5, 6, 7, 8, 9]]
    assert [E.reach_span(3, layer, 9) for layer in range(4)] == [1, 3, 5, 7]
    assert E.reach_span(3, 10, 9) == 10                     # capped by the tokens before it
    assert E.reach_span(E.MISTRAL_WINDOW, 32) == 32 * 4095 + 1 == 131_041   # Mistral-7B: about 131K
    assert E.reach_span(None, 5) is None and E.reach_span(None, 5, 6) == 7
    full = E.receptive_field(6, None, 1, 5)
    assert full[1].all()


def test_receptive_field_rejects_a_token_outside_the_text():
    with pytest.raises(ValueError):
        E.receptive_field(4, 2, 1, 4)


# ------------------------------------------------------------------ tiled attention
SHAPES = [(1, 4, 1, 1), (5, 3, 2, 3), (16, 8, 4, 4), (37, 16, 8, 16), (64, 32, 16, 8), (100, 64, 32, 32)]


def sdpa(q, k, v, causal, window):
    mask = torch.from_numpy(E.window_mask(len(q), window)) if causal or window is not None else None
    t = [torch.from_numpy(x)[None] for x in (q, k, v)]
    return torch.nn.functional.scaled_dot_product_attention(*t, attn_mask=mask)[0].numpy()


@pytest.mark.parametrize("t, d, bq, bk", SHAPES)
@pytest.mark.parametrize("causal, window", [(False, None), (True, None), (True, 3), (True, 16)])
def test_tiled_online_softmax_equals_standard_attention_and_sdpa(t, d, bq, bk, causal, window):
    q, k, v = E.random_qkv(t, d, seed=t + d)
    tiled = E.tiled_attention(q, k, v, bq, bk, causal, window, row=t - 1)
    standard, p, _ = E.standard_attention(q, k, v, causal, window)
    assert np.abs(tiled.out - standard).max() < 1e-5
    assert np.abs(tiled.out - sdpa(q, k, v, causal, window)).max() < 1e-5
    assert np.allclose(p.sum(1), 1, atol=1e-6)
    if causal:
        assert (p[~E.window_mask(t, window)] == 0).all()


def test_large_scores_do_not_overflow():
    q, k, v = E.random_qkv(24, 8, seed=3)
    tiled = E.tiled_attention(q * 40, k * 40, v, 5, 7, causal=True)
    standard, _, _ = E.standard_attention(q * 40, k * 40, v, causal=True)
    assert np.isfinite(tiled.out).all() and np.abs(tiled.out - standard).max() < 1e-5


@pytest.mark.parametrize("causal, window", [(False, None), (True, None), (True, 5)])
def test_running_max_and_sum_end_at_the_softmax_statistics(causal, window):
    q, k, v = E.random_qkv(40, 8, seed=7)
    row = 29
    r = E.tiled_attention(q, k, v, 8, 8, causal, window, row=row)
    mine = [s for s in r.steps if s.row_in_tile]
    true_m, true_l = E.row_softmax_stats(q, k, row, causal, window)
    assert mine[-1].m == pytest.approx(true_m, abs=1e-6) and mine[-1].l == pytest.approx(true_l, rel=1e-5)
    ms = [s.m for s in mine]
    assert ms == sorted(ms)                                  # the running max never goes down
    assert np.abs(mine[-1].out - E.standard_attention(q, k, v, causal, window)[0][row]).max() < 1e-5
    assert r.m[row] == pytest.approx(true_m, abs=1e-6)


def test_tracked_row_before_its_tile_has_no_statistics():
    q, k, v = E.random_qkv(8, 2)
    r = E.tiled_attention(q, k, v, 4, 4, row=6)
    first = r.steps[0]
    assert not first.row_in_tile and first.m == -np.inf and first.l == 0 and not first.out.any()


def test_schedule_skips_tiles_in_the_future_and_before_the_window():
    assert E.tile_schedule(8, 4, 4, causal=False) == [(0, [0, 1]), (1, [0, 1])]
    assert E.tile_schedule(8, 4, 4, causal=True) == [(0, [0]), (1, [0, 1])]
    assert E.tile_schedule(8, 2, 2, causal=True, window=2) == [(0, [0]), (1, [0, 1]), (2, [1, 2]), (3, [2, 3])]
    assert E.tile_schedule(5, 2, 3, causal=True) == [(0, [0]), (1, [0, 1]), (2, [0, 1])]
    q, k, v = E.random_qkv(8, 2)
    assert E.tiled_attention(q, k, v, 4, 4, causal=True).skipped == 1


# ------------------------------------------------------------------ traffic, by hand
def test_standard_traffic_by_hand():
    t = E.standard_traffic(4, 2)
    assert t.reads == {"Q": 8, "K": 8, "S": 16, "P": 16, "V": 8}
    assert t.writes == {"S": 16, "P": 16, "O": 8}
    assert t.elements == 4 * 4 * 2 + 4 * 16 == 96 == E.standard_traffic_elements(4, 2)
    assert t.bytes(2) == 192


def test_tiled_traffic_by_hand():
    full = E.tiled_traffic(8, 2, 4, 4, causal=False)     # 2 query tiles, each reads all 8 keys and values
    assert full.reads == {"Q": 16, "K": 32, "V": 32} and full.writes == {"O": 16}
    assert full.elements == 96 == (2 + 2 * 2) * 8 * 2
    causal = E.tiled_traffic(8, 2, 4, 4, causal=True)    # tile 0 reads keys 0-3; tile 1 reads keys 0-7
    assert causal.reads == {"Q": 16, "K": 24, "V": 24} and causal.elements == 80
    ragged = E.tiled_traffic(5, 1, 2, 3, causal=True)    # key widths 3, 5, 5
    assert ragged.reads == {"Q": 5, "K": 13, "V": 13} and ragged.elements == 36
    windowed = E.tiled_traffic(8, 1, 2, 2, causal=True, window=2)   # 7 key tiles of 2
    assert windowed.reads["K"] == 14


@pytest.mark.parametrize("t, d, bq, bk", SHAPES + [(1000, 64, 64, 128), (130, 16, 128, 64)])
@pytest.mark.parametrize("causal", [False, True])
def test_the_implementations_count_what_the_formulas_say(t, d, bq, bk, causal):
    q, k, v = E.random_qkv(t, d)
    r = E.tiled_attention(q, k, v, bq, bk, causal)
    assert r.traffic.reads == E.tiled_traffic(t, d, bq, bk, causal).reads
    assert r.traffic.elements == E.tiled_traffic_elements(t, d, bq, bk, causal)
    _, _, std = E.standard_attention(q, k, v, causal)
    assert std.reads == E.standard_traffic(t, d).reads and std.writes == E.standard_traffic(t, d).writes
    w = 7
    assert E.tiled_attention(q, k, v, bq, bk, True, w).traffic.reads == E.tiled_traffic(t, d, bq, bk, True, w).reads


def test_traffic_at_128k_tokens():
    t, d = 131072, 128
    std = E.standard_traffic_elements(t, d)
    assert std == 4 * t * d + 4 * t * t
    tiled = E.tiled_traffic_elements(t, d, 128, 128, causal=False)
    assert tiled == (2 + 2 * 1024) * t * d
    # S and P cost 4 T^2; K and V cost 2 T^2 d / B_q: for T >> d the ratio is 2 B_q / d (here 2), 4 B_q / d causal
    assert std / tiled == pytest.approx(2 * 128 / d, rel=0.01)
    assert std / E.tiled_traffic_elements(t, d, 128, 128, causal=True) == pytest.approx(4 * 128 / d, rel=0.01)
    assert E.standard_traffic_elements(np.array([4, 8]), 2).tolist() == [96, 4 * 8 * 2 + 4 * 64]


def test_sram_use_by_hand():
    assert E.sram_elements(64, 128, 64) == 2 * 128 * 64 + 2 * 64 * 64 + 128 * 64 + 2 * 128


# ------------------------------------------------------------------ what the page shows (issue 13: out of the page)
def test_window_label_names_no_window_and_groups_thousands():
    assert [E.window_label(w) for w in (0, None, 3, 4096)] == ["none", "none", "3", "4,096"]


def test_grid_table_flattens_matrices_row_by_row():
    a = np.array([[1, 0, 0], [1, 1, 0]], dtype=bool)
    b = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = E.grid_table({"sliding window 3": a, "b": b}, rows="layer", cols="position")
    assert list(t) == ["layer", "position", "sliding_window_3", "b"]
    assert t["layer"].tolist() == [0, 0, 0, 1, 1, 1] and t["position"].tolist() == [0, 1, 2, 0, 1, 2]
    assert t["sliding_window_3"].tolist() == [1, 0, 0, 1, 1, 0] and t["b"].dtype == np.float32
    assert [t["b"][i] for i in range(6) if t["layer"][i] == 1 and t["position"][i] == 2] == [b[1, 2]]


def test_reach_note_states_the_formula_and_mistrals_reach():
    note = E.reach_note(4, 4, 23)
    assert "4 × (4 − 1) + 1 = **13**" in note and "(here 13 of the 24 up to it)" in note
    assert E.reach_span(E.MISTRAL_WINDOW, 32) == 131041 and "32 layers × 4,095 + 1 = **131,041** tokens" in note
    assert "(here 3 of the 3 up to it)" in E.reach_note(4, 4, 2)         # capped by the token's position


@pytest.mark.parametrize("t, bq, bk, causal, window", [(16, 4, 4, True, None), (24, 8, 4, True, 5),
                                                      (13, 4, 3, False, None)])
def test_tiled_result_traces_the_tracked_row_step_by_step(t, bq, bk, causal, window):
    q, k, v = E.random_qkv(t, 8, seed=1)
    r = E.tiled_attention(q, k, v, bq, bk, causal, window, row=t - 1)
    n_steps = E.n_tile_steps(t, bq, bk, causal, window)
    assert n_steps == len(r.steps)
    trace = r.row_trace(n_steps)
    mine = [s for s in r.steps if s.row_in_tile]
    assert trace["row_step"] == list(range(1, len(mine) + 1)) and len(r.row_labels()) == len(mine)
    assert trace["m"][-1] == pytest.approx(E.row_softmax_stats(q, k, t - 1, causal, window)[0])
    assert r.row_trace(0) == {"row_step": [], "m": [], "l": []}
    assert r.step_name(0) == "nothing computed yet"
    assert r.step_name(1) == f"query tile 0 × key tile {r.schedule[0][1][0]}"


def test_row_labels_name_each_key_tile_and_its_keys():
    q, k, v = E.random_qkv(10, 4)
    r = E.tiled_attention(q, k, v, 4, 4, causal=True, row=9)           # query tile 2 reads key tiles 0, 1, 2
    assert r.row_labels() == ["step 4: key tile 0 (keys 0–3)", "step 5: key tile 1 (keys 4–7)",
                              "step 6: key tile 2 (keys 8–9)"]


def test_traffic_note_states_the_formulas_and_what_the_code_counted():
    counted = E.tiled_attention(*E.random_qkv(256, 16), 64, 32, True).traffic.elements
    note = E.traffic_note(4096, 16, 64, 32, True, 2, 256, counted)
    assert f"counted **{counted:,}** elements at T = 256 — the formula says {counted:,}." in note
    assert "Σ over query tiles" in note and "On chip per step: " in note
    assert "2·⌈T/B_q⌉·T·d = 2·64·T·d" in E.traffic_note(4096, 16, 64, 32, False, 2, 256, counted)


def test_long_mask_figure_names_its_window_and_blocks():
    from explorer.charts import efficient as charts
    fig = charts.pooled_panel(E.pooled_mask(1024, 3, 128), 1024, 3)
    assert fig.layout.title.text == "window 3 over 1,024 tokens (blocks of 8 × 8 pairs)"
    fig = charts.pooled_panel(E.pooled_mask(16384, None, 128), 16384, None)
    assert fig.layout.title.text == "window none over 16,384 tokens (blocks of 128 × 128 pairs)"
