"""The model loader: bundled, local folder, offline fallback, and what it refuses to load."""
import json
import time

import pytest
import torch

from explorer.models import loader, registry
from explorer.models.loader import ModelLoadError, load, load_folder
from tests.conftest import bundled_model


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-bert", "tiny-llama", "tiny-mixtral"])
def test_bundled_model_loads_with_eager_attention(name):
    lm = bundled_model(name)
    assert lm.source == "bundled"
    assert lm.model.config._attn_implementation == "eager"
    assert next(lm.model.parameters()).dtype == torch.float32
    ids = lm.tokenizer("the cat sat on the mat", return_tensors="pt")["input_ids"]
    out = lm.model(input_ids=ids, output_attentions=True)
    assert len(out.attentions) == lm.model.config.num_hidden_layers
    assert out.attentions[0].shape[-1] == ids.shape[1]


def test_local_folder_loads_through_the_same_path(tmp_path):
    src = bundled_model("tiny-gpt2")
    src.model.save_pretrained(tmp_path, safe_serialization=True)
    src.tokenizer.save_pretrained(tmp_path)
    lm = load_folder(tmp_path)
    assert lm.source == "local folder" and lm.spec.family == "decoder"
    ids = torch.tensor([[5, 6, 7]])
    torch.testing.assert_close(lm.model(input_ids=ids).logits, src.model(input_ids=ids).logits)


def test_bare_bert_model_loads_for_attention(tmp_path):
    """Sentence-embedding checkpoints hold only BertModel (no MLM head): attention still works."""
    src = bundled_model("tiny-bert")
    src.model.bert.save_pretrained(tmp_path, safe_serialization=True)
    src.tokenizer.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["architectures"] == ["BertModel"]
    lm = load_folder(tmp_path)
    assert lm.spec.family == "encoder"
    out = lm.model(input_ids=torch.tensor([[2, 10, 11, 3]]), output_attentions=True)
    assert len(out.attentions) == 4


def test_pickle_only_checkpoint_is_refused(tmp_path):
    src = bundled_model("tiny-gpt2")
    src.model.config.save_pretrained(tmp_path)
    torch.save(src.model.state_dict(), tmp_path / "pytorch_model.bin")   # the old pickle format
    with pytest.raises(ModelLoadError, match="safetensors only"):
        load_folder(tmp_path)


def test_remote_code_checkpoint_is_refused(tmp_path):
    src = bundled_model("tiny-gpt2")
    src.model.save_pretrained(tmp_path, safe_serialization=True)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilModel"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="trust_remote_code"):
        load_folder(tmp_path)


def test_unsupported_model_type_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="not supported"):
        load_folder(tmp_path)


def test_offline_hub_model_falls_back_to_its_twin_with_a_banner(monkeypatch):
    monkeypatch.setattr(loader, "_cached_snapshot", lambda repo: None)
    lm = load("gpt2")
    assert lm.spec.id == "tiny-gpt2" and lm.requested == "gpt2"
    assert "bundled tiny-gpt2 instead of gpt2" in lm.notice and "offline" in lm.notice


