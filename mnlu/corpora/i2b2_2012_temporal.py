"""i2b2 2012 temporal relations (FORMATS.md §3): EVENT and TIMEX3 mentions → NER items over windows; TLINKs →
relation choice items (the official three classes) over the lines holding both ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mnlu.corpora._clinical import (
    Doc,
    ner_items,
    present_archives,
    progress,
    relation_items,
    report_unknown_label,
)
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import Member, decode_text, iter_members
from mnlu.formats.i2b2_xml import XmlTag, check_span, int_attr, read_standoff_xml
from mnlu.prompts import SpanType

CORPUS = "i2b2_2012_temporal"
ARCHIVES = (
    ("train", ("2012-07-15.original-annotation.release.tar.gz",)),
    ("test", ("2012-08-23.test-data.groundtruth.tar.gz",)),
)
TEST_GOLD_DIR = "ground_truth/merged_xml/"
EVENT_TYPES = {
    "PROBLEM": "problems, diseases and symptoms", "TEST": "tests and measurements",
    "TREATMENT": "treatments, drugs and procedures", "CLINICAL_DEPT": "clinical departments",
    "EVIDENTIAL": "events that give evidence (e.g. 'reports', 'showed')", "OCCURRENCE": "other clinical events",
}
TIMEX_TYPES = {"DATE": "dates", "TIME": "times of day", "DURATION": "durations", "FREQUENCY": "frequencies"}
TYPES = tuple(SpanType(k, v) for k, v in {**EVENT_TYPES, **TIMEX_TYPES}.items())
# The official evaluation's three classes (Sun et al. 2013) over the eight raw TLINK types.
TLINK_CLASSES = {
    "BEFORE": "before", "ENDED_BY": "before", "BEFORE_OVERLAP": "before",
    "AFTER": "after", "BEGUN_BY": "after",
    "OVERLAP": "overlap", "SIMULTANEOUS": "overlap", "DURING": "overlap",
}
OPTIONS = ("before", "after", "overlap")
RE_TYPE = "temporal relation"


def _members(split: str, archive: Path) -> list[Member]:
    out = []
    for m in iter_members(archive):
        if not m.name.lower().endswith(".xml"):
            continue
        if split == "test" and TEST_GOLD_DIR not in m.name:
            continue
        out.append(m)
    return out


def _mention(tag: XmlTag, text: str, where: str) -> Mention:
    start, end = int_attr(tag, "start", where), int_attr(tag, "end", where)
    label = tag.attrs.get("type", "").strip().upper()
    check_span(text, start, end, tag.attrs.get("text"), where=where, line=tag.line,
               what=f"<{tag.name} id={tag.attrs.get('id', '?')} type={label}>")
    return Mention(start, end, label)


@register(CORPUS, "i2b2 2012 Temporal relations", ("events", "RE"), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for split, archive in present_archives(root, ARCHIVES, CORPUS):
        for member in progress(_members(split, archive), CORPUS, split):
            where = member.where
            try:
                doc = read_standoff_xml(decode_text(member.data, where), where)
                if doc.root != "ClinicalNarrativeTemporalAnnotation":
                    raise FormatError(where, f"root element <{doc.root}>; expected "
                                             "<ClinicalNarrativeTemporalAnnotation>", line=1)
            except FormatError as e:
                ctx.bad(e)
                continue
            by_id: dict[str, Mention] = {}
            mentions: list[Mention] = []
            links: list[XmlTag] = []
            for tag in doc.tags:
                if tag.name == "TLINK":
                    links.append(tag)
                    continue
                if tag.name not in ("EVENT", "TIMEX3", "SECTIME"):
                    report_unknown_label(ctx, where, tag.line, tag.name, ["EVENT", "TIMEX3", "SECTIME", "TLINK"])
                    continue
                try:
                    m = _mention(tag, doc.text, where)
                except FormatError as e:
                    ctx.bad(e)
                    continue
                known = EVENT_TYPES if tag.name == "EVENT" else TIMEX_TYPES
                if tag.name == "SECTIME":  # the section time repeats a TIMEX3; it only anchors TLINKs
                    by_id[tag.attrs.get("id", "")] = Mention(m.start, m.end, "date")
                    continue
                if m.label not in known:
                    report_unknown_label(ctx, where, tag.line, m.label, list(known))
                    continue
                by_id[tag.attrs.get("id", "")] = m
                if m.end > m.start:
                    mentions.append(m)
            pairs = []
            for tag in links:
                a, b = by_id.get(tag.attrs.get("fromID", "")), by_id.get(tag.attrs.get("toID", ""))
                kind = tag.attrs.get("type", "").strip().upper()
                if a is None or b is None:
                    ctx.bad(FormatError(where, f"<TLINK id={tag.attrs.get('id', '?')}>: fromID/toID does not name "
                                               "a kept EVENT, TIMEX3 or SECTIME", line=tag.line))
                elif kind not in TLINK_CLASSES:
                    report_unknown_label(ctx, where, tag.line, kind, list(TLINK_CLASSES))
                elif (a.start, a.end) != (b.start, b.end):
                    pairs.append((_readable(a), _readable(b), OPTIONS.index(TLINK_CLASSES[kind])))
            d = Doc(CORPUS, split, PurePosixPath(member.name).stem, where)
            yield from ner_items(d, doc.text, mentions, TYPES, ctx)
            yield from relation_items(d, doc.text, pairs, OPTIONS, ctx, type_=RE_TYPE)


def _readable(m: Mention) -> Mention:
    """Labels in the relation question read as words ("problem", "clinical dept")."""
    return Mention(m.start, m.end, m.label.lower().replace("_", " "))
