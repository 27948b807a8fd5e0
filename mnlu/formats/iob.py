"""The one IOB / CoNLL reader (mnlu's corpora and eval's BLURB/BLUE adapters): one token per line, a blank
line between sentences, `-DOCSTART-` lines opening documents.

A distribution's layout is a `columns` choice and its tag set a `scheme`:
- columns `any` (mnlu's corpora): TAB-separated (whitespace without a TAB), token and tag picked by
  `token_col` / `tag_col`; a token must hold no whitespace (sentences are rebuilt as space-joined text).
  `pair` (BLURB): exactly `token<TAB>tag`. `blue` (BLUE): CSV-quoted `token<TAB>file-or-'-'<TAB>offset<TAB>tag`,
  where a file name opens a document.
- scheme `iobes`: O and B-/I-/E-/S-X; `iob`: O, B-X, I-X and untyped B, I (BLUE's files, BLURB's copies); `io`:
  O, I-X and I (EBM PICO).

Decoding (`chunks`) follows conlleval, seqeval's default: an `I-X` that does not continue an `X` mention starts a
new one; `E-X` closes a mention and `S-X` is one on its own. A bad line is reported (default: raised as a
FormatError naming the file and line) and its sentence skipped.

Why our own parser: seqeval (installed, test-only) decodes tag sequences but reads no files and knows no line
numbers; the formats are a few columns.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError, Report, raise_error

# scheme -> (valid tag, the error message for another tag)
_SCHEMES = {
    "iobes": (re.compile(r"O|[BIES]-\S+"), "tag {!r} is not O, B-X, I-X, E-X or S-X"),
    "iob": (re.compile(r"O|[BI]-.+|[BI]"), "tag {!r}: expected B-X, I-X, B, I or O"),
    "io": (re.compile(r"O|I-.+|I"), "tag {!r}: expected I-X or O"),
}
COLUMNS = ("any", "pair", "blue")


def chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, first token, end token exclusive) of each mention in a tag sequence (conlleval, plus IOBES)."""
    out: list[tuple[str, int, int]] = []
    cur: list | None = None  # [type, start, end]
    for i, tag in enumerate(tags):
        prefix, _, typ = tag.partition("-")
        if prefix not in ("B", "I", "E", "S", "O"):
            raise ValueError(f"tag {tag!r} at position {i}: expected O or B-X, I-X, E-X, S-X")
        if prefix == "O":
            if cur:
                out.append(tuple(cur))
            cur = None
            continue
        if cur is not None and cur[0] == typ and prefix in ("I", "E"):
            cur[2] = i + 1
        else:
            if cur:
                out.append(tuple(cur))
            cur = [typ, i, i + 1]
        if prefix in ("E", "S"):
            out.append(tuple(cur))
            cur = None
    if cur:
        out.append(tuple(cur))
    return out


@dataclass(frozen=True)
class IOBSentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    line: int  # line of the first token
    path: str
    doc: str | None = None  # the open document (-DOCSTART- id, BLUE's file column), if the file marks them

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def token_offsets(self) -> list[tuple[int, int]]:
        out, pos = [], 0
        for t in self.tokens:
            out.append((pos, pos + len(t)))
            pos += len(t) + 1
        return out

    def spans(self) -> list[tuple[int, int, str]]:
        """(start, end, type) character spans over `text`, in order."""
        offsets = self.token_offsets()
        return [(offsets[s][0], offsets[e - 1][1], typ) for typ, s, e in chunks(self.tags)]


def _docstart_id(line: str, lineno: int) -> str:
    rest = line[len("-DOCSTART-") :].strip()
    return rest.split("\t")[0].strip().strip("()") if rest and rest != "O" else f"doc@{lineno}"


def _fields(line: str, columns: str, token_col: int, tag_col: int, path, lineno: int) -> tuple[str, str, str | None]:
    """(token, tag, document opened by this line or None); raises FormatError for a malformed line."""
    if columns == "blue":
        fields = next(csv.reader([line], delimiter="\t"))
        if len(fields) != 4:
            raise FormatError(path, f"{len(fields)} columns; expected token, file, offset, tag", line=lineno)
        return fields[0], fields[3], None if fields[1] == "-" else fields[1]
    if columns == "pair":
        fields = line.split("\t")
        if len(fields) != 2:
            raise FormatError(path, f"{len(fields)} columns; expected token<TAB>tag", line=lineno)
        return fields[0], fields[1], None
    cols = line.split("\t") if "\t" in line else line.split()
    if len(cols) < 2:
        raise FormatError(path, "expected 'token<TAB>tag'", line=lineno)
    try:
        token, tag = cols[token_col], cols[tag_col]
    except IndexError:
        raise FormatError(path, f"no column {token_col} / {tag_col}", line=lineno) from None
    if not token or token != token.strip() or any(c.isspace() for c in token):
        raise FormatError(path, "a token must be non-empty and hold no whitespace", line=lineno)
    return token, tag, None


def parse_iob(content: str, *, path: str | Path = "<iob>", columns: str = "any", scheme: str = "iobes",
              token_col: int = 0, tag_col: int = -1, report: Report | None = None) -> Iterator[IOBSentence]:
    """Sentences of an IOB string; a bad line makes its sentence bad (reported, skipped)."""
    if columns not in COLUMNS or scheme not in _SCHEMES:
        raise ValueError(f"columns {columns!r} / scheme {scheme!r}: expected one of {COLUMNS} / {list(_SCHEMES)}")
    report = report or raise_error
    valid_tag, bad_tag = _SCHEMES[scheme]
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    bad = False
    doc: str | None = None

    def flush() -> IOBSentence | None:
        nonlocal tokens, tags, bad
        sent = IOBSentence(tuple(tokens), tuple(tags), first, str(path), doc) if tokens and not bad else None
        tokens, tags, bad = [], [], False
        return sent

    lines = content.split("\n")
    for lineno, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip() or line.startswith("-DOCSTART-"):
            sent = flush()
            if sent:
                yield sent
            if line.startswith("-DOCSTART-"):
                doc = _docstart_id(line, lineno)
            continue
        try:
            token, tag, opens = _fields(line, columns, token_col, tag_col, path, lineno)
            if not valid_tag.fullmatch(tag):
                raise FormatError(path, bad_tag.format(tag), line=lineno)
        except FormatError as e:
            if not tokens:
                first = lineno
            report(e)
            bad = True
            tokens.append("?")
            tags.append("O")
            continue
        if opens is not None:
            sent = flush()
            if sent:
                yield sent
            doc = opens
        if not tokens:
            first = lineno
        tokens.append(token)
        tags.append(tag)
    sent = flush()
    if sent:
        yield sent


def read_iob(path: str | Path, *, columns: str = "any", scheme: str = "iobes", token_col: int = 0,
             tag_col: int = -1, report: Report | None = None) -> Iterator[IOBSentence]:
    yield from parse_iob(read_text_file(path), path=path, columns=columns, scheme=scheme, token_col=token_col,
                         tag_col=tag_col, report=report)
