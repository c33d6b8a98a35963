"""Per-model facts live in the registry; these pin them to their sources (the zoo recipe, the configs)."""
import json

import pytest

from explorer.models import registry
from explorer.zoo.train import RECIPES


@pytest.mark.parametrize("spec", [s for s in registry.SPECS.values() if s.bundled], ids=lambda s: s.id)
def test_bundled_trained_length_is_the_recipes_sequence_length(spec):
    assert spec.id in RECIPES, f"{spec.id} has no zoo recipe"
    assert spec.trained_length == RECIPES[spec.id].seq_len
    config = json.loads((spec.path / "config.json").read_text())
    positions = config.get("n_positions") or config.get("max_position_embeddings")
    assert positions is None or spec.trained_length <= positions   # None: relative positions only (T5)


@pytest.mark.parametrize("spec", registry.SPECS.values(), ids=lambda s: s.id)
def test_family_and_causality_agree_with_the_models_config(spec):
    if not spec.bundled:
        assert registry.get(spec.twin).family == spec.family
        return
    config = json.loads((spec.path / "config.json").read_text())
    assert registry.family_of_model_type(config["model_type"]) == spec.family
    assert spec.causal == (spec.family != "encoder")
