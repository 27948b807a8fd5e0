"""IOB / CoNLL reader: one token per line (`token<TAB>…<TAB>tag`), a blank line between sentences.

Accepts IOB1/IOB2 (`B-`, `I-`) and IOBES (`S-`, `E-`) tags and `-DOCSTART-` lines. Each sentence is rebuilt as
text (tokens joined by one space) with character spans, so an IOB corpus feeds the same span-extraction items as a
standoff one. An `I-X` that does not continue an `X` mention starts a new one (the conlleval convention).

Why our own parser: seqeval (installed) decodes tag sequences but reads no files and knows no line numbers; the
file format is two columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError, Report, raise_error

_TAG = re.compile(r"^(?:O|[BIES]-\S+)$")



@dataclass(frozen=True)
class IOBSentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    line: int  # line of the first token
    path: str

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
        out: list[tuple[int, int, str]] = []
        cur: list | None = None  # [start, end, type]
        for (s, e), tag in zip(offsets, self.tags):
            prefix, _, typ = tag.partition("-")
            if prefix == "O":
                if cur:
                    out.append(tuple(cur))
                cur = None
                continue
            continues = cur is not None and cur[2] == typ and prefix in ("I", "E")
            if continues:
                cur[1] = e
            else:
                if cur:
                    out.append(tuple(cur))
                cur = [s, e, typ]
            if prefix in ("E", "S"):
                out.append(tuple(cur))
                cur = None
        if cur:
            out.append(tuple(cur))
        return out


def parse_iob(content: str, *, path: str | Path = "<iob>", token_col: int = 0, tag_col: int = -1,
              report: Report | None = None) -> Iterator[IOBSentence]:
    """Sentences of an IOB string; a bad line makes its sentence bad (reported, skipped)."""
    report = report or raise_error
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    bad = False

    def flush() -> IOBSentence | None:
        if tokens and not bad:
            return IOBSentence(tuple(tokens), tuple(tags), first, str(path))
        return None

    for lineno, raw in enumerate(content.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            sent = flush()
            if sent:
                yield sent
            tokens, tags, bad = [], [], False
            continue
        if line.startswith("-DOCSTART-"):
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if not tokens:
            first = lineno
        try:
            if len(cols) < 2:
                raise FormatError(path, "expected 'token<TAB>tag'", line=lineno)
            token, tag = cols[token_col], cols[tag_col]
            if not token or token != token.strip() or any(c.isspace() for c in token):
                raise FormatError(path, "a token must be non-empty and hold no whitespace", line=lineno)
            if not _TAG.match(tag):
                raise FormatError(path, f"tag {tag!r} is not O, B-X, I-X, E-X or S-X", line=lineno)
        except (FormatError, IndexError) as e:
            if isinstance(e, IndexError):
                e = FormatError(path, f"no column {token_col} / {tag_col}", line=lineno)
            report(e)
            bad = True
            tokens.append("?")
            tags.append("O")
            continue
        tokens.append(token)
        tags.append(tag)
    sent = flush()
    if sent:
        yield sent


def read_iob(path: str | Path, *, token_col: int = 0, tag_col: int = -1, report: Report | None = None
             ) -> Iterator[IOBSentence]:
    yield from parse_iob(read_text_file(path), path=path, token_col=token_col, tag_col=tag_col, report=report)
