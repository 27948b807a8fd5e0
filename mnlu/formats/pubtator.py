"""PubTator reader: `PMID|t|title`, `PMID|a|abstract`, tab-separated annotation lines, blank line between documents.

Offsets are document-level over `title + " " + abstract` (abstract character 0 is at `len(title) + 1`); each
mention is checked against that text and a mismatch is reported as `OffsetMismatch`, never kept. Lines whose second
column is not an offset are relations (`PMID<TAB>Type<TAB>arg1<TAB>arg2[<TAB>flag]`, BioRED, BC5CDR CID, tmVar's
3-column translation lines); their columns are kept as they are. CRLF and LF files are both accepted.

Why our own parser: `bioc.pubtator` (in the installed `bioc` package) drops relation lines, has no line numbers in
its errors and does not check offsets against the text; the format is line-based and small.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError, OffsetMismatch, Report, raise_error


@dataclass(frozen=True)
class PubTatorMention:
    start: int
    end: int
    text: str
    type: str
    identifier: str  # "" when the line has no id column
    extra: tuple[str, ...]  # columns after the id (tmVar's RSID:…)
    line: int


@dataclass(frozen=True)
class PubTatorRelation:
    type: str
    args: tuple[str, ...]  # concept ids (BioRED), or whatever the corpus writes there
    line: int


@dataclass
class PubTatorDocument:
    doc_id: str
    title: str
    abstract: str
    path: str
    line: int  # line of the title
    mentions: list[PubTatorMention] = field(default_factory=list)
    relations: list[PubTatorRelation] = field(default_factory=list)
    errors: list[FormatError] = field(default_factory=list)  # reported lines of this document (dropped)

    @property
    def text(self) -> str:
        return f"{self.title} {self.abstract}" if self.abstract else self.title


_HEADER = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$", re.S)


def parse_pubtator(content: str, *, path: str | Path = "<pubtator>", report: Report | None = None
                   ) -> Iterator[PubTatorDocument]:
    """Documents of a PubTator string in file order; bad lines (or documents) go to `report` (default: raise)."""
    report = report or raise_error
    block: list[tuple[int, str]] = []
    for lineno, raw in enumerate(content.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.strip():
            block.append((lineno, line))
            continue
        if block:
            doc = _parse_block(block, str(path), report)
            if doc is not None:
                yield doc
            block = []
    if block:
        doc = _parse_block(block, str(path), report)
        if doc is not None:
            yield doc


def _parse_block(block: list[tuple[int, str]], path: str, report: Report) -> PubTatorDocument | None:
    first_line, first = block[0]
    m = _HEADER.match(first)
    if not m or m.group(2) != "t":
        report(FormatError(path, "expected a 'PMID|t|title' line to start the document", line=first_line))
        return None
    doc_id, title = m.group(1), m.group(3)
    doc = PubTatorDocument(doc_id, title, "", path, first_line)
    rest = block[1:]
    if rest:
        m = _HEADER.match(rest[0][1])
        if m:
            if m.group(2) != "a" or m.group(1) != doc_id:
                report(FormatError(path, f"expected '{doc_id}|a|abstract' after the title", line=rest[0][0]))
                return None
            doc.abstract = m.group(3)
            rest = rest[1:]
    text = doc.text
    for lineno, line in rest:
        cols = line.split("\t")
        try:
            if cols[0] != doc_id:
                raise FormatError(path, f"annotation line for document {cols[0]!r} inside document {doc_id}",
                                  line=lineno)
            if len(cols) >= 3 and cols[1].isdigit() and cols[1].isascii():
                doc.mentions.append(_mention(cols, text, path, lineno, doc_id))
            elif len(cols) >= 3:
                doc.relations.append(PubTatorRelation(cols[1], tuple(cols[2:]), lineno))
            else:
                raise FormatError(path, f"expected an annotation line 'PMID<TAB>start<TAB>end<TAB>mention<TAB>"
                                  f"type[<TAB>id]' or a relation line, got {len(cols)} column(s)", line=lineno)
        except FormatError as e:
            doc.errors.append(e)
            report(e)
    return doc


def _mention(cols: list[str], text: str, path: str, lineno: int, doc_id: str) -> PubTatorMention:
    if len(cols) < 5:
        raise FormatError(path, f"a mention line needs at least 5 columns, got {len(cols)}", line=lineno)
    if not (cols[2].isdigit() and cols[2].isascii()):
        raise FormatError(path, f"end offset {cols[2]!r} is not a number", line=lineno)
    start, end = int(cols[1]), int(cols[2])
    if not start < end <= len(text):
        raise OffsetMismatch(path, f"document {doc_id}: span {start}-{end} outside the text "
                             f"({len(text)} characters)", line=lineno, offset=start)
    if text[start:end] != cols[3]:
        raise OffsetMismatch(path, f"document {doc_id}: the text at {start}-{end} does not match the mention "
                             f"({cols[4]})", line=lineno, offset=start)
    ident = cols[5] if len(cols) > 5 else ""
    return PubTatorMention(start, end, cols[3], cols[4], ident, tuple(cols[6:]), lineno)


def read_pubtator(path: str | Path, *, report: Report | None = None) -> Iterator[PubTatorDocument]:
    """Documents of a PubTator file (UTF-8, LF or CRLF)."""
    yield from parse_pubtator(read_text_file(path), path=path, report=report)
