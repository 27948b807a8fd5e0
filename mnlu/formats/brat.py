"""BRAT standoff reader: `NAME.txt` + `NAME.ann` → one `BratDocument`.

Covers every `.ann` line kind brat writes: text-bound (`T`, discontinuous spans joined by `;`), events (`E`),
relations (`R`), equivalences (`*`), attributes (`A`, and the older `M`), normalizations (`N`) and notes (`#`).
Each text-bound span is checked against the `.txt`: a surface that does not match the offsets is reported as
`OffsetMismatch` and the entity dropped (with every event, relation or attribute that needs it), never kept.

Why our own parser: the PyPI brat readers either lose discontinuous spans and line numbers or do not check offsets;
the format is a few line kinds, and the offset check and the error model are the part that matters here.

Problems go to `report(error)`; by default that raises, so a converter passes `ctx.bad` to get --strict
behaviour (raise) or skip-and-count behaviour from one code path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from mnlu.formats.errors import FormatError, OffsetMismatch, Report, raise_error


@dataclass(frozen=True)
class TextBound:
    """A typed mention; `spans` has several (start, end) fragments when the mention is discontinuous."""

    id: str
    type: str
    spans: tuple[tuple[int, int], ...]
    text: str  # the surface as written in the .ann (fragments joined by one space)
    line: int

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    @property
    def discontinuous(self) -> bool:
        return len(self.spans) > 1


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    trigger: str  # a T id
    args: tuple[tuple[str, str], ...]  # (role, T or E id); roles keep brat's numbering suffix, e.g. "Theme2"
    line: int


@dataclass(frozen=True)
class Relation:
    """An `R` line (`Arg1:T1 Arg2:T2`) or one pair of an `*` equivalence group (roles "Arg1"/"Arg2")."""

    id: str
    type: str
    args: tuple[tuple[str, str], ...]
    line: int


@dataclass(frozen=True)
class Attribute:
    id: str
    name: str
    target: str  # T, E or R id
    value: str | None  # None for a binary attribute
    line: int


@dataclass(frozen=True)
class Normalization:
    id: str
    type: str  # usually "Reference"
    target: str
    resource: str
    entry: str
    text: str
    line: int


@dataclass(frozen=True)
class Note:
    id: str
    type: str  # usually "AnnotatorNotes"
    target: str
    text: str
    line: int


@dataclass
class BratDocument:
    doc_id: str
    text: str
    txt_path: str
    ann_path: str
    entities: dict[str, TextBound] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    normalizations: list[Normalization] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def attributes_of(self, target: str) -> dict[str, str | None]:
        return {a.name: a.value for a in self.attributes if a.target == target}


def read_text_file(path: str | Path, fallback_encoding: str | None = None) -> str:
    """Decode UTF-8 without newline translation (brat offsets count `\\r` too); a BOM is not stripped.

    A file that is not UTF-8 raises (naming the line of the first bad byte), or is decoded with
    `fallback_encoding` when one is given: some corpora ship Latin-1 files (EU-ADR, PubMed PICO).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = e.start
    line = data[:bad].count(b"\n") + 1
    if fallback_encoding is None:
        raise FormatError(path, f"not UTF-8 (byte {bad})", line=line)
    try:
        return data.decode(fallback_encoding)
    except UnicodeDecodeError:
        raise FormatError(path, f"neither UTF-8 (byte {bad}) nor {fallback_encoding}", line=line) from None


_ID = re.compile(r"^[TERAMN*#][0-9A-Za-z_\-]*$")
_WS = re.compile(r"\s")


def surface_matches(doc_text: str, spans: tuple[tuple[int, int], ...], surface: str) -> bool:
    """brat joins fragments with one space and writes a newline inside a mention as a space."""
    got = " ".join(doc_text[s:e] for s, e in spans)
    return _WS.sub(" ", got) == _WS.sub(" ", surface)


def _parse_spans(field_: str, ann: str, line: int) -> tuple[tuple[int, int], ...]:
    spans = []
    for frag in field_.split(";"):
        parts = frag.split()
        if len(parts) != 2 or not all(p.isdigit() and p.isascii() for p in parts):
            raise FormatError(ann, f"expected offsets 'start end[;start end...]', got {field_!r}", line=line)
        s, e = int(parts[0]), int(parts[1])
        if s > e:
            raise FormatError(ann, f"span start {s} after end {e}", line=line, offset=s)
        spans.append((s, e))
    return tuple(spans)


