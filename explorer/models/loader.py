"""One loader for every model: bundled asset -> local folder -> local HF cache -> hub -> bundled twin.

Every model is loaded with eager attention (under SDPA, `output_attentions=True` silently returns
nothing in transformers 5), from safetensors only, never with `trust_remote_code`.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from explorer.models import registry
from explorer.models.registry import ModelSpec

# what a hub download may fetch: configs, tokenizers and safetensors weights (never pickles)
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*", "vocab*", "merges*"]
DEFAULT_MAX_DOWNLOAD_MB = 1500


class ModelLoadError(Exception):
    """A model cannot be loaded; the message is one sentence a user can act on."""


@dataclass
class LoadedModel:
    model: object               # transformers PreTrainedModel, eval mode, float32, eager attention
    tokenizer: object
    spec: ModelSpec
    source: str                 # "bundled" | "local folder" | "local cache" | "hub"
    path: str                   # folder the weights came from
    notice: str | None = None   # why this is not the model that was asked for (fallback banner)
    requested: str | None = None

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def max_length(self) -> int:
        cfg = self.model.config
        for key in ("n_positions", "max_position_embeddings"):
            value = getattr(cfg, key, None)
            if value:
                return int(value)
        return 512


# ---------------------------------------------------------------- settings
def custom_models_allowed() -> bool:
    """Visitors may name models outside the registry only where the operator allows it."""
    return os.environ.get("EXPLORER_ALLOW_CUSTOM_MODELS", "0").lower() in ("1", "true", "yes")


def max_download_mb() -> int:
    try:
        return int(os.environ.get("EXPLORER_MAX_DOWNLOAD_MB", DEFAULT_MAX_DOWNLOAD_MB))
    except ValueError:
        return DEFAULT_MAX_DOWNLOAD_MB


_online_cache: tuple[float, bool] | None = None


def is_online(timeout: float = 1.5) -> bool:
    """True if the hub is reachable. Never blocks longer than `timeout` (DNS included).

    HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE answer at once; the probe result is kept for 60 s.
    """
    global _online_cache
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") or \
            os.environ.get("TRANSFORMERS_OFFLINE", "0") not in ("0", "", "false"):
        return False
    if _online_cache and time.time() - _online_cache[0] < 60:
        return _online_cache[1]
    result = []

    def probe():
        try:
            socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    ok = bool(result and result[0])
    _online_cache = (time.time(), ok)
    return ok


# ---------------------------------------------------------------- folder checks and loading
def check_folder(folder: Path) -> dict:
    """Refuse what we must not load; return the parsed config.json."""
    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise ModelLoadError(f"{folder} is not a model folder in Hugging Face format (no config.json).")
    config = json.loads(cfg_file.read_text())
    if config.get("auto_map"):
        raise ModelLoadError("This model needs its own Python code (trust_remote_code), which the explorer "
                             "never runs. Choose a model that transformers supports natively.")
    if not any(folder.glob("*.safetensors")):
        pickles = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
        what = f"only pickle weights ({', '.join(pickles)})" if pickles else "no weights"
        raise ModelLoadError(f"This checkpoint has {what}; the explorer loads safetensors only, because "
                             "pickle files can run code. Convert it to safetensors first.")
    if registry.family_of_model_type(config.get("model_type", "")) is None:
        raise ModelLoadError(f"Model type '{config.get('model_type')}' is not supported here; supported: "
                             f"{', '.join(sorted(registry.MODEL_TYPE_FAMILY))}.")
    return config


def _auto_class(config: dict, family: str):
    import transformers
    archs = config.get("architectures") or []
    if family == "encoder":
        # a bare BertModel (sentence-embedding checkpoints) still has attention to show
        if any(a.endswith("ForMaskedLM") or a.endswith("ForPreTraining") for a in archs):
            return transformers.AutoModelForMaskedLM
        return transformers.AutoModel
    return transformers.AutoModelForCausalLM


def load_folder(folder: str | Path, spec: ModelSpec | None = None, source: str = "local folder") -> LoadedModel:
    """Load a Hugging Face-format folder (bundled, local, or a hub snapshot) for inspection."""
    import torch
    from transformers import AutoTokenizer

    folder = Path(folder)
    config = check_folder(folder)
    family = registry.family_of_model_type(config["model_type"])
    if spec is None:
        spec = ModelSpec(str(folder), family, folder.name, None, False)
    try:
        model = _auto_class(config, family).from_pretrained(
            folder, attn_implementation="eager", use_safetensors=True, trust_remote_code=False,
            dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except Exception as e:  # a broken or incompatible checkpoint: one sentence, not a traceback
        raise ModelLoadError(f"Could not load {folder.name}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    model.eval()
    return LoadedModel(model, tokenizer, spec, source, str(folder))


def _cached_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download
    try:
        path = Path(snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS, local_files_only=True))
    except Exception:
        return None
    return path if (path / "config.json").is_file() and any(path.glob("*.safetensors")) else None


def download(repo_id: str, progress: Callable[[float, str], None] | None = None) -> Path:
    """Download a hub model's safetensors, config and tokenizer, refusing ones over the size cap."""
    from huggingface_hub import HfApi, hf_hub_download
    info = HfApi().model_info(repo_id, files_metadata=True)
    files = [s for s in info.siblings if _allowed_file(s.rfilename)]
    if not any(f.rfilename.endswith(".safetensors") for f in files):
        raise ModelLoadError(f"{repo_id} has no safetensors weights; the explorer loads safetensors only.")
    total = sum(f.size or 0 for f in files)
    if total > max_download_mb() * 2**20:
        raise ModelLoadError(f"{repo_id} is {total / 2**20:,.0f} MB, over this server's download cap of "
                             f"{max_download_mb():,} MB (EXPLORER_MAX_DOWNLOAD_MB).")
    done = 0
    path = None
    for f in files:
        if progress:
            progress(done / max(total, 1), f"Downloading {repo_id}: {f.rfilename} ({(f.size or 0) / 2**20:,.1f} MB)")
        path = hf_hub_download(repo_id, f.rfilename)
        done += f.size or 0
    if progress:
        progress(1.0, f"Downloaded {repo_id} ({total / 2**20:,.0f} MB)")
    return Path(path).parent


