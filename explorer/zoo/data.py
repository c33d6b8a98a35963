"""Turn corpus lines into training windows: packed causal-LM streams and BERT-style MLM batches."""
from __future__ import annotations

import numpy as np
import torch


def encode_lines(tokenizer, lines: list[str], add_special_tokens: bool = False) -> list[list[int]]:
    return tokenizer(lines, add_special_tokens=add_special_tokens)["input_ids"]


def causal_stream(encoded: list[list[int]], eos_id: int) -> np.ndarray:
    """All lines joined into one id stream, each followed by end-of-text."""
    out = []
    for ids in encoded:
        out.extend(ids)
        out.append(eos_id)
    return np.asarray(out, dtype=np.int64)


def causal_windows(stream: np.ndarray, seq_len: int) -> torch.Tensor:
    """[n_windows, seq_len] non-overlapping windows (the tail that does not fill one is dropped)."""
    n = len(stream) // seq_len
    return torch.from_numpy(stream[: n * seq_len].reshape(n, seq_len).copy())


def document_windows(encoded: list[list[int]], eos_id: int, seq_len: int) -> torch.Tensor:
    """[n_rows, seq_len] rows of causal_stream(encoded) that each begin at a document's first token, so that a text
    at position 0 with no end-of-text before it is the start of a document, as a prompt typed into the Generation
    page is. A row holds whole documents (each followed by end-of-text) and the beginning of the one that does not
    fit, which the next row starts with again; a document longer than a row runs on into the rows after it (those
    begin inside it). The tail that does not fill a row is dropped."""
    stream = causal_stream(encoded, eos_id)
    starts = np.cumsum([0] + [len(ids) + 1 for ids in encoded])[:-1]
    rows, s = [], 0
    while s + seq_len <= len(stream):
        rows.append(s)
        end = s + seq_len
        last = int(starts[np.searchsorted(starts, end, side="right") - 1])   # the last document start <= end
        s = last if last > s else end
    return torch.from_numpy(np.stack([stream[r: r + seq_len] for r in rows])) if rows else \
        torch.zeros(0, seq_len, dtype=torch.long)


def bert_sequences(encoded: list[list[int]], seq_len: int, cls_id: int, sep_id: int, pad_id: int) -> torch.Tensor:
    """Pack documents as `[CLS] a [SEP] b [SEP] ...` up to seq_len, padding the rest.  [n, seq_len]

    A document longer than one sequence is cut into consecutive pieces of seq_len - 2 tokens
    (each its own segment), so no text is dropped and every position up to seq_len is used.
    """
    seqs, cur = [], [cls_id]
    pieces = (doc[i: i + seq_len - 2] for doc in encoded for i in range(0, len(doc), seq_len - 2))
    for ids in pieces:
        if len(cur) + len(ids) + 1 > seq_len:
            seqs.append(cur + [pad_id] * (seq_len - len(cur)))
            cur = [cls_id]
        cur += ids + [sep_id]
    if len(cur) > 1:
        seqs.append(cur + [pad_id] * (seq_len - len(cur)))
    return torch.tensor(seqs, dtype=torch.long)


def mask_for_mlm(ids: torch.Tensor, special_ids: list[int], mask_id: int, vocab_size: int,
                 generator: torch.Generator, rate: float = 0.15, replace_only: bool = False):
    """BERT's masking: choose `rate` of the ordinary tokens; 80% -> [MASK], 10% random, 10% kept.

    With replace_only=True every chosen token becomes [MASK] (how we evaluate).
    Returns (inputs, labels) where labels is -100 except at the chosen positions.
    """
    ordinary = ~torch.isin(ids, torch.tensor(special_ids))
    chosen = (torch.rand(ids.shape, generator=generator) < rate) & ordinary
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    inputs = ids.clone()
    if replace_only:
        inputs[chosen] = mask_id
        return inputs, labels
    roll = torch.rand(ids.shape, generator=generator)
    inputs[chosen & (roll < 0.8)] = mask_id
    rand_pos = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[rand_pos] = torch.randint(len(special_ids), vocab_size, (int(rand_pos.sum()),), generator=generator)
    return inputs, labels


