"""n2c2 2022 track 2, social determinants of health (SHAC; FORMATS.md §18, BRAT): the five challenge events with
their arguments, and the status/type labels of labelled arguments → trigger and argument extraction items and
attribute choice items. Labels follow the corpus's annotation.conf (restricted to the challenge's events).

Layout: `{train,dev,test}/{mimic,uw}/<id>.txt|.ann`, as folders or inside the archives of the release; the
development split goes to train (the policy of `mnlu.splits`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._clinical import (
    Argument,
    Doc,
    EventAnn,
    EventSchema,
    brat_pairs,
    event_items,
    progress,
    report_unknown_label,
)
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.brat import parse_ann
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import Member, decode_text, is_archive, is_junk, iter_members
from mnlu.prompts import SpanType
from mnlu.splits import SPLITS, split_of_name

log = logging.getLogger(__name__)

CORPUS = "n2c2_2022_sdoh"
SOURCES = ("mimic", "uw")
_LAYOUT = re.compile(r"(?:^|/)(train|dev|test)/(mimic|uw)/([^/]+)\.(?:txt|ann)$")

TRIGGERS = (
    SpanType("Alcohol", "alcohol use"), SpanType("Drug", "recreational drug use"),
    SpanType("Tobacco", "tobacco use"), SpanType("Employment", "employment"),
    SpanType("LivingStatus", "living situation"),
)
_ROLE = {
    "Status": "status (current, past, ...)", "Amount": "amount used", "Duration": "how long",
    "Frequency": "how often", "History": "time since use ended", "Method": "how it is used",
    "Type": "type or kind",
}
_SUBSTANCE = ("Status", "Amount", "Duration", "Frequency", "History", "Method", "Type")
ROLES = {
    "Alcohol": _SUBSTANCE, "Drug": _SUBSTANCE, "Tobacco": _SUBSTANCE,
    "Employment": ("Status", "Duration", "History", "Type"),
    "LivingStatus": ("Status", "Type", "Duration", "History"),
}
# Labelled arguments: attribute name → values (annotation.conf [attributes]), and the entity type each labels.
ATTRIBUTES = {
    "StatusTimeVal": ("none", "current", "past", "future"),
    "StatusEmployVal": ("employed", "unemployed", "retired", "on_disability", "student", "homemaker"),
    "TypeLivingVal": ("alone", "with_family", "with_others", "homeless"),
}
ATTRIBUTE_OF = {"StatusTime": "StatusTimeVal", "StatusEmploy": "StatusEmployVal", "TypeLiving": "TypeLivingVal"}
ATTRIBUTE_WORDS = {"StatusTimeVal": "status in time", "StatusEmployVal": "employment status",
                   "TypeLivingVal": "living situation"}
SCHEMA = EventSchema(
    triggers=TRIGGERS,
    arguments={e: tuple(SpanType(r, _ROLE[r]) for r in roles) for e, roles in ROLES.items()},
    attributes=ATTRIBUTES,
    attribute_names=ATTRIBUTE_WORDS,
)


def _members(root: Path) -> Iterator[Member]:
    """Files of the layout, from folders under `root` and from archives there, in path order."""
    for path in find_files(root):
        if is_junk(path.relative_to(root).as_posix()):
            continue
        if is_archive(path):
            yield from (m for m in iter_members(path) if _LAYOUT.search(m.name))
        else:
            rel = path.relative_to(root).as_posix()
            if _LAYOUT.search(rel):
                yield Member(root, rel, path.read_bytes(), in_archive=False)


@register(CORPUS, "n2c2 2022 Social determinants of health (track 2, SHAC)", ("events",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    root = Path(root)
    pairs = brat_pairs(_members(root), ctx)
    if not pairs:
        raise CorpusUnavailable(root, f"{CORPUS}: no {{train,dev,test}}/{{mimic,uw}}/<id>.txt + .ann pairs here; "
                                      "request SHAC (n2c2 portal + PhysioNet data use agreements)")
    for split in SPLITS:
        chosen = [p for p in pairs if split_of_name(_LAYOUT.search(p[1].name).group(1)) == split]
        for _stem, txt, ann in progress(chosen, CORPUS, split):
            subset, source, name = _LAYOUT.search(txt.name).groups()
            try:
                text = decode_text(txt.data, txt.where)
                doc = parse_ann(decode_text(ann.data, ann.where), text, ann_path=ann.where, txt_path=txt.where,
                                doc_id=name, report=ctx.bad)
            except FormatError as e:
                ctx.bad(e)
                continue
            events = list(_events(doc, ann.where, ctx))
            yield from event_items(Doc(CORPUS, split, f"{subset}-{source}-{name}", txt.where), text, events,
                                   SCHEMA, ctx)


def _events(doc, where: str, ctx: ConvertContext) -> Iterator[EventAnn]:
    left_out = 0
    for ev in sorted(doc.events.values(), key=lambda e: (doc.entities[e.trigger].start, e.id)):
        trigger = doc.entities[ev.trigger]
        if ev.type not in ROLES:
            left_out += 1  # SHAC events outside the n2c2 task (Country, Insurance, ...)
            continue
        if trigger.type != ev.type:
            ctx.bad(FormatError(where, f"{ev.id}: trigger {ev.trigger} is a {trigger.type}, expected {ev.type}",
                                line=ev.line))
            continue
        args = []
        for role_n, ref in ev.args:
            role = role_n.rstrip("0123456789")
            tb = doc.entities.get(ref)
            if tb is None:
                ctx.bad(FormatError(where, f"{ev.id}: argument {role_n}:{ref} is not a text-bound annotation",
                                    line=ev.line))
                continue
            if role not in ROLES[ev.type]:
                left_out += 1  # e.g. Degree, annotated in SHAC but not scored in n2c2
                continue
            attribute = None
            name = ATTRIBUTE_OF.get(tb.type)
            if name is not None:
                value = doc.attributes_of(ref).get(name)
                if value not in ATTRIBUTES[name]:
                    report_unknown_label(ctx, where, ev.line, f"{name}={value}", ATTRIBUTES[name])
                    continue
                attribute = (name, value)
            for i, (s, e) in enumerate(tb.spans):
                args.append(Argument(Mention(s, e, role), attribute if i == 0 else None))
        yield EventAnn(Mention(trigger.start, trigger.end, ev.type), tuple(args))
    if left_out:
        log.info("%s: %d event(s)/argument(s) outside the n2c2 2022 label set left out", where, left_out)
