"""One loader for every model: bundled asset -> local folder -> local HF cache -> hub -> bundled twin.

Every model is loaded with eager attention (under SDPA, `output_attentions=True` silently returns
nothing in transformers 5), from safetensors only, never with `trust_remote_code`.
"""
from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from explorer.errors import ExplainedError
from explorer.models import registry
from explorer.models.registry import ModelSpec

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# what a hub download may fetch: configs, tokenizers and safetensors weights (never pickles)
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*", "vocab*", "merges*"]
DEFAULT_MAX_DOWNLOAD_MB = 1500


class ModelLoadError(ExplainedError):
    """A model cannot be loaded; the message is one sentence a user can act on (plain text)."""


NAME_CHARS = 60   # characters of a visitor's model id or folder quoted in a message


def shown(name: object) -> str:
    """A visitor's model id or folder as quoted in a message: as typed (never expanded), cut short in
    the middle."""
    s = " ".join(str(name).split())
    if len(s) <= NAME_CHARS:
        return s
    tail = NAME_CHARS * 2 // 3                     # a folder's own name is at its end: keep it
    return s[: NAME_CHARS - tail - 1] + "…" + s[-tail:]


def looks_like_path(model_id: str) -> bool:
    """A folder on this server rather than a hub id ("org/name") or a web address."""
    if "://" in model_id:
        return False
    return model_id.startswith(("/", "~", ".", "\\")) or "\\" in model_id or model_id.count("/") > 1 \
        or (len(model_id) > 1 and model_id[1] == ":")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):   # a name too long for the file system, a NUL byte
        return False


HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?")


@dataclass(eq=False)
class LoadedModel:
    """A model ready for inspection: what every engine entry point takes (`lm`)."""
    model: "PreTrainedModel"    # eval mode, float32, eager attention
    tokenizer: "PreTrainedTokenizerBase"
    spec: ModelSpec
    source: str                 # "bundled" | "local folder" | "local cache" | "hub" | "in memory"
    path: str                   # folder the weights came from
    notice: str | None = None   # why this is not the model that was asked for (fallback banner)
    requested: str | None = None
    processor: object = None    # a vision-language model's processor (images -> pixel_values, <image> tokens)

    @classmethod
    def in_memory(cls, model, tokenizer=None, name: str = "in-memory model", family: str | None = None,
                  processor=None) -> "LoadedModel":
        """Wrap a model built in this process (random-init configs for benchmarks and tests)."""
        family = family or registry.family_of_model_type(getattr(model.config, "model_type", "")) or "decoder"
        return cls(model.eval(), tokenizer, ModelSpec(name, family, name, None, False), "in memory", f"<{name}>",
                   processor=processor)

    @property
    def key(self) -> str:
        """What a result cache is keyed by: a registry id can stand for a fallback twin, so the folder is
        part of it. The one cache-key convention for every st.cache_data of a model's results."""
        return f"{self.spec.id}|{self.path}"

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
        # no position table (T5: relative positions): the tokenizer states the length the model was trained on
        value = getattr(self.tokenizer, "model_max_length", None)
        return int(value) if value and value < 1_000_000 else 512


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
def check_folder(folder: Path, name: str | None = None) -> dict:
    """Refuse what we must not (or cannot) load; return the parsed config.json.

    A model folder is untrusted input: whatever is wrong with it (no or unreadable config, bad JSON,
    a config that is not an object, bad encoding, pickle-only weights, custom code, an unknown
    model type) is one ModelLoadError sentence. name: how the visitor named the folder.
    """
    name = shown(name if name is not None else folder.name)
    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise ModelLoadError(f"{name} is not a model folder in Hugging Face format (no config.json).")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelLoadError(f"The config.json of {name} is not UTF-8 text, so it cannot be a model's config.") from None
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"The config.json of {name} is not valid JSON (line {e.lineno}, column {e.colno}: "
                             f"{e.msg.lower()}).") from None
    except (OSError, RecursionError, ValueError) as e:
        raise ModelLoadError(f"The config.json of {name} cannot be read ({type(e).__name__}).") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"The config.json of {name} holds a JSON {type(config).__name__}, not an object of "
                             "settings, so it is not a model's config.")
    if config.get("auto_map"):
        raise ModelLoadError("This model needs its own Python code (trust_remote_code), which the explorer "
                             "never runs. Choose a model that transformers supports natively.")
    if not any(folder.glob("*.safetensors")):
        pickles = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
        what = f"only pickle weights ({shown(', '.join(pickles))})" if pickles else "no weights"
        raise ModelLoadError(f"This checkpoint has {what}; the explorer loads safetensors only, because "
                             "pickle files can run code. Convert it to safetensors first.")
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or registry.family_of_model_type(model_type) is None:
        what = f"Model type '{shown(model_type)}'" if isinstance(model_type, str) else "A config without a model type"
        raise ModelLoadError(f"{what} is not supported here; supported: "
                             f"{', '.join(sorted(registry.MODEL_TYPE_FAMILY))}.")
    return config


