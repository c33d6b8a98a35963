"""What each fine-tuning strategy trains, counted on the bundled models; LoRA's count equals peft's;
a short fine-tune lowers the loss for full and LoRA and never changes the shared model."""
import copy

import pytest
import torch

from explorer import adapt as A
from explorer.charts import adapt as charts
from explorer.presets import PRESETS, from_hf_config, param_count, param_groups
from tests.conftest import bundled_model

MODELS = ["tiny-gpt2", "tiny-llama", "tiny-bert"]


def arch(name):
    return from_hf_config(name, bundled_model(name).model.config)


@pytest.mark.parametrize("name", MODELS + ["tiny-mixtral"])
def test_the_config_formula_counts_every_parameter_of_the_bundled_model(name):
    lm = bundled_model(name)
    assert param_count(arch(name))[0] == sum(p.numel() for p in lm.model.parameters())


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("rank", [4, 16])
@pytest.mark.parametrize("targets", ["qv", "all"])
def test_lora_formula_equals_peft_trainable_parameters(name, rank, targets):
    from peft import get_peft_model
    lm, c = bundled_model(name), arch(name)
    s = A.Strategy("lora", rank=rank, alpha=2 * rank, targets=targets)
    # peft's own count, through the wrapper people use, with the page's LoRA settings
    wrapped = get_peft_model(copy.deepcopy(lm.model), A.lora_config(lm.model.config.model_type, c, s))
    peft_trainable, peft_total = wrapped.get_nb_trainable_parameters()
    assert A.trainable_formula(c, s) == peft_trainable > 0
    assert peft_total == param_count(c)[0] + peft_trainable
    # the page's own application (peft's LoraModel, no wrapper) trains exactly the adapters
    applied = A.apply_strategy(copy.deepcopy(lm.model), s, c)
    assert A.count_trainable(applied) == (peft_trainable, peft_total)
    names = [n for n, p in applied.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)


def test_lora_count_by_hand_for_tiny_gpt2():
    # 4 blocks; c_attn 128 -> 384, attn.c_proj 128 -> 128, c_fc 128 -> 512, mlp.c_proj 512 -> 128
    c = arch("tiny-gpt2")
    assert A.trainable_formula(c, A.Strategy("lora", rank=8, targets="all")) == \
        4 * 8 * ((128 + 384) + (128 + 128) + (128 + 512) + (512 + 128))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("strategy", [A.Strategy("full"), A.Strategy("lower", layers=1), A.Strategy("lower", layers=3),
                                      A.Strategy("last", layers=1), A.Strategy("last", layers=2), A.Strategy("head")])
def test_frozen_strategies_equal_the_counted_requires_grad_parameters(name, strategy):
    lm, c = bundled_model(name), arch(name)
    trainable, total = A.counted(lm.model, strategy, c)
    assert A.trainable_formula(c, strategy) == trainable
    assert total == param_count(c)[0]
    assert all(p.requires_grad for p in lm.model.parameters())   # counted on a copy: the model is untouched


def test_tied_embeddings_freeze_the_output_head_with_them():
    c = arch("tiny-gpt2")
    g = param_groups(c)
    assert g["head"] == 0 and A.trainable_formula(c, A.Strategy("head")) == g["final_norm"] == 2 * 128
    bert = arch("tiny-bert")   # BERT's MLM head keeps its transform, LayerNorm and output bias
    assert A.trainable_formula(bert, A.Strategy("head")) == 128 * 128 + 128 + 2 * 128 + 4096


def test_every_parameter_of_the_bundled_models_has_a_part():
    for name in MODELS + ["tiny-mixtral"]:
        parts = {A.part_of(n)[0] for n, _ in bundled_model(name).model.named_parameters()}
        assert {"embeddings", "layer"} <= parts
    with pytest.raises(ValueError):
        A.part_of("something.unknown")


def test_training_memory_is_weights_gradients_and_adam():
    c = PRESETS["Llama-2-7B"]
    n = param_count(c)[0]
    full, lora = A.compare(c, [A.Strategy("full"), A.Strategy("lora", rank=16, targets="all")], "bf16")
    assert (full.memory.weights, full.memory.gradients, full.memory.adam) == (2 * n, 2 * n, 8 * n)
    assert full.memory.total == 12 * n
    t = lora.trainable
    assert lora.memory.weights == 2 * (n + t) and lora.memory.gradients == 2 * t and lora.memory.adam == 8 * t
    assert lora.memory.total < full.memory.total / 5
    assert 0 < lora.fraction < 0.01
    assert A.compare(c, [A.Strategy("full")], "fp32")[0].memory.total == 16 * n   # the "16 bytes a parameter" rule


def test_strategy_checks_and_labels():
    with pytest.raises(ValueError):
        A.Strategy("nope")
    with pytest.raises(ValueError):
        A.Strategy("lora", targets="everything")
    assert A.Strategy("last", layers=2).label == "Last 2 layers only"
    assert A.Strategy("lora", rank=4).label == "LoRA r=4"


