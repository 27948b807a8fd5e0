"""Predictions appended to a JSONL file as they are made, and resumed after a crash. Backend-independent.

Resume contract: a restarted run reads the file, keeps every complete line, drops a torn last line (a crash in
the middle of a write) by truncating the file back to the last newline, and generates only the prompts whose
`prompt_id` is not in the file yet. Each batch is written with one `write` and then flushed and fsynced, so a
prompt is either fully recorded or not at all: no prompt is generated twice and none is lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mnlu.formats.errors import FormatError
from mnlu.schema import answer_of

PREDICTION_FIELDS = ("prompt_id", "reference", "prediction", "task", "type", "options")

# A generate function takes records (unified schema) and returns one output text per record, in order.
GenerateFn = Callable[[Sequence[Mapping[str, Any]]], Sequence[str]]


def prediction_row(record: Mapping[str, Any], output: str) -> dict[str, Any]:
    """The paper's prediction fields for one record."""
    return {
        "prompt_id": record["prompt_id"],
        "reference": answer_of(record) or "",
        "prediction": output,
        "task": record["task"],
        "type": record["type"],
        "options": record["options"],
    }


def read_predictions(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Rows of a predictions file; a malformed line is an error naming the file and line. With `repair` (resuming
    our own file) a torn last line (no trailing newline, invalid JSON: a crash mid-write) is cut from the file
    instead."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    rows: list[dict[str, Any]] = []
    pos = lineno = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        lineno += 1
        last = end < 0
        line = data[pos:] if last else data[pos:end]
        if line.strip():
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
            except (ValueError, UnicodeDecodeError) as e:
                if last and repair:  # torn write at the end: the prompt was not recorded
                    with open(path, "r+b") as f:
                        f.truncate(pos)
                    break
                raise FormatError(path, f"malformed prediction line ({e.__class__.__name__}); expected a JSON "
                                  f"object with {list(PREDICTION_FIELDS)}", line=lineno) from None
            missing = [k for k in ("prompt_id", "prediction") if k not in row]
            if missing:
                raise FormatError(path, f"missing field(s) {missing}", line=lineno)
            if not isinstance(row["prediction"], str) or not isinstance(row["prompt_id"], str):
                raise FormatError(path, "'prompt_id' and 'prediction' must be strings", line=lineno)
            rows.append(row)
        if last:
            break
        pos = end + 1
    if repair and data and not data.endswith(b"\n") and rows and path.stat().st_size == len(data):
        with open(path, "ab") as f:  # complete final line without newline: terminate it before appending
            f.write(b"\n")
    return rows


class PredictionLog:
    """An append-only predictions JSONL with crash-safe resume."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, dict[str, Any]] = {}
        for row in read_predictions(self.path, repair=True):
            self.done.setdefault(row["prompt_id"], row)

    def pending(self, records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        seen: set[str] = set()
        out = []
        for r in records:
            pid = r["prompt_id"]
            if pid in seen:
                raise ValueError(f"duplicate prompt_id {pid!r} in the records to generate")
            seen.add(pid)
            if pid not in self.done:
                out.append(r)
        return out

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        blob = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        with open(self.path, "ab") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        for r in rows:
            self.done[r["prompt_id"]] = dict(r)


def run_generation(
    records: Sequence[Mapping[str, Any]],
    generate: GenerateFn,
    path: str | os.PathLike,
    *,
    batch_size: int = 8,
    order: Callable[[Mapping[str, Any]], Any] | None = None,
    desc: str = "generate",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Generate the records not yet in `path`, `batch_size` at a time (optionally sorted by `order`, e.g. prompt
    length, so batches share a length bucket), appending each batch; returns one row per record, in record
    order."""
    log = PredictionLog(path)
    todo = log.pending(records)
    if order is not None:
        todo = sorted(todo, key=order)
    if todo:
        from tqdm import tqdm

        bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=desc, unit="prompt",
                   disable=not progress)
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            outputs = list(generate(batch))
            if len(outputs) != len(batch):
                raise RuntimeError(f"generate returned {len(outputs)} outputs for {len(batch)} prompts")
            log.append([prediction_row(r, o) for r, o in zip(batch, outputs, strict=True)])
            bar.update(len(batch))
        bar.close()
    return [log.done[r["prompt_id"]] for r in records]
