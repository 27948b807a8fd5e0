"""Readers for the distributed file formats of BLURB and BLUE: TSV with or without CSV quoting, JSON, JSONL (IOB
token files are read by mnlu.formats.iob, the one IOB reader). Each reports bad input as a FormatError naming the
file and line, never the text."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mnlu.formats.errors import FormatError


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not valid UTF-8 (byte offset {e.start})") from None


def read_tsv(
    path: Path,
    columns: Sequence[str] | None,
    *,
    header: bool,
    quoting: bool,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a TAB-separated file. `header=True` checks that the first line names `columns` (in
    order; when `columns` is None the header names them). `quoting` uses CSV quotes (`""` escapes, TABs and line
    breaks inside quoted fields); without it a field may hold raw quotes."""
    text = _read_text(path)
    if quoting:
        import io

        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
        rows = ((reader.line_num, r) for r in reader)
    else:
        rows = ((i, line.rstrip("\r").split("\t")) for i, line in enumerate(text.split("\n"), 1) if line.strip())
    names: list[str] | None = list(columns) if columns is not None else None
    first = True
    for lineno, fields in rows:
        if not fields or fields == [""]:
            continue
        if header and first:
            first = False
            got = [f.strip() for f in fields]
            if names is None:
                names = got
            elif got != names:
                raise FormatError(path, f"header {got}; expected {names}", line=lineno)
            continue
        first = False
        if names is None:
            raise ValueError("read_tsv: a headerless file needs `columns`")
        if len(fields) != len(names):
            raise FormatError(path, f"{len(fields)} fields; expected {len(names)} ({', '.join(names)})", line=lineno)
        yield lineno, dict(zip(names, fields, strict=True))


def read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise FormatError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in enumerate(_read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise FormatError(path, f"invalid JSON: {e.msg}", line=lineno) from None
        if not isinstance(obj, dict):
            raise FormatError(path, "expected a JSON object", line=lineno)
        yield lineno, obj


def require(path: Path, lineno: int, row: dict[str, Any], key: str) -> Any:
    if key not in row:
        raise FormatError(path, f"missing field {key!r}", line=lineno)
    return row[key]
