"""The line:token annotation formats of i2b2 2011 (concepts `.con`, chains `.chains`) and 2009 (medication
`.m` / `.entries`) (FORMATS.md §2 and §16).

A position is `line:token`: 1-based line of the note, 0-based whitespace token within the line, both ends
inclusive. The annotated text is lower-cased, so a resolved span is checked against the note case-insensitively;
a span whose text does not match is an OffsetMismatch naming the file, line and position (never the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mnlu.formats.errors import FormatError, OffsetMismatch, Report, raise_error


@dataclass(frozen=True, order=True)
class TokenPos:
    line: int  # 1-based
    token: int  # 0-based

    def __str__(self) -> str:
        return f"{self.line}:{self.token}"


class TokenGrid:
    """Character offsets of every whitespace token of every line of a note: resolves line:token positions."""

    def __init__(self, text: str):
        self.text = text
        self.lines: list[list[tuple[int, int]]] = []
        start = 0
        for line in text.split("\n"):
            self.lines.append([(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", line)])
            start += len(line) + 1

    def token(self, pos: TokenPos) -> tuple[int, int] | None:
        if not 1 <= pos.line <= len(self.lines):
            return None
        row = self.lines[pos.line - 1]
        return row[pos.token] if 0 <= pos.token < len(row) else None

    def char_span(self, begin: TokenPos, end: TokenPos) -> tuple[int, int] | None:
        """`begin`..`end` inclusive → (start, end-exclusive) characters; None when a position does not exist."""
        a, b = self.token(begin), self.token(end)
        if a is None or b is None or b[1] < a[0]:
            return None
        return a[0], b[1]


def _norm(s: str, strip_period: bool) -> str:
    s = " ".join(s.split()).lower()
    return s.rstrip(".").rstrip() if strip_period else s


def resolve(grid: TokenGrid, begin: TokenPos, end: TokenPos, expected: str | None, *, where: str, line: int,
            what: str, strip_period: bool = False) -> tuple[int, int]:
    """Character span of `begin`..`end`, checked against the annotated (lower-cased) text."""
    span = grid.char_span(begin, end)
    if span is None:
        raise OffsetMismatch(where, f"{what}: position {begin}-{end} is not in the note "
                                    f"({len(grid.lines)} lines)", line=line)
    if expected is not None and _norm(grid.text[span[0]:span[1]], strip_period) != _norm(expected, strip_period):
        raise OffsetMismatch(where, f"{what}: the note text at {begin}-{end} does not match the annotation",
                             line=line, offset=span[0])
    return span


# ---------------------------------------------------------------------------------------- 2011 concepts

@dataclass(frozen=True)
class Mention:
    text: str  # as annotated (lower-cased)
    begin: TokenPos
    end: TokenPos


@dataclass(frozen=True)
class Concept:
    mention: Mention
    type: str
    line: int


@dataclass(frozen=True)
class Chain:
    mentions: tuple[Mention, ...]
    type: str  # e.g. "coref person"
    line: int


_POS = r"(\d+):(\d+)"
_MENTION = re.compile(rf'c="(.*?)"\s+{_POS}\s+{_POS}\s*\|\|', re.S)
_TYPE = re.compile(r't="([^"]*)"\s*$')


def _mention(m: re.Match[str]) -> Mention:
    return Mention(m.group(1), TokenPos(int(m.group(2)), int(m.group(3))), TokenPos(int(m.group(4)), int(m.group(5))))


def _split_lines(text: str) -> list[tuple[int, str]]:
    return [(i, ln.rstrip("\r")) for i, ln in enumerate(text.split("\n"), start=1) if ln.strip()]


def read_concepts(text: str, path: str, *, report: Report | None = None) -> list[Concept]:
    """`c="text" 13:2 13:6||t="type"` lines of a `.con` file."""
    report = report or raise_error
    out = []
    for lineno, line in _split_lines(text):
        m = _MENTION.match(line)
        t = _TYPE.match(line, m.end()) if m else None
        if m is None or t is None:
            report(FormatError(path, 'expected c="text" line:token line:token||t="type"', line=lineno))
            continue
        out.append(Concept(_mention(m), t.group(1), lineno))
    return out


def read_chains(text: str, path: str, *, report: Report | None = None) -> list[Chain]:
    """`c=".." 12:0 12:0||c=".." 19:0 19:1||...||t="coref person"` lines of a `.chains` file."""
    report = report or raise_error
    out = []
    for lineno, line in _split_lines(text):
        mentions, pos = [], 0
        while (m := _MENTION.match(line, pos)) is not None:
            mentions.append(_mention(m))
            pos = m.end()
        t = _TYPE.match(line, pos)
        if t is None or len(mentions) < 1:
            report(FormatError(path, 'expected c="text" l:t l:t||...||t="coref <type>"', line=lineno))
            continue
        out.append(Chain(tuple(mentions), t.group(1), lineno))
    return out


# ---------------------------------------------------------------------------------------- 2009 medication

MEDICATION_FIELDS = {
    "m": "medication", "do": "dosage", "mo": "mode", "f": "frequency", "du": "duration", "r": "reason",
    "e": "event", "t": "temporal", "c": "certainty", "ln": "list/narrative",
}
NOT_MENTIONED = "nm"


@dataclass(frozen=True)
class FieldValue:
    key: str
    text: str  # lower-cased; fragments of a discontinuous value joined by "..."
    positions: tuple[tuple[TokenPos, TokenPos], ...]  # empty for "nm" and for e/t/c/ln

    @property
    def mentioned(self) -> bool:
        return self.text != NOT_MENTIONED and bool(self.positions)

    @property
    def fragments(self) -> list[str | None]:
        """The text of each position pair; None where the "..."-joined text does not split into as many."""
        if len(self.positions) == 1:
            return [self.text]
        parts = self.text.split("...")
        return list(parts) if len(parts) == len(self.positions) else [None] * len(self.positions)


@dataclass(frozen=True)
class MedicationEntry:
    fields: dict[str, FieldValue]
    line: int


# A value ends at the first quote followed by its positions and `||` or the end of the line. Positions are
# `l:t l:t` pairs separated by "," (sometimes only by a space: doc 984424).
_FIELD = re.compile(r'([a-z]+)="(.*?)"((?:[\s,]*\d+:\d+\s+\d+:\d+)*)\s*(?=\|\||$)', re.S)
_POSITION = re.compile(_POS)


def parse_medication_line(line: str, path: str, lineno: int) -> MedicationEntry:
    fields: dict[str, FieldValue] = {}
    pos = 0
    while True:
        m = _FIELD.match(line, pos)
        if m is None:
            raise FormatError(path, f"column {pos + 1}: expected key=\"value\" [l:t l:t[,l:t l:t]] fields "
                                    "joined by ||", line=lineno)
        key = m.group(1)
        if key not in MEDICATION_FIELDS:
            raise FormatError(path, f"unknown field {key!r}; expected one of {list(MEDICATION_FIELDS)}", line=lineno)
        if key in fields:
            raise FormatError(path, f"field {key!r} given twice", line=lineno)
        nums = [TokenPos(int(a), int(b)) for a, b in _POSITION.findall(m.group(3))]
        if len(nums) % 2:
            raise FormatError(path, f"field {key!r}: {len(nums)} line:token positions; expected begin/end pairs",
                              line=lineno)
        pairs = tuple(zip(nums[0::2], nums[1::2], strict=True))
        fields[key] = FieldValue(key, m.group(2), pairs)
        pos = m.end()
        if pos >= len(line):
            break
        pos += 2  # the "||" the lookahead saw
    if "m" not in fields or not fields["m"].mentioned:
        raise FormatError(path, "an entry needs a medication m=\"..\" with its position", line=lineno)
    return MedicationEntry(fields, lineno)


def read_medication_entries(text: str, path: str, *, report: Report | None = None) -> list[MedicationEntry]:
    """Every entry line of a `.m` / `.entries` file; bad lines go to `report` (default: raise)."""
    report = report or raise_error
    out = []
    for lineno, line in _split_lines(text):
        try:
            out.append(parse_medication_line(line.strip(), path, lineno))
        except FormatError as e:
            report(e)
    return out
