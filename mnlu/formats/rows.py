"""Row readers for the converters of the tabular corpora (CSV, TSV, JSON Lines, one JSON document).

Every reader yields `(line, row)` where `line` is the 1-based line on which the record starts, so a bad
record can be reported as `file:line`. A row that cannot be read is passed to `on_bad` (which raises under
--strict) and skipped; a file that cannot be read at all raises FormatError.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mnlu.formats.errors import FormatError

OnBad = Callable[[FormatError], None]

_FIELD_LIMIT = 2**31 - 1  # clinical notes and whole papers live in single fields


def _raise(error: FormatError) -> None:
    raise error


def read_delimited(
    path: Path,
    *,
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    required: Sequence[str] = (),
    on_bad: OnBad = _raise,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV/TSV file with a header, as dicts keyed by the header names.

    `quoting=csv.QUOTE_NONE` is for files such as GLUE's whose sentences hold stray quote characters.
    A header cell that is empty (a pandas index) is kept under the key "".
    """
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
            try:
                header = next(reader)
            except StopIteration:
                raise FormatError(path, "empty file; expected a header row", line=1) from None
            missing = [c for c in required if c not in header]
            if missing:
                raise FormatError(path, f"missing column(s) {missing}; the header has {header}", line=1)
            start = reader.line_num + 1
            for row in reader:
                line, start = start, reader.line_num + 1
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    on_bad(FormatError(path, f"{len(row)} fields; the header has {len(header)}", line=line))
                    continue
                yield line, dict(zip(header, row))
    except csv.Error as e:
        raise FormatError(path, f"unreadable {'TSV' if delimiter == chr(9) else 'CSV'}: {e}") from None
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 (byte {e.start})", offset=e.start) from None


def read_jsonl(path: Path, *, on_bad: OnBad = _raise) -> Iterator[tuple[int, Any]]:
    """Objects of a JSON Lines file; a line that is not valid JSON is reported and skipped."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield line_no, json.loads(line)
                except json.JSONDecodeError as e:
                    on_bad(FormatError(path, f"invalid JSON ({e.msg}, column {e.colno})", line=line_no))
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 (byte {e.start})", offset=e.start) from None


def read_json(path: Path) -> Any:
    """One JSON document (an object or a list)."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise FormatError(path, f"invalid JSON ({e.msg}, column {e.colno})", line=e.lineno) from None
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 (byte {e.start})", offset=e.start) from None


def read_records(path: Path, *, on_bad: OnBad = _raise) -> Iterator[tuple[int, Any]]:
    """Rows of a .csv/.tsv/.jsonl/.json file, chosen by suffix. A .json file may hold JSON Lines, a list of
    objects or `{"data": [...]}`; for a whole-document JSON the "line" is the 1-based row index."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        yield from read_delimited(path, delimiter="\t" if suffix == ".tsv" else ",", on_bad=on_bad)
    elif suffix == ".jsonl" or (suffix == ".json" and _first_line_is_object(path)):
        yield from read_jsonl(path, on_bad=on_bad)
    elif suffix == ".json":
        doc = read_json(path)
        rows = doc.get("data") if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise FormatError(path, "expected JSON Lines, a list of records or {'data': [...]}")
        yield from enumerate(rows, start=1)
    else:
        raise FormatError(path, f"unsupported file type {suffix!r}; expected .csv, .tsv, .jsonl or .json")


def _first_line_is_object(path: Path) -> bool:
    """True when the first non-empty line is a complete JSON object on its own (JSON Lines)."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            for line in f:
                if line.strip():
                    try:
                        return isinstance(json.loads(line), dict)
                    except json.JSONDecodeError:
                        return False
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 (byte {e.start})", offset=e.start) from None
    return False


def json_key_lines(path: Path, keys: Sequence[str]) -> dict[str, int]:
    """1-based line on which each top-level key of a pretty-printed JSON object appears (for error messages)."""
    wanted = {f'"{k}"': k for k in keys}
    found: dict[str, int] = {}
    with path.open(encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, start=1):
            head = line.strip().split(":", 1)[0].strip()
            if head in wanted and wanted[head] not in found:
                found[wanted[head]] = line_no
    return found


def find_files(root: Path, pattern: str = "*") -> list[Path]:
    """Files under `root` whose name matches `pattern`, sorted; symlinked folders are followed (a corpus folder
    is often assembled from links to the downloaded archives), hidden and AppleDouble `._*` files skipped."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        found += [Path(folder) / f for f in files if fnmatch.fnmatch(f, pattern) and not f.startswith(".")]
    return sorted(found)


def find_dirs(root: Path, name: str) -> list[Path]:
    """Folders under `root` (links followed) called `name`, sorted."""
    return sorted(Path(folder) / name for folder, dirs, _ in os.walk(root, followlinks=True) if name in dirs)
