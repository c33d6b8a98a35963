"""The training corpus of the bundled tiny models: documents of three kinds, each ending in end-of-text.

- WordNet 3.0 (Debian's `wordnet-base`; WordNet 3.0 license: use, copy, modify and distribute for
  any purpose, with the copyright notice kept): every synset line of `data.{noun,verb,adj,adv}`
  becomes `headword: gloss; "example"`, and a document is a run of DOC_SYNSETS neighbouring synsets
  of one file (neighbours share a lexicographer file, so a document stays on one topic: animals,
  foods, motions...).
- Running prose: the Python documentation's tutorial, FAQ, HOWTOs and language reference
  (Debian's `python3.11-doc`, PSF License Version 2), one section's paragraphs per document
  (explorer/zoo/prose.py).
- Synthetic support tickets of the lessons' world, Refund / Shipping / Account
  (explorer/zoo/tickets.py, a seeded template grammar).

Held out, never seen in training: every HELDOUT_EVERY-th WordNet synset (grouped into documents
of their own) and prose document, and
HELDOUT_TICKETS tickets drawn from their own seed. The training documents are shuffled with
the corpus seed, so the same seed (and the same package files) gives the same bytes.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

from explorer.zoo import prose, tickets

WORDNET_DIRS = [os.environ.get("WORDNET_DIR", ""), "/usr/share/wordnet", "/usr/local/share/wordnet"]
POS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
HELDOUT_EVERY = 50
DOC_SYNSETS = 8             # WordNet entries per document
TRAIN_TICKETS = 12_000      # about a third of the training tokens
HELDOUT_TICKETS = 300
SEED = 0

_QUOTED = re.compile(r'"([^"]+)"')
_MARKER = re.compile(r"\([a-z]+\)$")   # adjective position markers: galore(ip)


@dataclass(frozen=True)
class Corpus:
    train: list[str]      # documents
    heldout: list[str]
    source: str

    def digest(self) -> str:
        """sha256 of every document in order (train, then held-out): pins the corpus byte for byte."""
        h = hashlib.sha256()
        for doc in self.train + ["\x01"] + self.heldout:
            h.update(doc.encode("utf-8") + b"\x00")
        return h.hexdigest()


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


def entry(headword: str, gloss: str) -> str:
    """One WordNet synset as a line of text: 'kitten: young domestic cat; "the kitten purred"'."""
    parts = split_gloss(gloss)
    if not parts:
        return ""
    word = _MARKER.sub("", headword).replace("_", " ")
    rest = "; ".join([parts[0]] + [f'"{e}"' for e in parts[1:]])
    return f"{word}: {rest}"


def read_synsets(folder: Path) -> list[tuple[str, str]]:
    """[(file name, entry line)] in file order."""
    synsets = []
    for name in POS_FILES:
        with open(folder / name, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:  # license header lines start with two spaces
                    continue
                fields = line.split(" ", 5)
                text = entry(fields[4], line.split("|", 1)[1].strip())
                if text:
                    synsets.append((name, text))
    return synsets


def group(entries: list[tuple[str, str]]) -> list[str]:
    """Runs of DOC_SYNSETS consecutive entries of one data file, one entry per line."""
    docs, cur, cur_file = [], [], None
    for name, text in entries:
        if cur and (name != cur_file or len(cur) == DOC_SYNSETS):
            docs.append("\n".join(cur))
            cur = []
        cur_file = name
        cur.append(text)
    if cur:
        docs.append("\n".join(cur))
    return docs


def wordnet_documents(folder: Path | None = None) -> tuple[list[str], list[str]]:
    """(train, held-out) documents. Held out: every HELDOUT_EVERY-th synset, the split of the bundled
    models' first training stage (one gloss per line), so a model continued from that stage has never
    seen a held-out synset; each split is grouped into documents on its own."""
    synsets = read_synsets(folder or find_wordnet())
    return (group([e for i, e in enumerate(synsets) if i % HELDOUT_EVERY]),
            group([e for i, e in enumerate(synsets) if i % HELDOUT_EVERY == 0]))


def load_corpus(folder: Path | None = None, seed: int = SEED, n_tickets: int = TRAIN_TICKETS) -> Corpus:
    """The training and held-out documents (see the module's docstring)."""
    folder = folder or find_wordnet()
    train, heldout = wordnet_documents(folder)
    for i, doc in enumerate(prose.documents()):
        (heldout if i % HELDOUT_EVERY == 0 else train).append(doc)
    train += tickets.documents(n_tickets, seed)
    heldout += tickets.documents(HELDOUT_TICKETS, seed + 1)
    random.Random(seed).shuffle(train)
    random.Random(seed + 1).shuffle(heldout)
    return Corpus(train=train, heldout=heldout, source=f"{folder} + {prose.find_sources()} + tickets(seed {seed})")


# The WordNet 3.0 license as every model card quotes it (explorer/zoo/train.py, explorer/zoo/seq2seq.py)
WORDNET_LICENSE = """License: WordNet 3.0 license — "Permission to use, copy, modify and distribute this software and
database and its documentation for any purpose and without fee or royalty is hereby granted,
provided that you agree to comply with the following copyright notice and statements, including
the disclaimer". WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.
THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS
OR WARRANTIES, EXPRESS OR IMPLIED."""
