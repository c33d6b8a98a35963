"""Model folders are untrusted input: every way one can be broken is one ModelLoadError sentence,
and a model of the wrong family is refused for a slot, naming both families."""
import json
import shutil

import pytest

from explorer.models import loader, registry
from explorer.models.loader import ModelLoadError, load, load_folder

BUNDLED = registry.BUNDLED_DIR


def _copy(name, tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(BUNDLED / name, dst)
    return dst


@pytest.mark.parametrize("config_bytes, says", [
    (b'{"model_type": "bert", "architectures": [', "not valid JSON"),
    (b'["gpt2"]', "JSON list, not an object"),
    (b'"gpt2"', "JSON str, not an object"),
    (b"\xff\xfe\x00{\x00", "not UTF-8"),
    (b'{"architectures": ["GPT2LMHeadModel"]}', "without a model type"),
    (b'{"model_type": ["gpt2"]}', "without a model type"),
    (b'{"model_type": null}', "without a model type"),
    (b"[" * 100_000 + b"]" * 100_000, "config.json"),
])
def test_a_broken_config_is_one_sentence(tmp_path, config_bytes, says):
    folder = _copy("tiny-gpt2", tmp_path)
    (folder / "config.json").write_bytes(config_bytes)
    with pytest.raises(ModelLoadError) as e:
        load_folder(folder)
    assert says in str(e.value)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


def test_truncated_weights_are_one_sentence(tmp_path):
    folder = _copy("tiny-gpt2", tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="Could not load"):
        load_folder(folder)


def test_weights_of_the_wrong_shape_are_one_sentence(tmp_path):
    folder = _copy("tiny-gpt2", tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["n_embd"] = cfg["n_embd"] * 2            # the config no longer matches the weights
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="Could not load"):
        load_folder(folder)


def test_missing_tokenizer_is_one_sentence(tmp_path):
    folder = _copy("tiny-gpt2", tmp_path)
    for f in folder.glob("tokenizer*"):
        f.unlink()
    with pytest.raises(ModelLoadError, match="Could not load"):
        load_folder(folder)


def test_a_garbage_tokenizer_is_one_sentence(tmp_path):
    folder = _copy("tiny-gpt2", tmp_path)
    (folder / "tokenizer.json").write_bytes(b"\x00\x01 not json")
    with pytest.raises(ModelLoadError, match="Could not load"):
        load_folder(folder)


def test_a_model_of_another_family_is_refused_naming_both(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")
    folder = _copy("tiny-bert", tmp_path)
    with pytest.raises(ModelLoadError) as e:
        load(str(folder), family="decoder")
    msg = str(e.value)
    assert registry.FAMILY_NAMES["encoder"] in msg and registry.FAMILY_NAMES["decoder"] in msg
    # a registry model in the wrong slot too, and before anything is loaded
    with pytest.raises(ModelLoadError, match="Encoder"):
        load("tiny-bert", family="moe-decoder")
    assert load(str(folder), family="encoder").spec.family == "encoder"


def test_a_custom_folder_is_named_as_typed_not_by_its_last_part(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")
    _copy("tiny-gpt2", tmp_path)
    monkeypatch.chdir(tmp_path)
    lm = load("./m", family="decoder")
    assert lm.spec.display_name == "./m" and lm.spec.id == "./m"


def test_a_missing_folder_says_so_without_the_servers_home(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "secret-home"))
    with pytest.raises(ModelLoadError) as e:
        load("~/no-such-model")
    assert "no folder ~/no-such-model on this server" in str(e.value)
    assert "secret-home" not in str(e.value) and "cache" not in str(e.value)
    (tmp_path / "secret-home").mkdir()
    with pytest.raises(ModelLoadError) as e:
        load("~")                                # the home folder exists but is no model
    assert "~ is not a model folder" in str(e.value) and "secret-home" not in str(e.value)
    with pytest.raises(ModelLoadError, match="no folder ~nobody-here/x"):
        load("~nobody-here/x")


def test_a_name_that_is_neither_a_folder_nor_a_hub_id_is_refused(monkeypatch):
    monkeypatch.setenv("EXPLORER_ALLOW_CUSTOM_MODELS", "1")
    monkeypatch.setattr(loader, "_cached_snapshot", lambda repo: pytest.fail("no hub lookup for this"))
    with pytest.raises(ModelLoadError, match="neither a folder on this server nor a hub id"):
        load("![i](http://evil.example/t.png)")
    with pytest.raises(ModelLoadError) as e:
        load("a" * 5000)
    assert len(str(e.value)) < 300


def test_a_custom_model_is_refused_where_the_server_does_not_allow_them(monkeypatch):
    monkeypatch.delenv("EXPLORER_ALLOW_CUSTOM_MODELS", raising=False)
    with pytest.raises(ModelLoadError, match="does not allow other models") as e:
        load("x" * 1000)
    assert len(str(e.value)) < 300
