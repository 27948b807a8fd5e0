"""Readers for the distributed file formats of BLURB and BLUE (IOB token files, TSV with or without CSV quoting,
JSON, JSONL). Each reports bad input as a FormatError naming the file and line, never the text."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnlu.formats.errors import FormatError


@dataclass(frozen=True)
class TaggedSentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    doc: str | None  # document id where the file marks documents (-DOCSTART-, BLUE's filename column)
    line: int  # 1-based line of the first token


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not valid UTF-8 (byte offset {e.start})") from None


def _check_tag(path: Path, lineno: int, tag: str, io_only: bool) -> None:
    ok = tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2) or tag in ("B", "I")
    if io_only:
        ok = ok and not tag.startswith("B")
    if not ok:
        expected = "I-X or O" if io_only else "B-X, I-X, B, I or O"
        raise FormatError(path, f"tag {tag!r}: expected {expected}", line=lineno)


def read_iob(path: Path, *, io_only: bool = False, blue_columns: bool = False) -> list[TaggedSentence]:
    """One token per line, a blank line between sentences.

    `token<TAB>tag` (MTL/BLURB: `-DOCSTART-` lines open documents, separated from the id by a TAB or a space), or
    with `blue_columns` BLUE's CSV-quoted `token<TAB>filename-or-'-'<TAB>offset<TAB>tag`.
    """
    text = _read_text(path)
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    doc: str | None = None
    start = 0

    def flush() -> None:
        nonlocal tokens, tags
        if tokens:
            sentences.append(TaggedSentence(tuple(tokens), tuple(tags), doc, start))
        tokens, tags = [], []

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        if not line.strip():
            flush()
            continue
        if line.startswith("-DOCSTART-"):
            flush()
            rest = line[len("-DOCSTART-") :].strip()
            doc = rest.split("\t")[0].strip().strip("()") if rest and rest != "O" else f"doc@{lineno}"
            continue
        if blue_columns:
            fields = next(csv.reader([line], delimiter="\t"))
            if len(fields) != 4:
                raise FormatError(path, f"{len(fields)} columns; expected token, file, offset, tag", line=lineno)
            token, fname, _, tag = fields
            if fname != "-":
                flush()
                doc = fname
        else:
            fields = line.split("\t")
            if len(fields) != 2:
                raise FormatError(path, f"{len(fields)} columns; expected token<TAB>tag", line=lineno)
            token, tag = fields
        _check_tag(path, lineno, tag, io_only)
        if not tokens:
            start = lineno
        tokens.append(token)
        tags.append(tag)
    flush()
    if not sentences:
        raise FormatError(path, "no sentences found; expected token<TAB>tag lines")
    return sentences


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
