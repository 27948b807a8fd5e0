"""Records → token ids with a loss mask, rendered with the paper's chat template.

The mask comes from the rendered conversation's character spans (`mnlu.prompts.assistant_char_spans`): a token is a
training target when its characters overlap an assistant answer, so the `<|assistant|>\\n` header is excluded and the
closing `</s>` is included. Why from character spans and not by re-tokenising pieces: it cannot drift from what
the tokenizer does at the boundaries. A mask that comes out all-zeros, all-ones or without the closing `</s>` is an
error naming the record, never a silent fallback. `assistant_only_loss: false` puts the loss on every token
(except the leading `<s>`, which is never predicted).

The result is one flat array of token ids and one of target flags, with document offsets: compact enough for the
whole MNLU-Instruct mixture in host memory, and fingerprinted so a resumed run can refuse changed data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnlu.prompts import assistant_char_spans, render_chat
from mnlu.tokenizer import EOS_ID
from train_jax.data_sources import DataError

ENCODE_CHUNK = 512


@dataclass(frozen=True)
class TokenizedData:
    """Documents as one flat token array: document d is `ids[offsets[d]:offsets[d+1]]`.

    `targets[i]` is 1 when token i is a training target (it is predicted from the tokens before it).
    """

    ids: np.ndarray  # int32 [total]
    targets: np.ndarray  # uint8 [total]
    offsets: np.ndarray  # int64 [n_docs + 1]
    truncated: int  # documents cut to max_seq_length
    dropped: int  # documents with no target token left after truncation (not trained on)
    fingerprint: str

    @property
    def num_docs(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def doc(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.offsets[d], self.offsets[d + 1]
        return self.ids[lo:hi], self.targets[lo:hi]


def target_mask(
    messages: Sequence[Mapping[str, str]],
    offsets: Sequence[tuple[int, int]],
    ids: Sequence[int],
    where: str,
    *,
    assistant_only: bool = True,
) -> np.ndarray:
    """uint8 flags over the tokens of `render_chat(messages)`: 1 for tokens overlapping an assistant answer."""
    n = len(ids)
    if not assistant_only:
        mask = np.ones(n, np.uint8)
        mask[:1] = 0  # the leading <s> is never predicted
        return mask
    spans = assistant_char_spans(messages)
    if not spans:
        raise DataError(f"{where}: record has no assistant turn; a training record needs the assistant's answer")
    off = np.asarray(offsets, np.int64).reshape(n, 2)
    start, end = off[:, 0], off[:, 1]
    mask = np.zeros(n, bool)
    for lo, hi in spans:
        mask |= (end > start) & (start < hi) & (end > lo)
    if not mask.any():
        raise DataError(f"{where}: the assistant-only loss mask is all zeros (no token overlaps an assistant answer)")
    if mask[1:].all():
        raise DataError(f"{where}: the assistant-only loss mask is all ones (the prompt got no unmasked token)")
    ids_arr = np.asarray(ids)
    for _lo, hi in spans:
        last = np.nonzero((start < hi) & (end >= hi) & (end > start))[0]
        if not len(last) or ids_arr[last[0]] != EOS_ID or not mask[last[0]]:
            raise DataError(f"{where}: the assistant answer ending at character {hi} does not end with a masked </s>")
    return mask.astype(np.uint8)


def tokenize_records(
    records: Iterable[tuple[Mapping[str, Any], str]],
    tokenizer: Any,
    max_seq_length: int,
    *,
    assistant_only: bool = True,
    progress: Any = None,
) -> TokenizedData:
    """Render, tokenise (with `<s>`), mask and truncate every record; `records` yields (record, where)."""
    ids_parts: list[np.ndarray] = []
    tgt_parts: list[np.ndarray] = []
    lengths: list[int] = []
    truncated = dropped = 0
    batch: list[tuple[Mapping[str, Any], str]] = []

    def flush() -> None:
        nonlocal truncated, dropped
        texts = [render_chat(r["messages"]) for r, _ in batch]
        for (record, where), enc in zip(batch, tokenizer.encode_batch(texts, add_special_tokens=True), strict=True):
            mask = target_mask(record["messages"], enc.offsets, enc.ids, where, assistant_only=assistant_only)
            ids = np.asarray(enc.ids, np.int32)
            if len(ids) > max_seq_length:
                truncated += 1
                ids, mask = ids[:max_seq_length], mask[:max_seq_length]
                if not mask.any():
                    dropped += 1
                    continue
            ids_parts.append(ids)
            tgt_parts.append(mask)
            lengths.append(len(ids))
        if progress is not None:
            progress.update(len(batch))
        batch.clear()

    for item in records:
        batch.append(item)
        if len(batch) >= ENCODE_CHUNK:
            flush()
    if batch:
        flush()
    if not lengths:
        raise DataError("the dataset_mixer selects no trainable record (empty sources or fractions too small)")
    ids = np.concatenate(ids_parts)
    targets = np.concatenate(tgt_parts)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    h = hashlib.sha256()
    for arr in (ids, targets, offsets):
        h.update(np.ascontiguousarray(arr).tobytes())
    return TokenizedData(ids, targets, offsets, truncated, dropped, h.hexdigest())
