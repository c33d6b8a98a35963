"""The training corpus of the bundled tiny models: WordNet 3.0 glosses and example sentences.

WordNet ships in Debian's `wordnet-base` package (WordNet 3.0 license: use, copy, modify and
distribute for any purpose, with the copyright notice kept; see MODEL_CARD.md of each model).
Every synset line of `data.{noun,verb,adj,adv}` ends in `| gloss; "example"; "example"`. We keep
the gloss and each quoted example as separate lines of real English text.

The held-out split is by synset (every 50th synset by offset), so no sentence of a held-out
synset is seen in training.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

WORDNET_DIRS = [os.environ.get("WORDNET_DIR", ""), "/usr/share/wordnet", "/usr/local/share/wordnet"]
POS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
HELDOUT_EVERY = 50

_QUOTED = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class Corpus:
    train: list[str]
    heldout: list[str]
    source: str


def find_wordnet() -> Path:
    for d in WORDNET_DIRS:
        if d and all((Path(d) / f).is_file() for f in POS_FILES):
            return Path(d)
    raise FileNotFoundError(
        "WordNet data files not found. Install them with `apt-get install wordnet-base` "
        "(or set WORDNET_DIR to a folder holding data.noun, data.verb, data.adj, data.adv)."
    )


def split_gloss(gloss: str) -> list[str]:
    """'a fruit; "an apple a day"' -> ['a fruit', 'an apple a day']: definition, then examples."""
    examples = [e.strip() for e in _QUOTED.findall(gloss)]
    definition = _QUOTED.sub("", gloss).strip(" ;")
    out = [definition] if definition else []
    return out + [e for e in examples if e]


def read_synsets(folder: Path) -> list[tuple[str, list[str]]]:
    """[(synset key, [lines])] in file order; the key is 'pos:offset'."""
    synsets = []
    for name in POS_FILES:
        with open(folder / name, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:  # license header lines start with two spaces
                    continue
                offset = line.split(" ", 1)[0]
                gloss = line.split("|", 1)[1].strip()
                lines = split_gloss(gloss)
                if lines:
                    synsets.append((f"{name[5:]}:{offset}", lines))
    return synsets


def load_corpus(folder: Path | None = None) -> Corpus:
    folder = folder or find_wordnet()
    train, heldout = [], []
    for i, (_, lines) in enumerate(read_synsets(folder)):
        (heldout if i % HELDOUT_EVERY == 0 else train).extend(lines)
    return Corpus(train=train, heldout=heldout, source=str(folder))
