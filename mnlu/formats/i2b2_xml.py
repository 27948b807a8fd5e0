"""Readers for the i2b2/n2c2 XML family (FORMATS.md §1, 3, 4, 19, 20, 21).

Three shapes:
- *inline* records (2006 de-id and smoking): `<ROOT><RECORD ID=..>` with `<TEXT>` holding PHI tagged inline and no
  offsets; offsets come from removing the tags in document order.
- *standoff* files (2012 temporal, 2014 de-id, 2018 cohort): `<TEXT><![CDATA[..]]></TEXT><TAGS>..</TAGS>`, tags
  carrying `start`/`end` character offsets into the CDATA text.
- the 2008 obesity record and judgment files (plain well-formed XML).

Why regular expressions rather than an XML parser for the first two: the known defects (a malformed PHI tag in
the 2006 train file; unescaped `&` and `"` in 14 of the 2012 files) make strict parsers reject whole files. The
scanners here accept exactly those defects, keep line numbers for every tag, and raise FormatError for anything
else. Errors name files, lines, offsets and labels, never the note text.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.parsers import expat

from mnlu.formats.errors import FormatError, OffsetMismatch, Report, raise_error

log = logging.getLogger(__name__)




# ------------------------------------------------------------------------------------------------- helpers

_ENTITY = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def unescape_xml(s: str) -> str:
    """The five XML entities and character references; a bare `&` (a defect of some files) stays literal."""

    def sub(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref[0] != "#":
            return _NAMED[ref]
        code = int(ref[2:], 16) if ref[1] == "x" else int(ref[1:])
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else m.group(0)

    return _ENTITY.sub(sub, s) if "&" in s else s


class LineIndex:
    """Maps a character position of a file to its 1-based line (for error messages)."""

    def __init__(self, s: str):
        self._starts = [0] + [m.end() for m in re.finditer("\n", s)]

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self._starts, pos)


_NAME = r"[A-Za-z_][\w.:-]*"
# A value ends at the first quote followed by another attribute or the end of the tag: this tolerates the
# unescaped `"` inside `text="..."` values of the 2012 release.
_ATTR = re.compile(rf'\s*({_NAME})\s*=\s*"(.*?)"(?=\s+{_NAME}\s*=\s*"|\s*$)', re.S)


def parse_attributes(s: str, where: str, line: int) -> dict[str, str]:
    """`a="1" b="x"` → {a: "1", b: "x"} (values unescaped); anything else is a FormatError at `line`."""
    attrs: dict[str, str] = {}
    pos, s = 0, s.rstrip()
    while pos < len(s):
        m = _ATTR.match(s, pos)
        if m is None:
            raise FormatError(where, f"malformed attributes at column {pos + 1} of the tag; expected name=\"value\"",
                              line=line)
        attrs[m.group(1)] = unescape_xml(m.group(2))
        pos = m.end()
    return attrs


def same_text(got: str, expected: str, *, casefold: bool = False) -> bool:
    """Compare a slice with the annotated text, whitespace runs collapsed (XML attribute values turn newlines into
    spaces)."""
    a, b = " ".join(got.split()), " ".join(expected.split())
    return a.lower() == b.lower() if casefold else a == b


def check_span(text: str, start: int, end: int, expected: str | None, *, where: str, line: int | None,
               what: str) -> None:
    """Raise OffsetMismatch (naming file, line, offset and the tag, never the text) unless the span is valid."""
    if not (0 <= start <= end <= len(text)):
        raise OffsetMismatch(where, f"{what}: span {start}-{end} outside the text ({len(text)} characters)",
                             line=line, offset=start)
    if expected is not None and not same_text(text[start:end], expected):
        raise OffsetMismatch(where, f"{what}: the text at {start}-{end} does not match the tag's text attribute",
                             line=line, offset=start)


@dataclass(frozen=True)
class XmlTag:
    name: str
    attrs: dict[str, str]
    line: int


# ----------------------------------------------------------------------------------- inline (2006 records)


@dataclass(frozen=True)
class InlineSpan:
    start: int
    end: int
    label: str
    line: int  # file line of the opening tag


@dataclass
class InlineRecord:
    """One `<RECORD>`: its id, TEXT with the inline tags removed, the tagged spans, and other child tags."""

    record_id: str
    text: str
    spans: list[InlineSpan]
    tags: list[XmlTag]  # non-TEXT children, e.g. <SMOKING STATUS="..."/>
    line: int


_RECORD_OPEN = re.compile(r"<RECORD\b([^<>]*)>")
_RECORD_CLOSE = re.compile(r"</RECORD\s*>")
_TEXT_BLOCK = re.compile(r"<TEXT\s*>(.*?)</TEXT\s*>", re.S)
_CHILD_TAG = re.compile(rf"<({_NAME})\b([^<>]*?)(/?)>")


def iter_inline_records(data: str, path: str, *, inline_tag: str = "PHI", report: Report | None = None
                        ) -> Iterator[InlineRecord]:
    """Records of a 2006-style file; a bad record goes to `report` (default: raise) and the rest still come.

    The documented defect, an opening `<PHI TYPE="..">` where the closing `</PHI>` belongs
    (`<PHI TYPE="DATE">25th of July<PHI TYPE="DOCTOR">`), is read as that closing tag and logged by line.
    """
    report = report or raise_error
    lines = LineIndex(data)
    opens = list(_RECORD_OPEN.finditer(data))
    if not opens:
        raise FormatError(path, "no <RECORD> element; expected <ROOT><RECORD ID=\"..\">...</RECORD></ROOT>")
    for i, m in enumerate(opens):
        line = lines.line(m.start())
        limit = opens[i + 1].start() if i + 1 < len(opens) else len(data)
        close = _RECORD_CLOSE.search(data, m.end(), limit)
        try:
            if close is None:
                raise FormatError(path, "<RECORD> is not closed before the next record or the end of file",
                                  line=line)
            attrs = parse_attributes(m.group(1), path, line)
            if "ID" not in attrs:
                raise FormatError(path, "<RECORD> without an ID attribute", line=line)
            yield _inline_record(data, m.end(), close.start(), attrs["ID"], path, lines, inline_tag, line)
        except FormatError as e:
            report(e)


def _inline_record(data: str, begin: int, end: int, record_id: str, path: str, lines: LineIndex,
                   inline_tag: str, line: int) -> InlineRecord:
    body = data[begin:end]
    texts = list(_TEXT_BLOCK.finditer(body))
    if len(texts) != 1:
        raise FormatError(path, f"record {record_id}: expected exactly one <TEXT>...</TEXT>, found {len(texts)}",
                          line=line)
    tm = texts[0]
    tags: list[XmlTag] = []
    for part_start, part in ((0, body[: tm.start()]), (tm.end(), body[tm.end():])):
        pos = 0
        for cm in _CHILD_TAG.finditer(part):
            if part[pos: cm.start()].strip():
                raise FormatError(path, f"record {record_id}: unexpected text outside <TEXT>",
                                  line=lines.line(begin + part_start + pos))
            pos = cm.end()
            tag_line = lines.line(begin + part_start + cm.start())
            if not cm.group(3):
                close = re.compile(rf"\s*</{re.escape(cm.group(1))}\s*>").match(part, pos)
                if close is None:
                    raise FormatError(path, f"record {record_id}: <{cm.group(1)}> is not closed", line=tag_line)
                pos = close.end()
            tags.append(XmlTag(cm.group(1), parse_attributes(cm.group(2), path, tag_line), tag_line))
        if part[pos:].strip():
            raise FormatError(path, f"record {record_id}: unexpected text outside <TEXT>",
                              line=lines.line(begin + part_start + pos))
    text, spans = _strip_inline(body, tm.start(1), tm.end(1), begin, path, lines, inline_tag, record_id)
    return InlineRecord(record_id, text, spans, tags, line)


def _strip_inline(body: str, start: int, end: int, base: int, path: str, lines: LineIndex, inline_tag: str,
                  record_id: str) -> tuple[str, list[InlineSpan]]:
    """Remove the inline tags in document order; each removed pair becomes a span of the unescaped text."""
    tag_re = re.compile(rf"<(/?){re.escape(inline_tag)}\b([^<>]*)>")
    pieces: list[str] = []
    length = 0
    spans: list[InlineSpan] = []
    open_: tuple[int, str, int] | None = None  # (start offset, label, file line)
    pos = start
    for m in tag_re.finditer(body, start, end):
        piece = unescape_xml(body[pos: m.start()])
        pieces.append(piece)
        length += len(piece)
        pos = m.end()
        line = lines.line(base + m.start())
        closing = m.group(1) == "/"
        if not closing and open_ is not None:
            log.warning("%s:%d: record %s: <%s> opened inside an open <%s TYPE=%s>; read as its closing tag "
                        "(known defect of the 2006 release)", path, line, record_id, inline_tag, inline_tag,
                        open_[1])
            closing = True
        if closing:
            if open_ is None:
                raise FormatError(path, f"record {record_id}: </{inline_tag}> without an opening tag", line=line)
            spans.append(InlineSpan(open_[0], length, open_[1], open_[2]))
            open_ = None
            continue
        attrs = parse_attributes(m.group(2), path, line)
        if "TYPE" not in attrs:
            raise FormatError(path, f"record {record_id}: <{inline_tag}> without a TYPE attribute", line=line)
        open_ = (length, attrs["TYPE"], line)
    if open_ is not None:
        raise FormatError(path, f"record {record_id}: <{inline_tag} TYPE={open_[1]}> is never closed",
                          line=open_[2])
    pieces.append(unescape_xml(body[pos:end]))
    return "".join(pieces), spans


# ----------------------------------------------------------------------------- standoff (2012/2014/2018)


@dataclass
class StandoffXml:
    """A `<ROOT><TEXT><![CDATA[..]]></TEXT><TAGS>..</TAGS></ROOT>` file: text and tags in file order."""

    path: str
    root: str
    text: str
    tags: list[XmlTag] = field(default_factory=list)


_PROLOG = re.compile(rf"\A\ufeff?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<({_NAME})\b[^<>]*>", re.S)
_TEXT_OPEN = re.compile(r"<TEXT\s*>")
_TEXT_CLOSE = re.compile(r"</TEXT\s*>")
_TAGS_EMPTY = re.compile(r"<TAGS\s*/>")
_TAGS_OPEN = re.compile(r"<TAGS\s*>")
_TAGS_CLOSE = re.compile(r"</TAGS\s*>")
_TAG = re.compile(rf"<({_NAME})\b(.*?)(/?)>", re.S)


def read_standoff_xml(data: str, path: str) -> StandoffXml:
    """Parse a standoff file. CRLF becomes LF (as an XML parser does) before offsets are taken."""
    data = data.replace("\r\n", "\n").replace("\r", "\n")
    lines = LineIndex(data)
    prolog = _PROLOG.match(data)
    if prolog is None:
        raise FormatError(path, "not an XML document: expected an optional <?xml ...?> then a root element", line=1)
    root = prolog.group(1)
    t_open = _TEXT_OPEN.search(data, prolog.end())
    if t_open is None:
        raise FormatError(path, f"<{root}> has no <TEXT> element")
    t_close = _TEXT_CLOSE.search(data, t_open.end())
    if t_close is None:
        raise FormatError(path, "<TEXT> is not closed", line=lines.line(t_open.start()))
    content = data[t_open.end(): t_close.start()]
    cdata = content.lstrip(" \t\n")
    if cdata.startswith("<![CDATA["):
        end = cdata.find("]]>")
        if end < 0 or cdata[end + 3:].strip():
            raise FormatError(path, "<TEXT> holds a CDATA section that is not closed by ]]></TEXT>",
                              line=lines.line(t_open.start()))
        text = cdata[len("<![CDATA["): end]
    else:
        if "<" in content:
            raise FormatError(path, "markup inside <TEXT>; expected a CDATA section or escaped text",
                              line=lines.line(t_open.end() + content.index("<")))
        text = unescape_xml(content)
    doc = StandoffXml(path, root, text)
    rest = data[t_close.end():]
    offset = t_close.end()
    if _TAGS_EMPTY.search(rest):
        return doc
    g_open = _TAGS_OPEN.search(rest)
    if g_open is None:
        raise FormatError(path, f"<{root}> has no <TAGS> element after </TEXT>", line=lines.line(offset))
    g_close = _TAGS_CLOSE.search(rest, g_open.end())
    if g_close is None:
        raise FormatError(path, "<TAGS> is not closed", line=lines.line(offset + g_open.start()))
    pos = g_open.end()
    while True:
        m = _TAG.search(rest, pos, g_close.start())
        gap_end = m.start() if m else g_close.start()
        gap = rest[pos:gap_end]
        if gap.strip():
            stray = pos + len(gap) - len(gap.lstrip())
            raise FormatError(path, "unexpected text inside <TAGS>; expected only tags", line=lines.line(offset + stray))
        if m is None:
            break
        line = lines.line(offset + m.start())
        name, attr_text, self_closing = m.group(1), m.group(2), m.group(3)
        pos = m.end()
        if not self_closing:
            close = re.compile(rf"\s*</{re.escape(name)}\s*>").match(rest, pos)
            if close is None:
                raise FormatError(path, f"<{name}> inside <TAGS> is neither self-closing nor closed", line=line)
            pos = close.end()
        doc.tags.append(XmlTag(name, parse_attributes(attr_text, path, line), line))
    return doc


def int_attr(tag: XmlTag, name: str, where: str) -> int:
    value = tag.attrs.get(name)
    if value is None or not value.strip().lstrip("-").isdigit() or not value.strip().isascii():
        raise FormatError(where, f"<{tag.name}> {name}={value!r}: expected an integer offset", line=tag.line)
    return int(value)


# ------------------------------------------------------------------------------------------ 2008 obesity


@dataclass(frozen=True)
class Judgment:
    source: str  # textual | intuitive
    disease: str
    doc_id: str
    judgment: str  # Y N Q U
    line: int


def _expat_parser(path: str) -> expat.XMLParserType:
    parser = expat.ParserCreate()

    def no_dtd(*_: object) -> None:  # entity declarations are the XML-bomb vector; the corpus has none
        raise FormatError(path, "DOCTYPE declarations are not accepted", line=parser.CurrentLineNumber)

    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    parser.buffer_text = True
    return parser


def _run(parser: expat.XMLParserType, data: bytes, path: str) -> None:
    try:
        parser.Parse(data, True)
    except FormatError:
        raise
    except expat.ExpatError as e:
        raise FormatError(path, f"malformed XML ({expat.ErrorString(e.code)}) at column {e.offset + 1}",
                          line=e.lineno) from None
    except (ValueError, LookupError) as e:
        raise FormatError(path, f"unreadable XML ({type(e).__name__})", line=parser.CurrentLineNumber) from None


def read_obesity_records(data: bytes, path: str) -> dict[str, tuple[str, int]]:
    """`<root><docs><doc id="1"><text>..</text></doc>..` → {doc id: (text, line)}."""
    parser = _expat_parser(path)
    docs: dict[str, tuple[str, int]] = {}
    stack: list[str] = []
    current: dict[str, object] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        stack.append(name)
        line = parser.CurrentLineNumber
        if name == "doc" and "docs" in stack[:-1]:
            if "id" not in attrs:
                raise FormatError(path, "<doc> without an id attribute", line=line)
            current.clear()
            current.update(id=attrs["id"], line=line, text=None)
        elif name == "text" and stack[-2:-1] == ["doc"]:
            current["chunks"] = []

    def chars(s: str) -> None:
        if stack and stack[-1] == "text" and "chunks" in current:
            current["chunks"].append(s)  # type: ignore[union-attr]

    def end(name: str) -> None:
        stack.pop()
        if name == "text" and "chunks" in current:
            current["text"] = "".join(current.pop("chunks"))  # type: ignore[arg-type]
        elif name == "doc" and "id" in current and stack[-1:] == ["docs"]:
            doc_id, line = str(current["id"]), int(current["line"])  # type: ignore[call-overload]
            if current.get("text") is None:
                raise FormatError(path, f"<doc id={doc_id}> has no <text>", line=line)
            if doc_id in docs:
                raise FormatError(path, f"duplicate <doc id={doc_id}>", line=line)
            docs[doc_id] = (str(current["text"]), line)
            current.clear()

    parser.StartElementHandler = start
    parser.CharacterDataHandler = chars
    parser.EndElementHandler = end
    _run(parser, data, path)
    return docs


OBESITY_JUDGMENTS = {"textual": ("Y", "N", "Q", "U"), "intuitive": ("Y", "N", "Q")}


def read_obesity_judgments(data: bytes, path: str, *, report: Report | None = None) -> list[Judgment]:
    """`<diseaseset><diseases source=..><disease name=..><doc id=.. judgment=../>` in file order."""
    report = report or raise_error
    parser = _expat_parser(path)
    out: list[Judgment] = []
    state: dict[str, str] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        if name == "diseases":
            state["source"] = attrs.get("source", "")
            if state["source"] not in OBESITY_JUDGMENTS:
                report(FormatError(path, f"<diseases source={state['source']!r}>: expected one of "
                                         f"{list(OBESITY_JUDGMENTS)}", line=line))
        elif name == "disease":
            state["disease"] = attrs.get("name", "")
            if not state["disease"]:
                report(FormatError(path, "<disease> without a name attribute", line=line))
        elif name == "doc":
            source, disease = state.get("source"), state.get("disease")
            if not source or not disease:
                report(FormatError(path, "<doc> outside <diseases source=..><disease name=..>", line=line))
                return
            if source not in OBESITY_JUDGMENTS:
                return
            doc_id, judgment = attrs.get("id", ""), attrs.get("judgment", "")
            if not doc_id or judgment not in OBESITY_JUDGMENTS[source]:
                report(FormatError(path, f"<doc id={doc_id!r} judgment={judgment!r}> ({source}, {disease}): "
                                         f"expected an id and a judgment in {list(OBESITY_JUDGMENTS[source])}",
                                   line=line))
                return
            out.append(Judgment(source, disease, doc_id, judgment, line))

    def end(name: str) -> None:
        if name in ("diseases", "disease"):
            state.pop("source" if name == "diseases" else "disease", None)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    _run(parser, data, path)
    return out