def _allowed_file(name: str) -> bool:
    from fnmatch import fnmatch
    return "/" not in name and any(fnmatch(name, p) for p in ALLOW_PATTERNS)


def load(model_id: str, progress: Callable[[float, str], None] | None = None) -> LoadedModel:
    """Load a registry id, a local folder or an allowed hub id; fall back to the bundled twin.

    Raises ModelLoadError only when there is nothing to fall back to.
    """
    spec = registry.get(model_id)
    if spec and spec.bundled:
        return load_folder(spec.path, spec, "bundled")
    if spec is None and not custom_models_allowed():
        raise ModelLoadError(f"'{model_id}' is not one of this explorer's models, and this server does not "
                             "allow other models (EXPLORER_ALLOW_CUSTOM_MODELS is off).")
    if spec is None and Path(model_id).expanduser().is_dir():
        return load_folder(Path(model_id).expanduser())
    try:
        cached = _cached_snapshot(model_id)
        if cached:
            return _named(load_folder(cached, spec, "local cache"), model_id)
        if not is_online():
            raise ModelLoadError(f"{model_id} is not in the local cache and the hub cannot be reached (offline)")
        return _named(load_folder(download(model_id, progress), spec, "hub"), model_id)
    except Exception as e:
        reason = str(e).rstrip(".") if isinstance(e, ModelLoadError) else f"{type(e).__name__}: {str(e)[:160]}"
        twin = spec.twin if spec else None
        if not twin:
            raise ModelLoadError(f"Could not load {model_id}: {reason}.") from e
        lm = load(twin)
        lm.notice = f"Showing the bundled {twin} instead of {model_id}: {reason}."
        lm.requested = model_id
        return lm


def _named(lm: LoadedModel, model_id: str) -> LoadedModel:
    if registry.get(model_id) is None:  # an allowed custom hub id: name it by its id, not its snapshot folder
        lm.spec = ModelSpec(model_id, lm.spec.family, model_id, None, False)
    return lm


def can_be_had(spec: ModelSpec) -> bool:
    """Bundled, already cached, or downloadable now (quick: no download is started)."""
    return spec.bundled or _cached_snapshot(spec.id) is not None or is_online()


def default_model(family: str) -> str:
    """The real hub model of a family when it can be had, else its bundled twin."""
    for spec in registry.for_family(family):
        if not spec.bundled and can_be_had(spec):
            return spec.id
    return registry.bundled_for_family(family).id
