"""BioC XML and JSON reader: documents with their text rebuilt from passage offsets, and checked mentions.

Parsing is done by the `bioc` package (the reference implementation of the BioC data model, kept by the BioC
authors): it streams XML document by document (`biocxml.iterparse`, so a 40 MB collection is never held as one
tree) and reads BioC JSON. This module adds what the converters need on top: one document text built by placing
each passage (or sentence) at its offset, every annotation location checked against that text (`OffsetMismatch`
when it does not match, never kept), and typed `FormatError`s that name the file, the line where known, and the
document for every failure of the underlying parser.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioc import biocjson, biocxml
from lxml import etree

from mnlu.formats.errors import FormatError, OffsetMismatch, Report, raise_error


@dataclass(frozen=True)
class BioCMention:
    id: str
    type: str
    spans: tuple[tuple[int, int], ...]  # document-level (start, end), one per location
    text: str
    infons: dict[str, str]
    repaired: bool = False  # offsets moved by the known off-by-one repair (see `repair_off_by_one`)

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]


@dataclass(frozen=True)
class BioCRelationRecord:
    id: str
    infons: dict[str, str]
    nodes: tuple[tuple[str, str], ...]  # (refid, role)


@dataclass
class BioCDoc:
    doc_id: str
    text: str
    path: str
    passages: list[tuple[int, str, str]]  # (offset, type infon, text)
    infons: dict[str, str] = field(default_factory=dict)
    mentions: list[BioCMention] = field(default_factory=list)
    relations: list[BioCRelationRecord] = field(default_factory=list)
    errors: list[FormatError] = field(default_factory=list)  # reported annotations of this document (dropped)


_PARSE_ERRORS = (etree.LxmlError, ValueError, TypeError, KeyError, AttributeError, RuntimeError, IndexError,
                 UnicodeError, OverflowError)


def iter_bioc_xml(path: str | Path, *, report: Report | None = None, repair_off_by_one: bool = False
                  ) -> Iterator[BioCDoc]:
    """Documents of a BioC XML file, streamed. A parse error ends the file (reported with its line)."""
    report = report or raise_error
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as e:
        report(FormatError(path, f"cannot read: {e.strerror or e}"))
        return
    with fh:
        reader = None
        n = 0
        try:
            reader = biocxml.BioCXMLDocumentReader(fh)
            for document in reader:
                n += 1
                doc = _convert(document, path, report, repair_off_by_one)
                if doc is not None:
                    yield doc
        except FormatError:  # raised by `report` itself (strict mode): not a parser failure
            raise
        except etree.XMLSyntaxError as e:
            report(FormatError(path, f"not well-formed BioC XML ({e.msg})", line=e.lineno))
        except _PARSE_ERRORS as e:
            report(FormatError(path, f"not BioC XML: {type(e).__name__} after {n} document(s)",
                               line=_reader_line(reader)))


def _reader_line(reader: Any) -> int | None:
    """The source line of the element the bioc reader was at when it failed (its private state; best effort)."""
    elem = getattr(reader, "_BioCXMLDocumentReader__elem", None)
    return getattr(elem, "sourceline", None)


def read_bioc_json(path: str | Path, *, report: Report | None = None, repair_off_by_one: bool = False
                   ) -> list[BioCDoc]:
    """Documents of a BioC JSON collection file (`{"source":…, "documents":[…]}`)."""
    report = report or raise_error
    path = Path(path)
    try:
        raw = path.read_bytes().decode("utf-8")
        obj = json.loads(raw)
    except OSError as e:
        report(FormatError(path, f"cannot read: {e.strerror or e}"))
        return []
    except UnicodeDecodeError as e:
        report(FormatError(path, f"not UTF-8 (byte {e.start})"))
        return []
    except json.JSONDecodeError as e:
        report(FormatError(path, f"not JSON ({e.msg}, column {e.colno})", line=e.lineno))
        return []
    if not isinstance(obj, dict) or not isinstance(obj.get("documents"), list):
        report(FormatError(path, "expected a BioC collection object with a 'documents' list"))
        return []
    obj = {"source": "", "date": "", "key": "", "infons": {}, **obj}
    docs = []
    for i, d in enumerate(obj["documents"]):
        try:
            document = biocjson.decoder.parse_doc(d)
        except _PARSE_ERRORS as e:
            report(FormatError(path, f"document #{i}: not a BioC document ({type(e).__name__}: missing or "
                               f"malformed {e})"))
            continue
        doc = _convert(document, path, report, repair_off_by_one)
        if doc is not None:
            docs.append(doc)
    return docs


def read_bioc(path: str | Path, *, report: Report | None = None, repair_off_by_one: bool = False
              ) -> Iterator[BioCDoc]:
    """BioC XML or JSON, chosen by the first non-space byte (`<` or `{`)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip()
    except OSError as e:
        (report or raise_error)(FormatError(path, f"cannot read: {e.strerror or e}"))
        return
    if head.startswith((b"{", b"[")):
        yield from read_bioc_json(path, report=report, repair_off_by_one=repair_off_by_one)
    else:
        yield from iter_bioc_xml(path, report=report, repair_off_by_one=repair_off_by_one)


