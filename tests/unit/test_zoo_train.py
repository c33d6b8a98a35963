"""The training loop's optimizer groups (explorer/zoo/train.py): the position table's own learning rate."""
import torch

from explorer.zoo.train import RECIPES, lr_at, param_groups


def _gpt2():
    return RECIPES["tiny-gpt2"].build(64, dict(bos_token_id=0, eos_token_id=0))


def test_one_group_by_default_and_every_weight_in_it():
    model = _gpt2()
    groups = param_groups(model)
    assert len(groups) == 1 and len(groups[0]["params"]) == len(list(model.parameters()))


def test_position_table_gets_its_own_rate_and_no_decay():
    model = _gpt2()
    rest, table = param_groups(model, 10.0)
    assert table["params"] == [model.transformer.wpe.weight] and table["weight_decay"] == 0.0
    assert table["lr_scale"] == 10.0
    assert len(rest["params"]) + 1 == len(list(model.parameters()))
    assert all(p is not model.transformer.wpe.weight for p in rest["params"])
    # one AdamW step at the scaled rate moves the table ~10x as far as a weight of the same gradient size
    opt = torch.optim.AdamW([rest, table], lr=1e-3, weight_decay=0.01)
    for g in opt.param_groups:
        g["lr"] = lr_at(100, 200, 1e-3) * g.get("lr_scale", 1.0)
    assert opt.param_groups[1]["lr"] == opt.param_groups[0]["lr"] * 10


def test_a_model_without_a_position_table_keeps_one_group():
    llama = RECIPES["tiny-llama"].build(64, dict(bos_token_id=0, eos_token_id=0))
    assert len(param_groups(llama, 10.0)) == 1
