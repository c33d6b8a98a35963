"""Shared fixtures. Tests never touch the network: the hub is declared offline before any import."""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_models = {}


def bundled_model(name: str):
    """A bundled model, loaded once per test session (as the app loads it once per process)."""
    from explorer.models.loader import load
    if name not in _models:
        _models[name] = load(name)
    return _models[name]


@pytest.fixture(scope="session")
def load_bundled():
    return bundled_model
