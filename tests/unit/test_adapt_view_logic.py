"""The Train & adapt page's numbers and lines, built in the engine (explorer.scaling, explorer.adapt)."""
from explorer import adapt
from explorer import scaling as sc
from explorer.presets import PRESETS


def test_the_sliders_run_keeps_the_presets_name_until_moved():
    chinchilla = sc.RUNS_BY_NAME["Chinchilla"]
    assert sc.sliders_run(chinchilla, int(chinchilla.params), int(chinchilla.tokens)).name == "Chinchilla"
    mine = sc.sliders_run(chinchilla, 7_000_000_000, 140_000_000_000)
    assert mine.name == sc.YOURS and mine.compute == 1.0
    labels = [m[0] for m in sc.headline(mine)]
    assert labels[0] == "Tokens per parameter D / N" and sc.headline(mine)[0][1] == "20.0"
    assert sc.headline(mine)[3][1] == "7B/140B"          # 7B on 140B tokens is compute-optimal


def test_the_plane_and_its_table_hold_the_same_runs():
    points = sc.plane_points()
    assert [p["name"] for p in points] == [r.name for r in sc.RUNS if r.key in sc.LABEL_POS]
    mine = sc.Run(sc.YOURS, 1e9, 2e10, "")
    t = sc.plane_table(points, mine)
    assert t["run"][-1] == sc.YOURS and t["parameters"][-1] == 1e9 and len(t["tokens"]) == len(points) + 1
    assert len(sc.sources()) == len(sc.RUNS)


def test_the_verdict_escapes_names_and_the_scorecard_ranks_best_first():
    cands = [sc.Candidate("a*b", 80, 100, 1, True), sc.Candidate("c", 90, 100, 1, False)]
    s = sc.Scenario("<i>x</i>", 0.01, 1.0)
    best = sc.winner(cands, s)
    assert best.candidate.name == "a*b" and "a\\*b" in sc.verdict(s, best) and "<i>" not in sc.verdict(s, best)
    ranked = sc.rank(cands, s)
    assert sc.scorecard_table(ranked)["model"] == ["c", "a*b"]
    assert [r["eligible"] for r in sc.scorecard_rows(ranked)] == [False, True]


def test_memory_rows_and_headline_follow_the_strategies():
    a = PRESETS["Llama-2-7B"]
    rows = adapt.compare(a, [adapt.Strategy("full"), adapt.Strategy("lora", rank=4)], "bf16")
    head = adapt.headline("Llama <2>", rows)
    assert head[0][0] == "Llama \\<2\\>: parameters"
    assert head[1][0] == "LoRA r=4 trains" and head[1][1] == f"{rows[1].trainable:,}"
    t = adapt.memory_table(rows)
    assert t["adam_bytes"] == [8 * r.trainable for r in rows]
    assert [r["label"] for r in adapt.memory_rows(rows)] == ["Full fine-tuning", "LoRA r=4"]
    assert "bf16" in adapt.memory_explained("bf16", a)