def parse_bioc_xml_string(content: str, *, path: str = "<bioc>", report: Report | None = None) -> list[BioCDoc]:
    """For tests and in-memory data: the same checks as `iter_bioc_xml`."""
    report = report or raise_error
    try:
        collection = biocxml.loads(content)
    except etree.XMLSyntaxError as e:
        report(FormatError(path, f"not well-formed BioC XML ({e.msg})", line=e.lineno))
        return []
    except _PARSE_ERRORS as e:
        report(FormatError(path, f"not BioC XML: {type(e).__name__}"))
        return []
    out = []
    for d in collection.documents:
        doc = _convert(d, Path(path), report, False)
        if doc is not None:
            out.append(doc)
    return out


# --------------------------------------------------------------------------------------------- conversion


def _int(value: Any, what: str, path: Path, doc_id: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise FormatError(path, f"document {doc_id}: {what} must be an integer, got {type(value).__name__}")
    try:
        n = int(value)
    except ValueError:
        raise FormatError(path, f"document {doc_id}: {what} must be an integer, got {value!r}") from None
    if n < 0:
        raise FormatError(path, f"document {doc_id}: {what} is negative ({n})", offset=n)
    return n


def _infons(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def _convert(document: Any, path: Path, report: Report, repair: bool) -> BioCDoc | None:
    doc_id = str(document.id) if document.id is not None else ""
    try:
        pieces: list[tuple[int, str, str]] = []
        annotations = list(document.annotations)
        relations = list(document.relations)
        for p in document.passages:
            p_type = _infons(p.infons).get("type", "")
            p_off = _int(p.offset, "passage offset", path, doc_id)
            annotations += list(p.annotations)
            relations += list(p.relations)
            if p.text is not None:
                pieces.append((p_off, p_type, str(p.text)))
            for s in p.sentences:
                annotations += list(s.annotations)
                relations += list(s.relations)
                if s.text is not None:
                    pieces.append((_int(s.offset, "sentence offset", path, doc_id), p_type, str(s.text)))
        text = _assemble(pieces, path, doc_id)
    except FormatError as e:
        report(e)
        return None
    doc = BioCDoc(doc_id, text, str(path), sorted(pieces, key=lambda x: x[0]), _infons(document.infons))
    for ann in annotations:
        try:
            doc.mentions.append(_mention(ann, text, path, doc_id, repair))
        except FormatError as e:
            doc.errors.append(e)
            report(e)
    for rel in relations:
        nodes = tuple((str(n.refid), str(n.role)) for n in rel.nodes)
        doc.relations.append(BioCRelationRecord(str(rel.id), _infons(rel.infons), nodes))
    return doc


def _assemble(pieces: list[tuple[int, str, str]], path: Path, doc_id: str) -> str:
    """Place each passage text at its offset, filling gaps with spaces (BioC's document-level offsets)."""
    buf = io.StringIO()
    pos = 0
    for off, _, t in sorted(pieces, key=lambda x: x[0]):
        if off < pos:
            raise FormatError(path, f"document {doc_id}: passage at offset {off} overlaps the previous one "
                              f"(ending at {pos})", offset=off)
        if off - pos > 10_000_000:
            raise FormatError(path, f"document {doc_id}: passage offset {off} is implausibly large", offset=off)
        buf.write(" " * (off - pos))
        buf.write(t)
        pos = off + len(t)
    return buf.getvalue()


def _mention(ann: Any, text: str, path: Path, doc_id: str, repair: bool) -> BioCMention:
    infons = _infons(ann.infons)
    aid = str(ann.id)
    a_type = infons.get("type", "")
    surface = "" if ann.text is None else str(ann.text)
    spans = []
    for loc in ann.locations:
        s = _int(loc.offset, f"annotation {aid} offset", path, doc_id)
        n = _int(loc.length, f"annotation {aid} length", path, doc_id)
        spans.append((s, s + n))
    if not spans:
        raise FormatError(path, f"document {doc_id}: annotation {aid} ({a_type}) has no location")
    spans.sort()
    if _matches(text, spans, surface):
        return BioCMention(aid, a_type, tuple(spans), surface, infons)
    if repair:
        for ds, de in ((-1, -1), (1, 1), (0, -1), (-1, 0)):
            moved = [(s + ds, e + de) for s, e in spans]
            if all(0 <= s < e for s, e in moved) and _matches(text, moved, surface):
                return BioCMention(aid, a_type, tuple(moved), surface, infons, repaired=True)
    raise OffsetMismatch(path, f"document {doc_id}: annotation {aid} ({a_type}) at {spans[0][0]}-{spans[-1][1]} "
                         "does not match its text", offset=spans[0][0])


def _matches(text: str, spans: list[tuple[int, int]], surface: str) -> bool:
    if any(e > len(text) or s >= e for s, e in spans):
        return False
    parts = [text[s:e] for s, e in spans]
    return surface in (" ".join(parts), "".join(parts))
