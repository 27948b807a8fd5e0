"""i2b2/UTHealth 2014 de-identification, track 1 (FORMATS.md §4): standoff PHI tags → NER items over windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mnlu.corpora._clinical import Doc, ner_items, present_archives, progress, report_unknown_label
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.formats.i2b2_xml import check_span, int_attr, read_standoff_xml
from mnlu.prompts import SpanType

CORPUS = "i2b2_2014_deid"
ARCHIVES = (
    ("train", ("2014_training-PHI-Gold-Set1.tar.gz",)),
    ("train", ("training-PHI-Gold-Set2.tar.gz",)),
    ("test", ("testing-PHI-Gold-fixed.tar.gz",)),
)
# PHI category (the tag name) → its subtypes (the TYPE attribute); the subtypes are the entity types, as BigBio.
CATEGORIES = {
    "NAME": ("PATIENT", "DOCTOR", "USERNAME"),
    "PROFESSION": ("PROFESSION",),
    "LOCATION": ("ROOM", "DEPARTMENT", "HOSPITAL", "ORGANIZATION", "STREET", "CITY", "STATE", "COUNTRY", "ZIP",
                 "LOCATION-OTHER"),
    "AGE": ("AGE",),
    "DATE": ("DATE",),
    "CONTACT": ("PHONE", "FAX", "EMAIL", "URL", "IPADDR"),
    "ID": ("SSN", "MEDICALRECORD", "HEALTHPLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOID", "IDNUM"),
}
_DESCRIPTIONS = {
    "PATIENT": "patient names", "DOCTOR": "names of care providers", "USERNAME": "user names",
    "PROFESSION": "jobs", "ROOM": "room numbers", "DEPARTMENT": "hospital departments",
    "HOSPITAL": "hospitals and clinics", "ORGANIZATION": "other organisations", "STREET": "street addresses",
    "CITY": "cities", "STATE": "states and provinces", "COUNTRY": "countries", "ZIP": "postal codes",
    "LOCATION-OTHER": "other places", "AGE": "ages", "DATE": "dates, days and times", "PHONE": "telephone numbers",
    "FAX": "fax numbers", "EMAIL": "e-mail addresses", "URL": "web addresses", "IPADDR": "IP addresses",
    "SSN": "social security numbers", "MEDICALRECORD": "medical record numbers",
    "HEALTHPLAN": "health plan numbers", "ACCOUNT": "account numbers", "LICENSE": "licence numbers",
    "VEHICLE": "vehicle identifiers", "DEVICE": "device identifiers", "BIOID": "biometric identifiers",
    "IDNUM": "other identification numbers",
}
TYPES = tuple(SpanType(t, _DESCRIPTIONS[t]) for sub in CATEGORIES.values() for t in sub)
LABELS = tuple(t.name for t in TYPES)
_ALIASES = {("LOCATION", "OTHER"): "LOCATION-OTHER"}


@register(CORPUS, "i2b2/UTHealth 2014 De-identification", ("events",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for split, archive in present_archives(root, ARCHIVES, CORPUS):
        members = [m for m in iter_members(archive) if m.basename.lower().endswith(".xml")]
        for member in progress(members, CORPUS, split):
            try:
                doc = read_standoff_xml(decode_text(member.data, member.where), member.where)
                if doc.root != "deIdi2b2":
                    raise FormatError(member.where, f"root element <{doc.root}>; expected <deIdi2b2>", line=1)
            except FormatError as e:
                ctx.bad(e)
                continue
            mentions = []
            for tag in doc.tags:
                if tag.name not in CATEGORIES:
                    report_unknown_label(ctx, member.where, tag.line, tag.name, list(CATEGORIES))
                    continue
                subtype = tag.attrs.get("TYPE", "").strip().upper()
                subtype = _ALIASES.get((tag.name, subtype), subtype)
                if subtype not in CATEGORIES[tag.name]:
                    report_unknown_label(ctx, member.where, tag.line, f"{tag.name}/{subtype}", CATEGORIES[tag.name])
                    continue
                try:
                    start, end = int_attr(tag, "start", member.where), int_attr(tag, "end", member.where)
                    check_span(doc.text, start, end, tag.attrs.get("text"), where=member.where, line=tag.line,
                               what=f"<{tag.name} id={tag.attrs.get('id', '?')} TYPE={subtype}>")
                except FormatError as e:
                    ctx.bad(e)
                    continue
                if end > start:
                    mentions.append(Mention(start, end, subtype))
            doc_id = PurePosixPath(member.name).stem
            yield from ner_items(Doc(CORPUS, split, doc_id, member.where), doc.text, mentions, TYPES, ctx)