def with_repeats(windows: torch.Tensor, share: float, seed: int, min_span: int = 8, max_span: int | None = None,
                 vocab: tuple[int, int] | None = None, times: int = 1) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
    """An induction curriculum (Olsson et al. 2022, "In-context learning and induction heads"): a seeded
    `share` of the rows (round(share * rows), chosen by a generator of its own seeded with `seed`) get one
    span of tokens followed at once by `times` copies of the same span, written over the row's own tokens.

    Predicting a copy rewards attending to the token after the previous occurrence of the current token,
    which needs a previous-token head in an earlier layer; a span of two tokens repeated ("a b a b ...")
    rewards attending to the previous token directly (the next token is the one before the current one).
    Each span has its own seeded length in [min_span, max_span] (default: the row's length / (2 * (times + 1)))
    and start, so no fixed positional offset predicts the copy. With vocab=None the span is the row's own text
    (the corpus); with vocab=(lo, hi) it is random token ids in [lo, hi). Returns (new windows,
    [(row, start, span length)] of the repeated rows); the input is not changed, the other rows stay as they were.
    """
    out = windows.clone()
    n, length = out.shape
    max_span = max_span or length // (2 * (times + 1))
    assert 0.0 <= share <= 1.0 and 1 <= min_span <= max_span and (times + 1) * max_span <= length and times >= 1
    g = torch.Generator().manual_seed(seed)
    rows = torch.randperm(n, generator=g)[: round(share * n)].sort().values.tolist()
    spans = []
    for r in rows:
        k = int(torch.randint(min_span, max_span + 1, (1,), generator=g))
        start = int(torch.randint(0, length - (times + 1) * k + 1, (1,), generator=g))
        if vocab is not None:
            out[r, start: start + k] = torch.randint(vocab[0], vocab[1], (k,), generator=g)
        for c in range(1, times + 1):
            out[r, start + c * k: start + (c + 1) * k] = out[r, start: start + k]
        spans.append((r, start, k))
    return out, spans


def with_skip_copies(windows: torch.Tensor, share: float, seed: int, vocab: tuple[int, int],
                     segment: int = 96) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """A previous-token curriculum: a seeded `share` of the rows (round(share * rows), by a generator of its own
    seeded with `seed`) get a segment of `segment` tokens (rounded down to triples) at a seeded start, made of
    random triples `a b a` (a, b random ids in [lo, hi), fresh for each triple).

    The third token of a triple is the token before the current one, and nothing else in the context tells it
    (every triple has its own tokens, so neither the bag of earlier tokens nor a content match helps): a loss that
    one head attending to the previous token removes. Returns (new windows, [(row, start)]); the input is not
    changed, the other rows stay as they were.
    """
    out = windows.clone()
    n, length = out.shape
    segment = min(segment, length) // 3 * 3
    assert 0.0 <= share <= 1.0 and segment >= 3
    g = torch.Generator().manual_seed(seed)
    rows = torch.randperm(n, generator=g)[: round(share * n)].sort().values.tolist()
    placed = []
    for r in rows:
        start = int(torch.randint(0, length - segment + 1, (1,), generator=g))
        ab = torch.randint(vocab[0], vocab[1], (segment // 3, 2), generator=g)
        out[r, start: start + segment] = torch.stack([ab[:, 0], ab[:, 1], ab[:, 0]], 1).reshape(-1)
        placed.append((r, start))
    return out, placed


def triple_rows(n: int, length: int, vocab: tuple[int, int],
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A previous-token phase's batch: n rows of `length` tokens made only of random triples `a b a` (a, b fresh
    random ids in [lo, hi) for each triple), each row cut at a random phase of its triples (0, 1 or 2 tokens
    dropped at the start, so no position is always the middle of a triple), and labels that score only the third
    token of each triple (-100 elsewhere: a and b are unpredictable noise).

    Predicting the third token from the second needs the token before the current one, and only its position tells
    which token that is (the content is random): the loss rewards attending by position. Returns (ids, labels).
    """
    lo, hi = vocab
    ab = torch.randint(lo, hi, (n, length // 3 + 2, 2), generator=generator)
    rows = torch.stack([ab[..., 0], ab[..., 1], ab[..., 0]], -1).reshape(n, -1)
    index = torch.randint(0, 3, (n, 1), generator=generator) + torch.arange(length)
    ids = rows.gather(1, index)
    labels = torch.where(index % 3 == 2, ids, torch.full_like(ids, -100))
    return ids, labels


def repeated_ngrams(ids: list[int], n: int = 4) -> list[bool]:
    """For each n-gram of `ids` (by start position): whether the same n-gram already occurred earlier in `ids`."""
    seen, again = set(), []
    for i in range(len(ids) - n + 1):
        gram = tuple(ids[i: i + n])
        again.append(gram in seen)
        seen.add(gram)
    return again


def repeat_candidates(ids: torch.Tensor, start: int, n: int = 4) -> torch.Tensor:
    """Sequence-level unlikelihood's negative candidates (Welleck et al. 2019, "Neural text generation with
    unlikelihood training"): in each row of `ids` [batch, length], every token at a position >= `start` (the
    model's own continuation) that belongs to an n-gram which already occurred earlier in the row.  Bool [batch,
    length]."""
    flags = torch.zeros(ids.shape, dtype=torch.bool)
    for r, row in enumerate(ids.tolist()):
        for i, again in enumerate(repeated_ngrams(row, n)):
            if again and i + n > start:
                flags[r, max(i, start): i + n] = True
    return flags