def test_blocks_cover_every_token():
    b = A.blocks(list(range(300)), 128)
    assert b.shape == (3, 128) and b[0, 0] == 0 and b[-1, -1] == 299
    assert A.blocks([1, 2, 3]).shape == (1, 3)


def test_operator_settings(monkeypatch):
    monkeypatch.setenv(A.ALLOW_ENV, "0")
    assert not A.finetune_allowed()
    monkeypatch.setenv(A.ALLOW_ENV, "1")
    assert A.finetune_allowed()
    monkeypatch.setenv(A.SECONDS_ENV, "abc")
    assert A.budget_seconds() == A.DEFAULT_BUDGET
    monkeypatch.setenv(A.SECONDS_ENV, "1e9")
    assert A.budget_seconds() == 300.0


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_a_30_step_fine_tune_lowers_the_loss_for_full_and_lora_and_leaves_the_shared_model_alone():
    lm = bundled_model("tiny-gpt2")
    before = _snapshot(lm.model)
    flags = [p.requires_grad for p in lm.model.parameters()]
    label, text, prompt = A.TEXTS["fact"]
    ft = A.FineTune(lm, arch("tiny-gpt2"), text, prompt, steps=30, seed=0, budget=600)
    assert [a.strategy.kind for a in ft.arms] == ["full", "lora"]
    while ft.running:
        ft.run_for(1.0)
    assert ft.status == "done" and ft.done_steps == 30
    for arm in ft.arms:
        assert len(arm.losses) == 30 and arm.losses[0] == pytest.approx(ft.loss_before, rel=1e-5)
        assert arm.loss_after < 0.5 * ft.loss_before, arm.label
        assert arm.model is None and arm.optimizer is None        # the session's copies are dropped
        assert arm.after is not None
    full, lora = ft.arms
    assert "45" not in ft.before and "45 days" in full.after     # the new fact, learned in 30 steps
    assert full.trainable == param_count(arch("tiny-gpt2"))[0]
    assert lora.trainable == A.trainable_formula(arch("tiny-gpt2"), A.Strategy("lora"))
    # measured, not only computed: gradients and Adam's two moments in float32
    assert full.grad_bytes == 4 * full.trainable and full.adam_bytes == 8 * full.trainable
    assert lora.grad_bytes == 4 * lora.trainable and lora.adam_bytes == 8 * lora.trainable
    # the shared model: bit-identical weights, same flags, still in eval mode
    after = lm.model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in lm.model.parameters()] == flags and not lm.model.training


def test_stop_ends_the_run_and_the_budget_bounds_it():
    lm = bundled_model("tiny-gpt2")
    ft = A.FineTune(lm, arch("tiny-gpt2"), "a short text about refunds", "a", steps=400)
    ft.step()
    ft.stop()
    assert ft.status == "stopped" and ft.done_steps == 1 and not ft.step()
    ft = A.FineTune(lm, arch("tiny-gpt2"), "a short text about refunds", "a", steps=400,
                    budget=0.05)
    while ft.running:
        ft.run_for(1.0)
    assert ft.status == "budget" and ft.done_steps < 400


@pytest.mark.parametrize("text, prompt", [("", "a"), ("a", "a"), ("two words", "")])
def test_too_short_texts_are_refused_with_a_sentence(text, prompt):
    lm = bundled_model("tiny-gpt2")
    with pytest.raises(ValueError):
        A.FineTune(lm, arch("tiny-gpt2"), text, prompt)


def test_figures_carry_their_numbers():
    fig = charts.loss_curves([{"kind": "full", "label": "Full", "losses": [3.0, 2.0]},
                              {"kind": "lora", "label": "LoRA", "losses": [3.0]}], 10)
    assert list(fig.data[0].y) == [3.0, 2.0] and fig.data[0].line.dash != fig.data[2].line.dash
    rows = [{"label": r.strategy.label, "weights": r.memory.weights, "gradients": r.memory.gradients,
             "adam": r.memory.adam, "trainable": r.trainable, "total": r.total}
            for r in A.compare(PRESETS["GPT-2"], [A.Strategy("full"), A.Strategy("lora")], "fp32")]
    fig = charts.memory_bars(rows)
    assert [t.name for t in fig.data[:3]] == ["weights", "gradients", "Adam states (fp32)"]


def test_the_scaling_figure_draws_the_20_tokens_per_parameter_line_and_the_runs():
    from explorer import scaling as sc
    runs = [{"name": r.name, "params": r.params, "tokens": r.tokens} for r in sc.RUNS[2:]]
    fig = charts.scaling_plane(runs, {"params": 7e9, "tokens": 140e9, "label": "lesson"})
    line, points, star, legend = fig.data
    assert list(line.y) == [20 * x for x in line.x]
    assert list(points.text) == [r["name"] for r in runs] and (star.x[0], star.y[0]) == (7e9, 140e9)
    assert legend.name == "lesson" and not star.showlegend