def family_of(config: dict) -> str:
    return registry.family_of_model_type(config["model_type"])


def check_family(family: str, wanted: str | None, name: str) -> None:
    """Refuse a model of the wrong family for a slot, naming both families."""
    if wanted is not None and family != wanted:
        raise ModelLoadError(f"{shown(name)} is a {registry.FAMILY_NAMES[family]} model, but this slot needs a "
                             f"{registry.FAMILY_NAMES[wanted]} model; choose it in the sidebar's "
                             f"{registry.FAMILY_NAMES[family]} box instead.")


def _auto_class(config: dict, family: str):
    import transformers
    archs = config.get("architectures") or []
    if family == "encoder":
        # a bare BertModel (sentence-embedding checkpoints) still has attention to show
        if any(a.endswith("ForMaskedLM") or a.endswith("ForPreTraining") for a in archs):
            return transformers.AutoModelForMaskedLM
        return transformers.AutoModel
    if family == "seq2seq":
        return transformers.AutoModelForSeq2SeqLM
    if family == "vision-language":
        return transformers.AutoModelForImageTextToText
    return transformers.AutoModelForCausalLM


# transformers 5.24's from_pretrained is not thread-safe: models loaded at the same moment in one process
# (two sessions of the app) came out with their tied weights left on the meta device (measured with the
# bundled tiny-gpt2, tiny-bert and tiny-t5 loaded from four threads), and a lazy import failed.
# Loads are therefore one at a time; forward passes are not affected.
_LOAD_LOCK = threading.Lock()


def load_folder(folder: str | Path, spec: ModelSpec | None = None, source: str = "local folder",
                family: str | None = None, name: str | None = None) -> LoadedModel:
    """Load a Hugging Face-format folder (bundled, local, or a hub snapshot) for inspection.

    family: the family the caller's slot needs (refused before any weight is read if it differs);
    name: how the visitor named the folder (as typed: messages never show the expanded path).
    """
    import torch

    folder = Path(folder)
    given = name if name is not None else (spec.id if spec else folder.name)
    name = shown(given)
    config = check_folder(folder, name)
    family_found = family_of(config)
    check_family(family_found, family, name)
    if spec is None:
        spec = ModelSpec(str(given), family_found, name, None, False)
    try:
        with _LOAD_LOCK:
            from transformers import AutoTokenizer   # (transformers' lazy imports race too)
            model = _auto_class(config, family_found).from_pretrained(
                folder, attn_implementation="eager", use_safetensors=True, trust_remote_code=False,
                dtype=torch.float32)
            processor = None
            if family_found == "vision-language":     # its tokenizer comes with the image processor
                from transformers import AutoProcessor
                processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
                tokenizer = processor.tokenizer
            else:
                tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except Exception as e:  # noqa: BLE001 - a broken or incompatible checkpoint: one sentence, not a traceback
        first = (str(e).strip().splitlines() or [""])[0]
        raise ModelLoadError(f"Could not load {name}: {type(e).__name__}: {shown(first)}") from e
    _check_tokenizer(model, tokenizer, name)
    model.eval()
    return LoadedModel(model, tokenizer, spec, source, str(folder), processor=processor)


