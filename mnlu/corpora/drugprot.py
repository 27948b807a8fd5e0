"""DrugProt (BioCreative VII track 1): chemical/gene NER and chemical–gene RE.

Native files (no header, UTF-8 TSV; note the official typo `abstracs`):
`drugprot_{training,development}_abstracs.tsv` (`PMID title abstract`), `..._entities.tsv`
(`PMID T<n> type start end mention`, offsets into `title + " " + abstract`) and `..._relations.tsv`
(`PMID type Arg1:T<a> Arg2:T<b>`). Training and development go to train (`mnlu.splits`); a gold test release with relations goes
to test; `test_background` (no gold) is skipped. RE candidates are CHEMICAL × GENE mention pairs in one sentence, plus
every gold pair. Options must fit (A)…(M): the two rare AGONIST-ACTIVATOR / AGONIST-INHIBITOR labels are folded into
AGONIST (11 labels + "not related to"); a pair with two labels keeps the first one in the file.
Also accepted: NCBI-AIONER's PubTator conversion (`DrugProt_*.PubTator`: Chemical/Gene types, no relations), NER only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import (
    Pair,
    pubtator_ner_items,
    relation_items,
    span_items,
    span_types,
)
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.splits import split_of_file

CORPUS = "drugprot"
TYPES = {
    "CHEMICAL": "a chemical compound or drug",
    "GENE-Y": "a gene or protein that can be normalised to a database entry",
    "GENE-N": "a gene or protein mention that cannot be normalised (e.g. a family)",
}
PUBTATOR_TYPES = {"Chemical": "a chemical compound or drug", "Gene": "a gene or protein"}
RELATIONS = ("INDIRECT-DOWNREGULATOR", "INDIRECT-UPREGULATOR", "DIRECT-REGULATOR", "ACTIVATOR", "INHIBITOR",
             "AGONIST", "ANTAGONIST", "PRODUCT-OF", "SUBSTRATE", "SUBSTRATE_PRODUCT-OF", "PART-OF")
FOLDED = {"AGONIST-ACTIVATOR": "AGONIST", "AGONIST-INHIBITOR": "AGONIST"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def _rows(path: Path, ctx: ConvertContext, n_cols: int) -> Iterator[tuple[int, list[str]]]:
    for lineno, line in enumerate(read_text_file(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != n_cols:
            ctx.bad(FormatError(path, f"expected {n_cols} tab-separated columns, got {len(cols)}", line=lineno))
            continue
        yield lineno, cols


def _sentence_ids(text: str, mentions: list[Mention]) -> dict[str, int]:
    """Index of the sentence holding each mention (no boundary inside a mention)."""
    cuts = [m.start() for m in _SENTENCE_END.finditer(text)
            if not any(x.start < m.start() < x.end for x in mentions)]
    return {x.key: sum(c <= x.start for c in cuts) for x in mentions}


def _native(abstracts: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    stem = abstracts.name.rsplit("_", 1)[0]
    if "background" in stem:  # the test background set: no gold annotations
        return
    split = split_of_file(abstracts, ctx.bad, stem)
    entities_path = abstracts.with_name(f"{stem}_entities.tsv")
    relations_path = abstracts.with_name(f"{stem}_relations.tsv")
    if split is None:
        return
    if not entities_path.exists():
        ctx.bad(FormatError(abstracts, f"no {entities_path.name} beside it"))
        return
    texts = {cols[0]: f"{cols[1]} {cols[2]}" for _, cols in _rows(abstracts, ctx, 3)}
    entities: dict[str, list[Mention]] = {}
    broken: set[str] = set()
    for lineno, (pmid, tid, etype, start, end, mention) in _rows(entities_path, ctx, 6):
        text = texts.get(pmid)
        try:
            if text is None:
                raise FormatError(entities_path, f"document {pmid} is not in {abstracts.name}", line=lineno)
            if etype not in TYPES:
                raise FormatError(entities_path, f"entity type {etype!r}; expected {list(TYPES)}", line=lineno)
            if not (start.isdigit() and end.isdigit()):
                raise FormatError(entities_path, "start and end must be integers", line=lineno)
            s, e = int(start), int(end)
            if not s < e <= len(text) or text[s:e] != mention:
                raise OffsetMismatch(entities_path, f"document {pmid} {tid} ({etype}): the text at {s}-{e} does "
                                     "not match the mention", line=lineno, offset=s)
        except FormatError as err:
            ctx.bad(err)
            broken.add(pmid)
            continue
        entities.setdefault(pmid, []).append(Mention(s, e, etype, tid))
    relations: dict[str, dict[frozenset, str]] = {}
    if relations_path.exists():
        for lineno, (pmid, rtype, arg1, arg2) in _rows(relations_path, ctx, 4):
            rtype = FOLDED.get(rtype, rtype)
            if rtype not in RELATIONS or not arg1.startswith("Arg1:") or not arg2.startswith("Arg2:"):
                ctx.bad(FormatError(relations_path, f"expected 'type Arg1:T<n> Arg2:T<m>' with type in {RELATIONS}",
                                    line=lineno))
                broken.add(pmid)
                continue
            relations.setdefault(pmid, {}).setdefault(frozenset((arg1[5:], arg2[5:])), rtype)
    for pmid in sorted(texts, key=lambda p: (len(p), p)):
        if pmid in broken:
            continue
        text, mentions = texts[pmid], entities.get(pmid, [])
        yield from span_items(ctx, CORPUS, split, pmid, text, mentions, span_types(TYPES), path=entities_path)
        if not relations_path.exists():
            continue
        gold = relations.get(pmid, {})
        known = {m.key for m in mentions}
        if any(not k <= known for k in gold):
            ctx.bad(FormatError(relations_path, f"document {pmid}: a relation names an entity id not in "
                                f"{entities_path.name}"))
            continue
        sentence = _sentence_ids(text, mentions)
        pairs = []
        for c in (m for m in mentions if m.label == "CHEMICAL"):
            for g in (m for m in mentions if m.label != "CHEMICAL"):
                label = gold.get(frozenset((c.key, g.key)))
                if label is not None or sentence[c.key] == sentence[g.key]:
                    pairs.append(Pair(c.key, g.key, label))
        yield from relation_items(ctx, CORPUS, split, pmid, text, mentions, pairs, RELATIONS, path=relations_path,
                                  describe=lambda t: "chemical" if t == "CHEMICAL" else "gene")


@register(CORPUS, "DrugProt (BioCreative VII track 1)", ("events", "RE"), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    abstracts = find_files(root, "*_abstrac*s.tsv")
    pubtator = find_files(root, "*.PubTator")
    if not abstracts and not pubtator:
        raise CorpusUnavailable(root, "no drugprot_*_abstracs.tsv (+ _entities/_relations.tsv) here, and no "
                                "DrugProt_*.PubTator conversion")
    for path in abstracts:
        yield from _native(path, ctx)
    for path in pubtator:
        yield from pubtator_ner_items(ctx, CORPUS, path, PUBTATOR_TYPES, doc_prefix="pubtator-")
