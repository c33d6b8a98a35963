"""What the Generation page says about a run, built in the engine from the run itself."""
import numpy as np

from explorer import generation as G
from tests.conftest import bundled_model


def _run(sampling, n=6):
    lm = bundled_model("tiny-gpt2")
    g = G.Generation(lm, lm.tokenizer("a small animal that")["input_ids"], sampling, n, eos_ids=set())
    g.run(lm, n)
    return lm, g


def test_sampling_for_the_controls():
    assert G.sampling_for("greedy", 0.5, 3, 0.5, 7) == G.Sampling(greedy=True)
    assert G.sampling_for("sample", 0.5, 3, 0.5, 7) == G.Sampling(temperature=0.5, top_k=3, top_p=0.5, seed=7)


def test_timeline_and_step_line_follow_the_written_tokens():
    lm, g = _run(G.Sampling(seed=3))
    b = g.branch
    tl = G.timeline(g, "probability")
    assert tl.pieces == [g.text([s.token_id]).replace("\n", "⏎") for s in b.steps] and tl.vmax == 1.0
    assert np.allclose(tl.values, [s.chosen_p_model for s in b.steps]) and tl.data["step"] == [1, 2, 3, 4, 5, 6]
    assert len(tl.prompt) == b.n_prompt and tl.caption.startswith("Colour: the probability")
    ent = G.timeline(g, "entropy")
    assert ent.vmax == max(1.0, max(s.entropy for s in b.steps)) and f"{ent.vmax:.1f} bits" in ent.caption
    s = b.steps[2]
    assert G.step_line(g, s).startswith(f"Showing step 3: `") and f"rank {s.chosen_rank + 1}" in G.step_line(g, s)
    assert G.progress_line(g) == "6 of 6 new tokens · stopped: length limit"


def test_alternatives_before_after_and_branches():
    lm, g = _run(G.Sampling(temperature=0.7, top_k=5, seed=1), n=3)
    s = g.branch.steps[0]
    alts = G.alternatives(g, s)
    assert s.token_id not in alts and len(alts) == len(s.ids) - 1
    first = next(iter(alts))
    assert alts[first].endswith(f"({float(s.p_model[list(s.ids).index(first)]):.1%})")
    series = G.before_after(s, g.sampling, 4)
    assert list(series) == ["model (T = 1)", "temperature 0.7", "drawn from (after top-k / top-p)"]
    assert list(G.before_after(s, G.Sampling(greedy=True), 4)) == ["model (T = 1)", "greedy: argmax only"]
    rank = s.rank_in_trace
    assert G.chosen_in_top(s, 10) == (rank if rank < 10 else None) and G.chosen_in_top(s, 0) is None
    g.fork(lm, 0, first)
    assert G.branch_label(g, 0) == "Branch 1 (the original run, 3 tokens)"
    assert G.branch_label(g, 1).startswith("Branch 2 (from branch 1 at step 1,") and "on screen" in G.branch_label(g, 1)
    assert "branch 2 of 2" in G.progress_line(g)


def test_end_notes_escape_the_end_token_and_cap_note_names_the_limit():
    lm, g = _run(G.Sampling(greedy=True), n=2)
    ended, suppressed = G.end_notes(g)
    assert "at step 2 it chose end-of-text" in ended and "suppressed from step 1 on" in suppressed
    assert "<|endoftext|>" not in ended
    assert G.cap_note(g, "tiny *GPT*", 5).startswith("At most 2 new tokens here: tiny \\*GPT\\* has")