def _check_tokenizer(model, tokenizer, name: str) -> None:
    """A folder without tokenizer files still gives a tokenizer object in transformers 5, an empty one;
    one with more tokens than the model has embeddings would fail at the first forward pass."""
    try:
        n_tokens = len(tokenizer)
        probe = tokenizer("a b", add_special_tokens=False)["input_ids"]
        n_embeddings = model.get_input_embeddings().num_embeddings
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"Could not load {name}: its tokenizer does not work ({type(e).__name__}).") from e
    if n_tokens < 2 or not probe:
        raise ModelLoadError(f"Could not load {name}: it has no tokenizer files (tokenizer.json, or vocab and "
                             "merges), so text cannot be turned into tokens.")
    if n_tokens > n_embeddings:
        raise ModelLoadError(f"Could not load {name}: its tokenizer has {n_tokens:,} tokens but the model has "
                             f"embeddings for only {n_embeddings:,}, so they do not belong together.")


def _cached_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download
    try:
        path = Path(snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS, local_files_only=True))
    except (OSError, ValueError):    # not in the cache (LocalEntryNotFoundError), or not a valid repo id
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


def load(model_id: str, progress: Callable[[float, str], None] | None = None,
         family: str | None = None) -> LoadedModel:
    """Load a registry id, a local folder or an allowed hub id; fall back to the bundled twin.

    family: the family of the slot that asks (a model of another family is refused, naming both).
    Raises ModelLoadError only when there is nothing to fall back to.
    """
    spec = registry.get(model_id)
    if spec is not None:
        check_family(spec.family, family, spec.display_name)
    if spec and spec.bundled:
        return load_folder(spec.path, spec, "bundled")
    if spec is None and not custom_models_allowed():
        raise ModelLoadError(f"'{shown(model_id)}' is not one of this explorer's models, and this server does not "
                             "allow other models (EXPLORER_ALLOW_CUSTOM_MODELS is off).")
    if spec is None and looks_like_path(model_id):
        try:
            folder = Path(model_id).expanduser()
        except RuntimeError:              # "~someone" with no such user
            folder = Path(model_id)
        if not _is_dir(folder):
            raise ModelLoadError(f"There is no folder {shown(model_id)} on this server; give the path of a "
                                 "model folder in Hugging Face format.")
        return load_folder(folder, family=family, name=model_id)
    if spec is None and _is_dir(Path(model_id)):
        return load_folder(Path(model_id), family=family, name=model_id)
    if spec is None and not HUB_ID.fullmatch(model_id):
        raise ModelLoadError(f"'{shown(model_id)}' is neither a folder on this server nor a hub id such as "
                             "'openai-community/gpt2'.")
    try:
        cached = _cached_snapshot(model_id)
        if cached:
            return _named(load_folder(cached, spec, "local cache", family=family, name=model_id), model_id)
        if not is_online():
            raise ModelLoadError(f"{shown(model_id)} is not in the local cache and the hub cannot be reached (offline)")
        return _named(load_folder(download(model_id, progress), spec, "hub", family=family, name=model_id), model_id)
    except (ModelLoadError, OSError, ValueError) as e:   # what the hub, the network or a folder raise; a bug in
        # our own code (TypeError, AttributeError, ...) is not a reason to show the twin: it surfaces
        reason = str(e).rstrip(".") if isinstance(e, ModelLoadError) else f"{type(e).__name__}: {shown(e)}"
        twin = spec.twin if spec else None
        if not twin:
            if isinstance(e, ModelLoadError) and str(e).startswith(("Could not load", shown(model_id))):
                raise
            raise ModelLoadError(f"Could not load {shown(model_id)}: {reason}.") from e
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
