"""What the MoE page says and tabulates, built in the engine."""
import numpy as np

from explorer import moe
from explorer.presets import PRESETS


def test_toy_routing_table_and_the_weights_note():
    r = moe.route(np.array(moe.TOY_LOGITS), 2, renormalize=False)
    t = moe.routing_table(r, moe.TOY_TOKENS, moe.TOY_EXPERTS)
    assert t["token"] == ["refund", "refund", "delayed", "delayed"]
    assert t["expert"][0] == moe.TOY_EXPERTS[int(np.argmax(moe.TOY_LOGITS[0]))]
    assert np.allclose(t["mixing_weight"], r.weights.ravel())
    note = moe.weights_note(r, moe.TOY_TOKENS)
    assert f"“refund” {r.weights[0].sum():.3f}" in note and r.weights[0].sum() < 1


def test_size_lines_and_table():
    a = PRESETS["Mixtral-8x7B"]
    size = moe.moe_size(a)
    t = moe.size_table(size, "bf16")
    assert t["bytes_total"] == size.total * 2 and t["experts_total"] == size.experts_total
    dense = moe.moe_size(moe.with_experts(a, 1, 1))
    assert f"**{dense.total / 1e9:,.2f}B**" in moe.dense_note(a, size, 8)
    assert "`num_local_experts` 8" in moe.config_line("Mixtral-8x7B", a)
    assert "3 matrices per expert MLP" in moe.size_explained(a, "bf16") and "2 byte(s)" in moe.size_explained(a, "bf16")
    assert "0.5 byte(s)" in moe.size_explained(a, "int4")


def test_real_model_table_and_lines():
    from tests.conftest import bundled_model
    cap = moe.capture(bundled_model("tiny-mixtral"), "the river flooded the town", 64)
    experts = [f"E{e}" for e in range(cap.n_experts)]
    labels = [f"t{i}" for i in range(cap.n_tokens)]
    t = moe.router_table(cap, 0, labels, experts)
    assert np.allclose(t["p_E0"], cap.probs[0][:, 0])
    assert t["choice1"] == [experts[e] for e in cap.model_chosen[0, :, 0]] and f"weight{cap.top_k}" in t
    line = moe.model_line(cap, "tiny *mixtral*", "<b>", 1)
    assert line.startswith("**tiny \\*mixtral\\***") and "<b>" not in line and f"top-{cap.top_k}" in line
    assert f"{cap.agreement()[0]:.0%}" in moe.router_explained(cap)
    assert "token by token in text order" in moe.capacity_explained(cap, cap.aux_loss(), "position")
    assert "before any second choice" in moe.capacity_explained(cap, cap.aux_loss(), "rank")
