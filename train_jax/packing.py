"""Packing documents into fixed-length rows, with segment ids and positions that restart per document.

Why packing: MNLU-Instruct answers are short next to 2048 tokens, so padding each example would waste most of
the compute. A packed row never lets a document attend to another (the model masks by segment id), and positions
restart at 0 for each document, so a packed row gives each document exactly the loss it gets alone.

The plan (which documents go into which row) depends only on the document lengths and their order, so every
process computes the same plan and then builds only the rows of its own slice of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from train_jax.data import TokenizedData

OPEN_ROWS = 16  # first-fit over this many open rows: near-optimal fill, order mostly kept, O(N) time

BATCH_KEYS = ("input_ids", "targets", "weights", "segment_ids", "positions")


@dataclass(frozen=True)
class RowPlan:
    """Row r holds documents `docs[row_offsets[r]:row_offsets[r+1]]`, in that order."""

    docs: np.ndarray  # int64
    row_offsets: np.ndarray  # int64 [n_rows + 1]

    @property
    def num_rows(self) -> int:
        return len(self.row_offsets) - 1

    def row(self, r: int) -> np.ndarray:
        return self.docs[self.row_offsets[r] : self.row_offsets[r + 1]]


def plan_rows(lengths: np.ndarray, order: np.ndarray, max_len: int, *, packing: bool = True) -> RowPlan:
    """Place documents (visited in `order`) into rows of `max_len` tokens: first fit over a few open rows.

    Without packing, each document gets a row of its own.
    """
    if not packing:
        return RowPlan(np.asarray(order, np.int64), np.arange(len(order) + 1, dtype=np.int64))
    if len(lengths) and int(lengths.max()) > max_len:
        raise ValueError(f"a document of {int(lengths.max())} tokens does not fit rows of {max_len}")
    closed: list[list[int]] = []
    open_rows: list[list[int]] = []
    room: list[int] = []
    for d in order.tolist():
        n = int(lengths[d])
        for i, free in enumerate(room):
            if n <= free:
                open_rows[i].append(d)
                room[i] -= n
                break
        else:
            open_rows.append([d])
            room.append(max_len - n)
            if len(open_rows) > OPEN_ROWS:
                closed.append(open_rows.pop(0))
                room.pop(0)
    closed.extend(open_rows)
    counts = np.fromiter((len(r) for r in closed), np.int64, len(closed))
    offsets = np.zeros(len(closed) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    docs = np.fromiter((d for r in closed for d in r), np.int64, int(offsets[-1]))
    return RowPlan(docs, offsets)


def empty_rows(n: int, max_len: int) -> dict[str, np.ndarray]:
    return {
        "input_ids": np.zeros((n, max_len), np.int32),
        "targets": np.zeros((n, max_len), np.int32),
        "weights": np.zeros((n, max_len), np.float32),
        "segment_ids": np.zeros((n, max_len), np.int32),
        "positions": np.zeros((n, max_len), np.int32),
    }


def build_rows(data: TokenizedData, rows: list[np.ndarray | None], max_len: int) -> dict[str, np.ndarray]:
    """Arrays [len(rows), max_len] for the given rows (each a list of document ids; None = an empty row).

    Token t of a document predicts token t+1 of the same document: `targets[t]` is that token and `weights[t]` is
    1 when it is a training target. Padding has segment 0, weight 0; documents get segments 1, 2, ...
    """
    out = empty_rows(len(rows), max_len)
    for i, docs in enumerate(rows):
        if docs is None:
            continue
        pos = 0
        for seg, d in enumerate(docs.tolist(), start=1):
            ids, tgt = data.doc(d)
            n = len(ids)
            out["input_ids"][i, pos : pos + n] = ids
            out["targets"][i, pos : pos + n - 1] = ids[1:]
            out["weights"][i, pos : pos + n - 1] = tgt[1:]
            out["segment_ids"][i, pos : pos + n] = seg
            out["positions"][i, pos : pos + n] = np.arange(n, dtype=np.int32)
            pos += n
    return out
