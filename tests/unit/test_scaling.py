"""Scale and choice: the lessons' table and scorecard, exactly, and the arithmetic behind them."""
import pytest

from explorer import scaling as s
from explorer.presets import PRESETS, param_count


def test_the_lessons_table_7b_on_140b_is_20_tokens_per_parameter_at_1x():
    r = s.LESSON[0]
    assert (r.params, r.tokens) == (7e9, 140e9)
    assert f"{r.tokens_per_param:.1f}" == "20.0" and f"{r.compute:.1f}x" == "1.0x"
    row = s.table([r])[0]
    assert (row["tokens / parameter"], row["compute proxy N·D"]) == ("20.0", "1.0x")


def test_the_lessons_table_175b_on_300b_is_1_7_tokens_per_parameter_at_53_6x():
    r = s.LESSON[1]
    assert (r.params, r.tokens) == (175e9, 300e9)
    row = s.table([r])[0]
    assert (row["tokens / parameter"], row["compute proxy N·D"]) == ("1.7", "53.6x")
    assert r.compute == pytest.approx(175 * 300 / (7 * 140))


def test_six_n_d_flops_and_the_compute_optimal_split():
    assert s.train_flops(7e9, 140e9) == pytest.approx(5.88e21)
    n, d = s.compute_optimal(s.train_flops(7e9, 140e9))
    assert n == pytest.approx(7e9) and d == pytest.approx(140e9)   # 7B on 140B is on the 20-tokens line
    n, d = s.compute_optimal(s.train_flops(175e9, 300e9))          # GPT-3's compute, spent the Chinchilla way
    assert d / n == pytest.approx(20) and n < 175e9


def test_preset_runs_count_parameters_from_their_configs():
    assert s.RUNS_BY_NAME["Llama-3-8B"].params == param_count(PRESETS["Llama-3-8B"])[0]
    assert s.RUNS_BY_NAME["Llama-2-7B"].params == param_count(PRESETS["Llama-2-7B"])[0]
    assert all(r.source for r in s.RUNS)
    assert s.RUNS_BY_NAME["Chinchilla"].tokens_per_param == pytest.approx(20)


def test_slider_values_hold_every_run_and_the_lessons_numbers():
    n, d = s.slider_values("params"), s.slider_values("tokens")
    for r in s.RUNS:
        assert int(round(r.params)) in n and int(round(r.tokens)) in d
    assert n == sorted(set(n)) and 7_000_000_000 in n and 140_000_000_000 in d


def test_human_numbers():
    assert [s.human(x) for x in (1.4e11, 6.738e9, 1.5e13, 175e9)] == ["140B", "6.74B", "15T", "175B"]


@pytest.mark.parametrize("key, name, points", [("live", "hosted-fast", "74.50"), ("audit", "hosted-deep", "84.40")])
def test_the_scorecard_picks_the_lessons_winner(key, name, points):
    w = s.winner(s.CANDIDATES, s.SCENARIOS[key])
    assert (w.candidate.name, f"{w.score:.2f}") == (name, points)


def test_live_support_and_nightly_audit_weights():
    assert (s.SCENARIOS["live"].latency_penalty, s.SCENARIOS["live"].cost_penalty) == (0.03, 8.0)
    assert (s.SCENARIOS["audit"].latency_penalty, s.SCENARIOS["audit"].cost_penalty) == (0.003, 4.0)


@pytest.mark.parametrize("key", ["live", "audit"])
def test_a_model_whose_licence_fails_never_wins(key):
    ranked = s.rank(s.CANDIDATES, s.SCENARIOS[key])
    assert not ranked[0].eligible                       # the best raw score fails the licence gate ...
    assert s.winner(s.CANDIDATES, s.SCENARIOS[key]).candidate.licence_ok   # ... and is passed over
    only_failing = [c for c in s.CANDIDATES if not c.licence_ok]
    assert s.winner(only_failing, s.SCENARIOS[key]) is None


def test_candidates_round_trip_through_the_link_and_bad_values_are_refused():
    text = s.format_candidates(s.CANDIDATES)
    assert s.parse_candidates(text) == s.CANDIDATES
    for bad in ("", "a:1:2:3", "a:<b>evil</b>:1:1:1", "a:101:1:1:1", "a:50:1:1:2", "a:nan:1:1:1",
                ";".join(["a:1:1:1:1"] * 9)):
        with pytest.raises(ValueError) as e:
            s.parse_candidates(bad)
        assert "evil" not in str(e.value)      # the reason in our words, never the link's text


def test_edited_candidates_are_clamped_and_named_safely():
    c = s.clamp(s.Candidate("a;b:<script>\x00", float("nan"), -5, 1e9, 1))
    assert c.name == "ab<script>" and (c.quality, c.p95_ms, c.cost, c.licence_ok) == (0.0, 0.0, 1000.0, True)
    assert s.clean_name("") == "model" and len(s.clean_name("x" * 100)) == 40


def test_table_edits_fold_into_the_candidates_clamped():
    rows = s.apply_edits(s.CANDIDATES, {"0": {"quality": 10, "cost": None}, 1: {"p95_ms": -3, "name": "a:b"},
                                        9: {"quality": 1}, 2: {"licence_ok": False, "unknown": 1}})
    assert rows[0] == s.Candidate("hosted-fast", 10.0, 150.0, 0.375, True)
    assert (rows[1].name, rows[1].p95_ms) == ("ab", 0.0)
    assert not rows[2].licence_ok and rows[3:] == s.CANDIDATES[3:]
    w = s.winner(rows, s.SCENARIOS["live"])      # hosted-deep renamed, with no latency: 91 - 0 - 8 x 0.75
    assert (w.candidate.name, f"{w.score:.2f}") == ("ab", "85.00")
