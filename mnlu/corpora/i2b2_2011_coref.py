"""i2b2/VA 2011 coreference (FORMATS.md §2), Beth Israel and Partners parts: concepts → NER items over windows;
chains → coreference choice items (each mention with its chain antecedent, and with the nearest earlier mention
of the same concept type outside the chain as a negative), shown in the lines that hold both mentions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

from mnlu.corpora._clinical import (
    Doc,
    ner_items,
    present_archives,
    progress,
    relation_items,
    report_unknown_label,
)
from mnlu.corpora.item_helpers import RE_NEGATIVE, Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.formats.i2b2_concepts import TokenGrid, read_chains, read_concepts, resolve
from mnlu.prompts import SpanType

log = logging.getLogger(__name__)

CORPUS = "i2b2_2011_coref"
ARCHIVES = (
    ("train", ("i2b2_Beth_Train_Release.tar.gz",)),
    ("train", ("i2b2_Partners_Train_Release.tar.gz",)),
    ("test", ("Task_1C.zip",)),
    ("test", ("Task_1C_Test_groundtruth.zip",)),
)
TYPES = (
    SpanType("person", "people, including the patient and care providers"),
    SpanType("problem", "diseases, symptoms and findings"),
    SpanType("test", "tests and measurements"),
    SpanType("treatment", "drugs, procedures and other treatments"),
    SpanType("pronoun", "pronouns"),
)
LABELS = tuple(t.name for t in TYPES)
OPTIONS = ("coreferent", RE_NEGATIVE)
RE_TYPE = "coreference"
_EXCLUDED_PARTS = ("odie", "upmc")  # the other 2011 sub-corpora, left out as in BigBio


def _kind(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(".txt.con"):
        return "con"
    if lower.endswith(".txt.chains"):
        return "chains"
    if lower.endswith(".txt") and "/docs/" in f"/{lower}":
        return "txt"
    return None


@register(CORPUS, "i2b2/VA 2011 Coreference", ("events", "RE"), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files: dict[str, dict[str, dict[str, tuple[str, bytes]]]] = {}  # split → doc → kind → (where, data)
    for split, archive in present_archives(root, ARCHIVES, CORPUS):
        for m in iter_members(archive):
            kind = _kind(m.name)
            if kind is None or any(p in m.name.lower() for p in _EXCLUDED_PARTS):
                continue
            doc_id = m.basename.split(".txt")[0]
            slot = files.setdefault(split, {}).setdefault(doc_id, {})
            if kind in slot:
                ctx.bad(FormatError(m.where, f"a second {kind} file for document {doc_id} (first: {slot[kind][0]})"))
                continue
            slot[kind] = (m.where, m.data)
    for split, docs in files.items():
        for doc_id in progress(sorted(docs), CORPUS, split):
            parts = docs[doc_id]
            if "txt" not in parts or "con" not in parts:
                ctx.bad(FormatError(next(iter(parts.values()))[0], f"document {doc_id}: expected its .txt note and "
                                                                     f".txt.con concepts, found {sorted(parts)}"))
                continue
            yield from _document(split, doc_id, parts, ctx)


def _document(split: str, doc_id: str, parts: dict[str, tuple[str, bytes]], ctx: ConvertContext
              ) -> Iterator[TaskItem]:
    txt_where, txt = parts["txt"]
    text = decode_text(txt, txt_where)
    grid = TokenGrid(text)
    con_where, con = parts["con"]
    by_pos: dict[tuple, Mention] = {}
    mentions: list[Mention] = []
    for c in read_concepts(decode_text(con, con_where), con_where, report=ctx.bad):
        if c.type not in LABELS:
            report_unknown_label(ctx, con_where, c.line, c.type, LABELS)
            continue
        try:
            s, e = resolve(grid, c.mention.begin, c.mention.end, c.mention.text, where=con_where, line=c.line,
                           what=f"concept ({c.type})")
        except FormatError as err:
            ctx.bad(err)
            continue
        m = Mention(s, e, c.type)
        by_pos[(c.mention.begin, c.mention.end)] = m
        mentions.append(m)
    doc = Doc(CORPUS, split, doc_id, txt_where)
    yield from ner_items(doc, text, mentions, TYPES, ctx)
    if "chains" not in parts:
        log.info("%s: %s document %s has no chains file", txt_where, CORPUS, doc_id)
        return
    chains_where, chains = parts["chains"]
    pairs: list[tuple[Mention, Mention, int]] = []
    ordered = sorted(mentions, key=lambda m: (m.start, m.end))
    for chain in read_chains(decode_text(chains, chains_where), chains_where, report=ctx.bad):
        members: list[Mention] = []
        try:
            for cm in chain.mentions:
                s, e = resolve(grid, cm.begin, cm.end, cm.text, where=chains_where, line=chain.line,
                               what=f"chain mention ({chain.type})")
                known = by_pos.get((cm.begin, cm.end))
                members.append(known or Mention(s, e, chain.type.removeprefix("coref ").strip()))
        except FormatError as err:
            ctx.bad(err)
            continue
        members.sort(key=lambda m: (m.start, m.end))
        spans = {(m.start, m.end) for m in members}
        for prev, cur in pairwise(members):
            pairs.append((prev, cur, 0))
            negative = next((m for m in reversed(ordered) if m.end <= cur.start and m.label == prev.label
                             and (m.start, m.end) not in spans), None)
            if negative is not None:
                pairs.append((negative, cur, 1))
    yield from relation_items(doc, text, pairs, OPTIONS, ctx, type_=RE_TYPE)