def test_offline_is_detected_quickly(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(loader, "_online_cache", None)
    t0 = time.time()
    loader.is_online(timeout=1.5)   # this machine has no route to the hub: must answer False fast
    assert time.time() - t0 < 2.0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.time()
    assert loader.is_online() is False
    assert time.time() - t0 < 0.01


def test_custom_ids_are_refused_unless_the_server_allows_them(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPLORER_ALLOW_CUSTOM_MODELS", raising=False)
    with pytest.raises(ModelLoadError, match="does not allow other models"):
        load("someone/huge-model")
    with pytest.raises(ModelLoadError, match="does not allow other models"):
        load(str(tmp_path))


def test_download_refuses_models_over_the_size_cap(monkeypatch):
    class Sib:
        def __init__(self, name, size):
            self.rfilename, self.size = name, size

    class Info:
        siblings = [Sib("config.json", 1000), Sib("model.safetensors", 5 * 2**30), Sib("pytorch_model.bin", 5 * 2**30)]

    class Api:
        def model_info(self, repo_id, files_metadata):
            return Info()

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setenv("EXPLORER_MAX_DOWNLOAD_MB", "1500")
    with pytest.raises(ModelLoadError, match="over this server's download cap"):
        loader.download("someone/huge-model")


def test_registry_defaults_fall_back_to_bundled_twins_offline(monkeypatch):
    monkeypatch.setattr(loader, "_cached_snapshot", lambda repo: None)
    assert loader.default_model("decoder") == "tiny-gpt2"
    assert loader.default_model("encoder") == "tiny-bert"
    for family in registry.FAMILIES:
        twin = registry.bundled_for_family(family)
        assert twin.path and (twin.path / "config.json").is_file() and (twin.path / "MODEL_CARD.md").is_file()
    for spec in registry.SPECS.values():
        assert spec.family in registry.FAMILIES
        if not spec.bundled:
            assert registry.get(spec.twin).bundled and registry.get(spec.twin).family == spec.family


def test_hub_id_found_in_the_local_hf_cache_loads_from_there(monkeypatch, tmp_path):
    """The real-model path, offline: a snapshot in the HF cache layout is used as 'local cache'."""
    import shutil

    import huggingface_hub.constants as hub_constants
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--gpt2"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for f in registry.get("tiny-gpt2").path.iterdir():
        if f.suffix in (".json", ".safetensors", ".txt"):
            shutil.copy(f, snap / f.name)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    lm = load("gpt2")
    assert lm.source == "local cache" and lm.spec.id == "gpt2" and lm.notice is None
    assert loader.default_model("decoder") == "gpt2"   # "when it can be had": cached counts


def test_models_loaded_at_the_same_time_keep_their_tied_weights():
    """Two sessions may load models at once; every parameter must come out real (none left on `meta`)."""
    import threading
    names = ["tiny-bert", "tiny-gpt2", "tiny-llama", "tiny-mixtral"]
    loaded, errors = {}, []

    def go(name):
        try:
            loaded[name] = load_folder(registry.get(name).path, registry.get(name))
        except Exception as e:  # noqa: BLE001
            errors.append(f"{name}: {e}")
    threads = [threading.Thread(target=go, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for name, lm in loaded.items():
        assert [k for k, p in lm.model.named_parameters() if p.is_meta] == [], name


def test_the_twin_stands_in_for_network_trouble_but_not_for_a_bug(monkeypatch):
    from explorer.models import loader
    monkeypatch.setattr(loader, "_cached_snapshot", lambda repo_id: None)
    monkeypatch.setattr(loader, "is_online", lambda timeout=1.5: True)

    def offline(repo_id, progress=None):
        raise ConnectionError("connection refused")
    monkeypatch.setattr(loader, "download", offline)
    lm = loader.load("gpt2")
    assert lm.spec.id == "tiny-gpt2" and "connection refused" in lm.notice and lm.requested == "gpt2"

    def bug(repo_id, progress=None):
        raise TypeError("download() got an unexpected keyword argument")
    monkeypatch.setattr(loader, "download", bug)
    with pytest.raises(TypeError):
        loader.load("gpt2")


def test_seq2seq_family_loads_t5_with_eager_attention_and_falls_back_to_its_twin(monkeypatch):
    lm = bundled_model("tiny-t5")
    assert lm.spec.family == "seq2seq" and type(lm.model).__name__ == "T5ForConditionalGeneration"
    assert lm.model.config._attn_implementation == "eager"
    ids = lm.tokenizer("refund", return_tensors="pt")["input_ids"]
    out = lm.model(input_ids=ids, decoder_input_ids=torch.tensor([[lm.model.config.decoder_start_token_id]]),
                   output_attentions=True)
    assert len(out.cross_attentions) == lm.model.config.num_decoder_layers
    assert out.cross_attentions[0].shape[-1] == ids.shape[1]
    spec = registry.get("google-t5/t5-small")
    assert spec.family == "seq2seq" and spec.twin == "tiny-t5" and not spec.bundled
    monkeypatch.setattr(loader, "_cached_snapshot", lambda repo: None)
    fallback = load("google-t5/t5-small")     # offline in tests: the bundled twin, with a banner saying why
    assert fallback.spec.id == "tiny-t5" and "google-t5/t5-small" in fallback.notice
    assert loader.default_model("seq2seq") == "tiny-t5"
