"""What the Pipeline page's stages say, built in the engine from one trace."""
import numpy as np
import pytest

from explorer import kvcache
from explorer import pipeline as P
from tests.conftest import bundled_model

PROMPT = "Where is my order? 🙂"


@pytest.fixture(scope="module", params=["tiny-gpt2", "tiny-llama"])
def traced(request):
    lm = bundled_model(request.param)
    return lm, P.trace(lm, PROMPT)


def test_token_numbers_and_the_round_trip(traced):
    lm, t = traced
    m = dict((label, value) for label, value in P.token_metrics(PROMPT, t))
    assert m["Characters"] == str(len(PROMPT)) and m["UTF-8 bytes"] == str(len(PROMPT.encode("utf-8")))
    assert m["Tokens"] == str(t.n_tokens) and m["Characters per token"] == f"{len(PROMPT) / t.n_tokens:.2f}"
    assert P.roundtrip_note(lm.tokenizer, t, PROMPT).startswith("✅")
    assert P.roundtrip_note(lm.tokenizer, t, PROMPT + " changed").startswith("⚠️")
    rows = P.split_rows(P.splits(PROMPT, t.spans, t.pieces), limit=2)
    assert len(rows) == 2 and set(rows[0]) == {"piece of text", "kind", "tokens", "UTF-8 bytes"}


def test_embedding_rows_add_up_to_block_ones_input(traced):
    lm, t = traced
    rows = P.embedding_rows(t, 1)
    assert len(rows) == (3 if t.learned_positions else 1)
    if t.learned_positions:
        assert np.allclose(rows["sum: block 1's input"], t.hidden[0, 1], atol=1e-5)
    assert P.embedding_code(rows).count("|v| =") == len(rows)


def test_output_and_append_numbers_come_from_the_trace(traced):
    lm, t = traced
    nt = P.next_token(t.logits, 1.0, 5)
    out = P.output_metrics(t, nt, "x", 1.0)
    assert out[1][1] == f"{nt.total:.6f}" and out[2][2] == f"p = {nt.probs[0]:.1%} at T = 1"
    app = P.append_metrics(t)
    assert app[1][1] == f"{t.n_tokens} → {t.n_tokens + 1}"
    assert app[2][1] == kvcache.format_bytes(t.appended.cache_bytes)
    assert P.words(lm.tokenizer, [t.ids[0]]) == [t.pieces[0]]
    assert P.next_line(["*a*"], [0.5]) == "**Then the model predicts again:** \\*a\\* 50.0%"
    assert f"{t.appended.position} earlier tokens" in P.append_explained(t)
    assert len(P.block_table(t, P.block_changes(t, 0))["block"]) == t.n_layers
    assert f"{t.n_tokens} tokens" in P.shapes_caption(t)
