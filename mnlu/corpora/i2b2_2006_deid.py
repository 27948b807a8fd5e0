"""i2b2 2006 de-identification (FORMATS.md §1): inline PHI tags → NER items over windows of each summary."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from mnlu.corpora._clinical import Doc, ner_items, present_archives, progress, report_unknown_label
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.formats.i2b2_xml import InlineRecord, iter_inline_records
from mnlu.prompts import SpanType

CORPUS = "i2b2_2006_deid"
ARCHIVES = (
    ("train", ("deid_surrogate_train_all_version2.zip",)),
    ("test", ("deid_surrogate_test_all_groundtruth_version2.zip",)),
)
TYPES = (
    SpanType("PATIENT", "names of patients and their family members"),
    SpanType("DOCTOR", "names of doctors and other care providers"),
    SpanType("HOSPITAL", "names of hospitals, clinics and wards"),
    SpanType("ID", "record numbers and other identifiers"),
    SpanType("DATE", "dates and parts of dates"),
    SpanType("LOCATION", "addresses, cities and other places"),
    SpanType("PHONE", "telephone and pager numbers"),
    SpanType("AGE", "ages above 89"),
)
LABELS = tuple(t.name for t in TYPES)
REPORT_END = "[ report_end ]"


def strip_report_end(text: str) -> str:
    """Drop the `[ report_end ]` marker the 2006 releases put after every summary (it is not note text)."""
    body = text.rstrip()
    return body[: -len(REPORT_END)].rstrip() if body.endswith(REPORT_END) else text


def inline_records(root: Path, archives: Sequence[tuple[str, Sequence[str]]], corpus: str, ctx: ConvertContext
                   ) -> Iterator[tuple[str, str, InlineRecord]]:
    """(split, archive member, record) for every `<RECORD>` of the 2006 zips (de-id and smoking share the shape)."""
    for split, archive in present_archives(root, archives, corpus):
        for member in iter_members(archive):
            if not member.basename.lower().endswith(".xml"):
                continue
            data = decode_text(member.data, member.where)
            for rec in progress(iter_inline_records(data, member.where, report=ctx.bad), corpus, split):
                yield split, member.where, rec


@register(CORPUS, "i2b2 2006 De-identification", ("events",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for split, where, rec in inline_records(root, ARCHIVES, CORPUS, ctx):
        text = strip_report_end(rec.text)
        mentions = []
        for s in rec.spans:
            if s.label not in LABELS:
                report_unknown_label(ctx, where, s.line, s.label, LABELS)
            elif s.end > s.start and s.end <= len(text):
                mentions.append(Mention(s.start, s.end, s.label))
        yield from ner_items(Doc(CORPUS, split, rec.record_id, where), text, mentions, TYPES, ctx)
