"""JSON, JSON Lines, CSV and TSV readers that report every problem as a FormatError naming file and line.

The one row reader of the project (the tabular corpora and the public NER/RE corpora both use it). The standard
library does the parsing (`json`, `csv`); this module adds what it lacks for corpus files: strict UTF-8
decoding with the line of a bad byte (or an explicit fallback encoding), a leading BOM dropped, the line where
each record starts (CSV records may span lines; JSON array elements and object keys get their own line), a
header and column-count check, and no field-size surprise (csv's 128 KiB default limit is raised: clinical
notes and whole papers live in single fields).

Bad records go to `on_bad(error)` and are skipped; without `on_bad` the error is raised. A file that cannot be
read at all (not UTF-8, not JSON, a required column missing) always raises.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError, Report, raise_error

OnBad = Report | None
_FIELD_LIMIT = 1 << 30
_DECODER = json.JSONDecoder()



def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _loads(text: str, path: str | Path, line: int | None = None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = e.lineno if line is None else line
        raise FormatError(path, f"not JSON ({e.msg}, column {e.colno})", line=at) from None
    except RecursionError:
        raise FormatError(path, "JSON nested too deeply", line=line) from None


def _read_text(path: str | Path, fallback_encoding: str | None = None) -> str:
    """The file's text (UTF-8, else `fallback_encoding`), without a leading byte-order mark."""
    text = read_text_file(path, fallback_encoding)
    return text[1:] if text.startswith("\ufeff") else text


def read_json(path: str | Path) -> Any:
    """One JSON value (a whole-file object or array)."""
    return _loads(_read_text(path), path)


def read_jsonl(path: str | Path, *, on_bad: OnBad = None, require_object: bool = True
               ) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; a bad line (not JSON, or not an object when
    `require_object`) goes to `on_bad` and is skipped."""
    report = on_bad or raise_error
    for lineno, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _loads(line, path, lineno)
            if require_object and not isinstance(value, dict):
                raise FormatError(path, f"expected a JSON object, got {type(value).__name__}", line=lineno)
        except FormatError as e:
            report(e)
            continue
        yield lineno, value


def read_delimited(
    path: str | Path,
    *,
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    header: bool | Sequence[str] = True,
    required: Sequence[str] = (),
    on_bad: OnBad = None,
    fallback_encoding: str | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line where the record starts, {column: value}) for each record of a CSV/TSV file.

    `header=True` takes the column names from the first record (stripped; an empty one, such as a pandas index
    column, is kept under the key ""); a sequence names the columns of a header-less file. A `required` column
    missing from the header raises; a record with another number of fields goes to `on_bad`. A file that is
    not UTF-8 is decoded with `fallback_encoding` when one is given (some corpus files are Latin-1).
    `quoting=csv.QUOTE_NONE` is for files such as GLUE's whose sentences hold stray quote characters.
    """
    report = on_bad or raise_error
    kind = "TSV" if delimiter == "\t" else "CSV"
    text = _read_text(path, fallback_encoding)
    csv.field_size_limit(_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=False)
    names: list[str] | None = None if header is True else list(header or [])
    if names is not None:
        _check_required(path, names, required, 1)
    record_start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            if names is None and required:
                raise FormatError(path, f"empty {kind}: expected a header with {list(required)}", line=1) from None
            return
        except csv.Error as e:
            report(FormatError(path, f"not {kind} ({e})", line=record_start))
            return
        start, record_start = record_start, reader.line_num + 1
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if names is None:
            names = [c.strip() for c in row]
            if len(set(names)) != len(names):
                raise FormatError(path, f"duplicate column names in the {kind} header", line=start)
            _check_required(path, names, required, start)
            continue
        if len(row) != len(names):
            report(FormatError(path, f"expected {len(names)} fields, got {len(row)}", line=start))
            continue
        yield start, dict(zip(names, row, strict=True))


def _check_required(path: str | Path, names: Sequence[str], required: Sequence[str], line: int) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        raise FormatError(path, f"missing column(s) {missing}; the header has {list(names)}", line=line)


