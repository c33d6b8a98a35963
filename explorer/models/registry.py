"""Model specs: which models the explorer knows, their family, size and bundled twin.

Families:
  encoder      bidirectional masked LM (BERT)
  decoder      causal LM with learned absolute positions (GPT-2)
  rope-decoder causal LM with rotary positions and grouped-query attention (Llama family)
  moe-decoder  causal LM whose MLP is a routed mixture of experts (Mixtral family)
  seq2seq      encoder-decoder: bidirectional encoder, causal decoder, cross-attention (T5 family)
  vision-language  image encoder + projector + causal decoder that reads the image as tokens (LLaVA family)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BUNDLED_DIR = ASSETS / "models"

FAMILIES = ("encoder", "decoder", "rope-decoder", "moe-decoder", "seq2seq", "vision-language")
FAMILY_NAMES = {
    "encoder": "Encoder (BERT)",
    "decoder": "Decoder (GPT-2)",
    "rope-decoder": "RoPE decoder (Llama)",
    "moe-decoder": "MoE decoder (Mixtral)",
    "seq2seq": "Encoder-decoder (T5)",
    "vision-language": "Vision-language (LLaVA)",
}

# model_type -> family, for models that are not in the registry (local folders, allowed hub ids)
MODEL_TYPE_FAMILY = {
    "bert": "encoder", "roberta": "encoder", "distilbert": "encoder", "electra": "encoder",
    "gpt2": "decoder",
    "llama": "rope-decoder", "mistral": "rope-decoder", "qwen2": "rope-decoder", "qwen3": "rope-decoder",
    "smollm3": "rope-decoder", "gemma": "rope-decoder", "gemma2": "rope-decoder",
    "mixtral": "moe-decoder", "qwen2_moe": "moe-decoder", "olmoe": "moe-decoder",
    "t5": "seq2seq",
    "llava": "vision-language",
}


@dataclass(frozen=True)
class ModelSpec:
    id: str                   # registry id: a bundled folder name or a hub id
    family: str
    display_name: str
    params: str | None        # published size of a hub model, e.g. "124M" (bundled: counted at load)
    bundled: bool             # ships in assets/models/
    twin: str | None = None   # bundled stand-in for a hub model
    approx_mb: int = 0        # download size of the safetensors weights (hub models)
    trained_length: int | None = None   # longest sequence it was trained on, when shorter than its position table

    @property
    def causal(self) -> bool:
        """A decoder masks the future; an encoder sees both directions."""
        return self.family != "encoder"

    @property
    def path(self) -> Path | None:
        return BUNDLED_DIR / self.id if self.bundled else None


SPECS: dict[str, ModelSpec] = {s.id: s for s in [
    ModelSpec("bert-base-uncased", "encoder", "BERT base (uncased)", "110M", False, "tiny-bert", 440),
    ModelSpec("gpt2", "decoder", "GPT-2 small", "124M", False, "tiny-gpt2", 548),
    ModelSpec("HuggingFaceTB/SmolLM2-135M", "rope-decoder", "SmolLM2 135M (Llama, GQA)", "135M", False,
              "tiny-llama", 270),
    ModelSpec("google-t5/t5-small", "seq2seq", "T5 small", "60M", False, "tiny-t5", 242),
    ModelSpec("llava-hf/llava-interleave-qwen-0.5b-hf", "vision-language", "LLaVA-Interleave Qwen 0.5B", "0.9B", False,
              "tiny-llava", 1790),
    # trained_length: the zoo recipe's seq_len (explorer/zoo/train.py; tests/unit/test_registry.py pins it)
    ModelSpec("tiny-bert", "encoder", "tiny BERT (bundled)", None, True, trained_length=128),
    ModelSpec("tiny-gpt2", "decoder", "tiny GPT-2 (bundled)", None, True, trained_length=256),
    ModelSpec("tiny-llama", "rope-decoder", "tiny Llama (bundled, RoPE + GQA)", None, True, trained_length=256),
    ModelSpec("tiny-mixtral", "moe-decoder", "tiny Mixtral (bundled, 4 experts, top-2)", None, True,
              trained_length=256),
    # tiny-t5: WordNet lemmas of up to 16 characters, one token each, after a leading ▁ and before </s>
    ModelSpec("tiny-t5", "seq2seq", "tiny T5 (bundled, spells words backwards)", None, True, trained_length=18),
    # tiny-llava: <s>, 64 image tokens, the 3-word prompt, a caption of up to 16 words, </s>
    ModelSpec("tiny-llava", "vision-language", "tiny LLaVA (bundled, captions shapes)", None, True, trained_length=85),
]}


def get(model_id: str) -> ModelSpec | None:
    return SPECS.get(model_id)


def for_family(family: str) -> list[ModelSpec]:
    """Hub models first (preferred when they can be had), then bundled ones."""
    return [s for s in SPECS.values() if s.family == family]


def bundled_for_family(family: str) -> ModelSpec:
    return next(s for s in SPECS.values() if s.family == family and s.bundled)


def family_of_model_type(model_type: str) -> str | None:
    return MODEL_TYPE_FAMILY.get(model_type)
