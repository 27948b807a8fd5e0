"""Predictions appended to a JSONL file as they are made, and resumed after a crash. Backend-independent.

Resume contract: a restarted run reads the file, keeps every complete line, drops a torn last line (a crash in
the middle of a write) by truncating the file back to the last newline, and generates only the prompts not
recorded yet. Each batch is written with one `write` and then flushed and fsynced, so a prompt is either fully
recorded or not at all: no prompt is generated twice and none is lost.

What a row is keyed by: each row carries `cache` = {model, generation, prompt} (`eval.backends.identity`). A
row is reused only when all three equal this run's. A file holding rows of another model or other generation
settings is refused with an error naming the file and both identities (a folder of one model's predictions
must not silently mix in another's); `overwrite=True` replaces those rows. A row whose prompt tokens changed
(data, template or tokenizer edits under the same model) is dropped and generated again.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mnlu.formats.errors import FormatError
from mnlu.schema import answer_of

PREDICTION_FIELDS = ("prompt_id", "reference", "prediction", "task", "type", "options")

# A generate function takes records (unified schema) and returns one output text per record, in order.
GenerateFn = Callable[[Sequence[Mapping[str, Any]]], Sequence[str]]
# A prompt key maps a record to the digest of its rendered prompt's token ids.
PromptKeyFn = Callable[[Mapping[str, Any]], str]
UNKNOWN = "unknown (a row without a recorded model identity)"


class StoreMismatch(ValueError):
    """The predictions file belongs to another model or other generation settings."""


def prediction_row(record: Mapping[str, Any], output: str, cache: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """The paper's prediction fields for one record, plus its cache key when generated here."""
    row = {
        "prompt_id": record["prompt_id"],
        "reference": answer_of(record) or "",
        "prediction": output,
        "task": record["task"],
        "type": record["type"],
        "options": record["options"],
    }
    if cache is not None:
        row["cache"] = dict(cache)
    return row


def _owner(row: Mapping[str, Any]) -> tuple[str | None, str | None]:
    cache = row.get("cache")
    if not isinstance(cache, dict):
        return None, None
    return cache.get("model"), cache.get("generation")


def _rewrite(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the file by `rows` atomically (temp file, fsync, rename): a crash leaves the old or the new."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    """An append-only predictions JSONL with crash-safe resume, owned by one (model, generation settings)."""

    def __init__(self, path: str | os.PathLike, *, model: str | None = None, generation: str | None = None,
                 overwrite: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model, self.generation = model, generation
        rows = read_predictions(self.path, repair=True)
        foreign = [r for r in rows if _owner(r) != (model, generation)]
        if foreign and not overwrite:
            fm, fg = _owner(foreign[0])
            raise StoreMismatch(
                f"{self.path}: holds {len(foreign)} prediction(s) of model {fm or UNKNOWN} with generation "
                f"settings '{fg or UNKNOWN}', but this run is model {model or UNKNOWN} with '{generation or UNKNOWN}'"
                "; refusing to mix them: choose another --out, or pass --overwrite to replace them")
        if foreign:
            rows = [r for r in rows if _owner(r) == (model, generation)]
            _rewrite(self.path, rows)
        self.done: dict[str, dict[str, Any]] = {}
        for row in rows:
            self.done.setdefault(row["prompt_id"], row)

    def cache_key(self, prompt: str | None) -> dict[str, str] | None:
        if self.model is None and self.generation is None and prompt is None:
            return None
        return {"model": self.model or "", "generation": self.generation or "", "prompt": prompt or ""}

    def pending(self, records: Iterable[Mapping[str, Any]], prompt_key: PromptKeyFn | None = None
                ) -> list[Mapping[str, Any]]:
        """The records to generate: not recorded yet, or recorded for other prompt tokens (those rows are
        dropped from the file first)."""
        seen: set[str] = set()
        out, stale = [], []
        for r in records:
            pid = r["prompt_id"]
            if pid in seen:
                raise ValueError(f"duplicate prompt_id {pid!r} in the records to generate")
            seen.add(pid)
            row = self.done.get(pid)
            if row is not None and prompt_key is not None:
                if (row.get("cache") or {}).get("prompt") != prompt_key(r):
                    stale.append(pid)
                    row = None
            if row is None:
                out.append(r)
        if stale:
            for pid in stale:
                del self.done[pid]
            drop = set(stale)
            _rewrite(self.path, [r for r in read_predictions(self.path) if r["prompt_id"] not in drop])
            print(f"{self.path}: {len(stale)} prediction(s) were made for other prompt tokens; generating them "
                  "again", file=sys.stderr)
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
    model: str | None = None,
    generation: str | None = None,
    prompt_key: PromptKeyFn | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """Generate the records not yet in `path`, `batch_size` at a time (optionally sorted by `order`, e.g. prompt
    length, so batches share a length bucket), appending each batch; returns one row per record, in record
    order. `model`, `generation` and `prompt_key` (see `eval.backends.identity`) key the rows: see the module
    docstring; without them rows are unkeyed and reused by prompt_id (a library caller's own fixed generator)."""
    log = PredictionLog(path, model=model, generation=generation, overwrite=overwrite)
    if prompt_key is not None:  # tokenize each prompt once
        keys = {r["prompt_id"]: prompt_key(r) for r in records}

        def prompt_key(r: Mapping[str, Any]) -> str:
            return keys[r["prompt_id"]]

    todo = log.pending(records, prompt_key)
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
            log.append([prediction_row(r, o, log.cache_key(prompt_key(r) if prompt_key else None))
                        for r, o in zip(batch, outputs, strict=True)])
            bar.update(len(batch))
        bar.close()
    return [log.done[r["prompt_id"]] for r in records]