def _role_ref(token: str, ann: str, line: int) -> tuple[str, str]:
    role, sep, ref = token.partition(":")
    if not sep or not role or not ref:
        raise FormatError(ann, f"expected 'Role:ID', got {token!r}", line=line)
    return role, ref


def parse_ann(
    ann_text: str,
    doc_text: str,
    *,
    ann_path: str | Path = "<ann>",
    txt_path: str | Path = "<txt>",
    doc_id: str = "",
    report: Report | None = None,
) -> BratDocument:
    """Parse `.ann` content against its document text; bad lines go to `report` (default: raise)."""
    report = report or raise_error
    ann = str(ann_path)
    doc = BratDocument(doc_id=doc_id, text=doc_text, txt_path=str(txt_path), ann_path=ann)
    events_raw: list[Event] = []
    relations_raw: list[Relation] = []
    attributes_raw: list[Attribute] = []
    refs_raw: list[Normalization | Note] = []
    seen: set[str] = set()
    for lineno, raw in enumerate(ann_text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            cols = line.split("\t")
            ident = cols[0].strip()
            if not _ID.match(ident):
                raise FormatError(ann, f"expected an annotation id (T1, E1, R1, A1, N1, *, #1), got {ident!r}",
                                  line=lineno)
            if ident != "*" and ident in seen:
                raise FormatError(ann, f"duplicate annotation id {ident}", line=lineno)
            kind = ident[0]
            if len(cols) < 2 or not cols[1].strip():
                raise FormatError(ann, f"{ident}: missing the annotation field after the tab", line=lineno)
            body = cols[1]
            if kind == "T":
                type_, _, offsets = body.strip().partition(" ")
                if not type_ or not offsets:
                    raise FormatError(ann, f"{ident}: expected 'Type start end', got {body!r}", line=lineno)
                spans = _parse_spans(offsets, ann, lineno)
                surface = "\t".join(cols[2:]) if len(cols) > 2 else None
                bad = next(((s, e) for s, e in spans if e > len(doc_text)), None)
                if bad is not None:
                    raise OffsetMismatch(ann, f"{ident} ({type_}): span {bad[0]}-{bad[1]} beyond the text "
                                         f"({len(doc_text)} characters) of {txt_path}", line=lineno, offset=bad[0])
                if surface is None:
                    surface = " ".join(doc_text[s:e] for s, e in spans)
                elif not surface_matches(doc_text, spans, surface):
                    raise OffsetMismatch(ann, f"{ident} ({type_}): the text at {offsets} in {txt_path} does not "
                                         "match the annotated surface", line=lineno, offset=spans[0][0])
                doc.entities[ident] = TextBound(ident, type_, spans, surface, lineno)
            elif kind == "E":
                parts = body.split()
                type_, trig = _role_ref(parts[0], ann, lineno)
                args = tuple(_role_ref(p, ann, lineno) for p in parts[1:])
                events_raw.append(Event(ident, type_, trig, args, lineno))
            elif kind == "R":
                parts = body.split()
                args = tuple(_role_ref(p, ann, lineno) for p in parts[1:])
                if len(args) != 2:
                    raise FormatError(ann, f"{ident}: a relation needs two arguments, got {len(args)}", line=lineno)
                relations_raw.append(Relation(ident, parts[0], args, lineno))
            elif kind == "*":
                parts = body.split()
                if len(parts) < 3:
                    raise FormatError(ann, "an equivalence needs a type and at least two ids", line=lineno)
                members = parts[1:]
                for a, b in pairwise(members):
                    relations_raw.append(Relation(f"*{lineno}", parts[0], (("Arg1", a), ("Arg2", b)), lineno))
            elif kind in "AM":
                parts = body.split()
                if len(parts) not in (2, 3):
                    raise FormatError(ann, f"{ident}: expected 'Name ID [value]', got {body!r}", line=lineno)
                value = parts[2] if len(parts) == 3 else None
                attributes_raw.append(Attribute(ident, parts[0], parts[1], value, lineno))
            elif kind in "N#":
                parts = body.split()
                text = "\t".join(cols[2:])
                if kind == "N":
                    if len(parts) != 3 or ":" not in parts[2]:
                        raise FormatError(ann, f"{ident}: expected 'Type ID Resource:Entry', got {body!r}",
                                          line=lineno)
                    resource, _, entry = parts[2].partition(":")
                    refs_raw.append(Normalization(ident, parts[0], parts[1], resource, entry, text, lineno))
                else:
                    if len(parts) < 2:
                        raise FormatError(ann, f"{ident}: expected 'Type ID' before the note", line=lineno)
                    refs_raw.append(Note(ident, parts[0], parts[1], text, lineno))
            seen.add(ident)
        except FormatError as e:
            report(e)

    _link(doc, events_raw, relations_raw, attributes_raw, refs_raw, ann, report)
    return doc


def _link(doc: BratDocument, events: list[Event], relations: list[Relation], attributes: list[Attribute],
          refs: list[Normalization | Note], ann: str, report: Report) -> None:
    """Keep only annotations whose references resolve (events may nest: resolve to a fixed point)."""
    pending = {e.id: e for e in events}
    changed = True
    while changed:
        changed = False
        for eid, ev in list(pending.items()):
            needed = [ev.trigger, *(r for _, r in ev.args)]
            if all(r in doc.entities or r in doc.events for r in needed):
                doc.events[eid] = ev
                del pending[eid]
                changed = True
    for ev in pending.values():
        missing = sorted({r for r in [ev.trigger, *(r for _, r in ev.args)] if r not in doc.entities
                          and r not in doc.events})
        report(FormatError(ann, f"{ev.id}: refers to unknown or dropped annotation(s) {missing}", line=ev.line))
    for ev in doc.events.values():
        if ev.trigger not in doc.entities:
            report(FormatError(ann, f"{ev.id}: the trigger {ev.trigger} is not a text-bound annotation",
                               line=ev.line))
    known = set(doc.entities) | set(doc.events)
    for rel in relations:
        missing = [r for _, r in rel.args if r not in known]
        if missing:
            report(FormatError(ann, f"{rel.id}: refers to unknown or dropped annotation(s) {missing}", line=rel.line))
        else:
            doc.relations.append(rel)
    known |= {r.id for r in doc.relations}
    for att in attributes:
        if att.target not in known:
            report(FormatError(ann, f"{att.id}: refers to unknown or dropped annotation {att.target}", line=att.line))
        else:
            doc.attributes.append(att)
    for ref in refs:
        if ref.target not in known:
            report(FormatError(ann, f"{ref.id}: refers to unknown or dropped annotation {ref.target}", line=ref.line))
        elif isinstance(ref, Normalization):
            doc.normalizations.append(ref)
        else:
            doc.notes.append(ref)


def read_brat(txt_path: str | Path, ann_path: str | Path | None = None, *, report: Report | None = None
              ) -> BratDocument:
    """Read one brat pair; `ann_path` defaults to the `.txt` with its suffix replaced by `.ann`."""
    txt = Path(txt_path)
    ann = Path(ann_path) if ann_path is not None else txt.with_suffix(".ann")
    text = read_text_file(txt)
    ann_text = read_text_file(ann)
    return parse_ann(ann_text, text, ann_path=ann, txt_path=txt, doc_id=txt.stem, report=report)


def iter_brat_dir(root: str | Path, *, report: Report | None = None, recursive: bool = True
                  ) -> Iterator[BratDocument]:
    """Every `.ann` with its `.txt` under `root`, in sorted path order; macOS `._*`/dot files are skipped.

    A `.ann` without a `.txt` (or the reverse) is reported, not guessed at.
    """
    report = report or raise_error
    root = Path(root)
    pattern = "**/*.ann" if recursive else "*.ann"
    anns = sorted(p for p in root.glob(pattern) if not p.name.startswith("."))
    txts = sorted(p for p in root.glob(pattern[:-4] + ".txt") if not p.name.startswith("."))
    ann_stems = {p.with_suffix("") for p in anns}
    for t in txts:
        if t.with_suffix("") not in ann_stems:
            report(FormatError(t, "a .txt without its .ann"))
    for ann in anns:
        txt = ann.with_suffix(".txt")
        if not txt.exists():
            report(FormatError(ann, "an .ann without its .txt"))
            continue
        try:
            yield read_brat(txt, ann, report=report)
        except FormatError as e:  # unreadable file (encoding): the whole document is bad
            report(e)
