"""n2c2 2018 track 2, adverse drug events and medication extraction (FORMATS.md §17, BRAT): each Drug with the
attributes linked to it by `<Attr>-Drug` relations → trigger and argument extraction items over windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mnlu.corpora._clinical import (
    Argument,
    Doc,
    EventAnn,
    EventSchema,
    brat_pairs,
    event_items,
    present_archives,
    progress,
    report_unknown_label,
)
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.brat import TextBound, parse_ann
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.prompts import SpanType

CORPUS = "n2c2_2018_ade"
ARCHIVES = (("train", ("training_20180910.zip",)), ("test", ("gold-standard-test-data.zip",)))
TRIGGER = "Drug"
ARGUMENTS = (
    SpanType("Strength", "amount of drug in one unit"), SpanType("Form", "physical form"),
    SpanType("Dosage", "number of units taken"), SpanType("Frequency", "how often it is taken"),
    SpanType("Route", "route of administration"), SpanType("Duration", "how long it is taken"),
    SpanType("Reason", "the condition it is given for"), SpanType("ADE", "adverse drug event it caused"),
)
ARGUMENT_TYPES = tuple(a.name for a in ARGUMENTS)
ENTITY_TYPES = (TRIGGER, *ARGUMENT_TYPES)
SCHEMA = EventSchema(
    triggers=(SpanType(TRIGGER, "names of drugs, including brand and generic names"),),
    arguments={TRIGGER: ARGUMENTS},
)


def _covering(tb: TextBound) -> Mention:
    """A discontinuous mention becomes its covering span, which is still a verbatim piece of the note."""
    return Mention(tb.start, tb.end, tb.type)


@register(CORPUS, "n2c2 2018 ADE and medication extraction (track 2)", ("events",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for split, archive in present_archives(root, ARCHIVES, CORPUS):
        for stem, txt, ann in progress(brat_pairs(iter_members(archive), ctx), CORPUS, split):
            try:
                text = decode_text(txt.data, txt.where)
                doc = parse_ann(decode_text(ann.data, ann.where), text, ann_path=ann.where, txt_path=txt.where,
                                doc_id=PurePosixPath(stem).name, report=ctx.bad)
            except FormatError as e:
                ctx.bad(e)
                continue
            for tb in doc.entities.values():
                if tb.type not in ENTITY_TYPES:
                    report_unknown_label(ctx, ann.where, tb.line, tb.type, ENTITY_TYPES)
            args: dict[str, list[Argument]] = {t: [] for t, tb in doc.entities.items() if tb.type == TRIGGER}
            for rel in doc.relations:
                roles = dict(rel.args)
                attr, drug = doc.entities.get(roles.get("Arg1", "")), doc.entities.get(roles.get("Arg2", ""))
                expected = f"{attr.type}-{TRIGGER}" if attr else "?"
                if attr is None or drug is None or drug.type != TRIGGER or rel.type != expected \
                        or attr.type not in ARGUMENT_TYPES:
                    ctx.bad(FormatError(ann.where, f"{rel.id} {rel.type}: expected '<Attr>-Drug Arg1:<attribute> "
                                                   "Arg2:<Drug>'", line=rel.line))
                    continue
                args[roles["Arg2"]].extend(Argument(Mention(s, e, attr.type)) for s, e in attr.spans)
            events = [EventAnn(_covering(doc.entities[t]), tuple(sorted(set(a), key=lambda x: (x.mention.start,
                                                                                               x.mention.label))))
                      for t, a in args.items()]
            events.sort(key=lambda e: (e.trigger.start, e.trigger.end))
            yield from event_items(Doc(CORPUS, split, doc.doc_id, txt.where), text, events, SCHEMA, ctx)