# -------------------------------------------------------------------------------------------- JSON scanning


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _raw(text: str, pos: int, path: str | Path) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as e:
        raise FormatError(path, f"not JSON ({e.msg}, column {e.colno})", line=e.lineno) from None
    except RecursionError:
        raise FormatError(path, "JSON nested too deeply", line=_line_at(text, pos)) from None


def _expect(text: str, pos: int, char: str, path: str | Path) -> int:
    pos = _skip_ws(text, pos)
    if pos >= len(text) or text[pos] != char:
        raise FormatError(path, f"not JSON (expected {char!r})", line=_line_at(text, pos))
    return pos + 1


def _iter_array(text: str, pos: int, path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line, element) for the array starting at text[pos] == '['."""
    pos = _expect(text, pos, "[", path)
    pos = _skip_ws(text, pos)
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        pos = _skip_ws(text, pos)
        value, end = _raw(text, pos, path)
        yield _line_at(text, pos), value
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        _expect(text, pos, "]", path)
        return


def _iter_object(text: str, pos: int, path: str | Path) -> Iterator[tuple[str, int, int]]:
    """(key, line of the key, position of its value) for the object starting at text[pos] == '{'."""
    pos = _expect(text, pos, "{", path)
    pos = _skip_ws(text, pos)
    if pos < len(text) and text[pos] == "}":
        return
    while True:
        pos = _skip_ws(text, pos)
        key, end = _raw(text, pos, path)
        if not isinstance(key, str):
            raise FormatError(path, "not JSON (object keys must be strings)", line=_line_at(text, pos))
        line = _line_at(text, pos)
        value_pos = _skip_ws(text, _expect(text, end, ":", path))
        yield key, line, value_pos
        _, end = _raw(text, value_pos, path)
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        _expect(text, pos, "}", path)
        return


def json_key_lines(path: str | Path, keys: Sequence[str] | None = None) -> dict[str, int]:
    """Line of each top-level key of a JSON object file (all keys, or only `keys`), for error messages."""
    text = _read_text(path)
    wanted = None if keys is None else set(keys)
    start = _skip_ws(text, 0)
    if not text[start:start + 1] == "{":
        raise FormatError(path, "expected a JSON object", line=_line_at(text, start))
    return {k: line for k, line, _ in _iter_object(text, start, path) if wanted is None or k in wanted}


def read_records(path: str | Path, *, on_bad: OnBad = None, delimiter: str | None = None
                 ) -> Iterator[tuple[int, Any]]:
    """(line, record) from whatever record file this is: CSV/TSV by suffix, JSON Lines, a JSON array, or a JSON
    object holding one array of records (e.g. `{"data": [...]}`). A `.json` file that is really JSON Lines is
    read as such."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv") or delimiter is not None:
        yield from read_delimited(path, delimiter=delimiter or ("\t" if suffix == ".tsv" else ","), on_bad=on_bad)
        return
    if suffix not in (".json", ".jsonl"):
        raise FormatError(path, f"unsupported file type {suffix!r}; expected .csv, .tsv, .jsonl or .json")
    text = _read_text(path)
    start = _skip_ws(text, 0)
    if suffix == ".jsonl" or not _is_single_json(text):
        yield from read_jsonl(path, on_bad=on_bad, require_object=False)
        return
    if text[start:start + 1] == "[":
        yield from _iter_array(text, start, path)
        return
    if text[start:start + 1] == "{":
        arrays = [(k, p) for k, _, p in _iter_object(text, start, path) if text[p:p + 1] == "["]
        if len(arrays) == 1:
            yield from _iter_array(text, arrays[0][1], path)
            return
        raise FormatError(path, "expected a JSON array of records or an object holding one array "
                          f"(found {len(arrays)} arrays)", line=_line_at(text, start))
    raise FormatError(path, "expected JSON records", line=_line_at(text, start))


def _is_single_json(text: str) -> bool:
    try:
        json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True
