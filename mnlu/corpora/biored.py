"""BioRED (Luo et al. 2022): NER items (6 entity types) and RE items (8 relation types over concept pairs).

Native files: `BioRED/{Train,Dev,Test}.PubTator` (read first, as BigBio does), else `{Train,Dev,Test}.BioC.XML`
or `.BioC.JSON`. Relations link **concept ids** (a mention may carry several, comma-separated), so an RE item asks
about two concepts, every mention of each marked in the text. Candidate pairs are the co-occurring concept pairs
whose type pair BioRED annotates; a pair without a relation is "not related to". Dev goes to train
(`mnlu.splits`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

from mnlu.corpora._public_common import Pair, relation_items, span_items, span_types
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.bioc_reader import read_bioc
from mnlu.formats.errors import FormatError
from mnlu.formats.pubtator import read_pubtator
from mnlu.splits import split_of_name

CORPUS = "biored"
ENTITY_TYPES = {
    "GeneOrGeneProduct": "a gene, protein or RNA",
    "DiseaseOrPhenotypicFeature": "a disease, symptom or phenotype",
    "ChemicalEntity": "a chemical compound or drug",
    "OrganismTaxon": "a species or organism",
    "SequenceVariant": "a genomic or protein sequence variant",
    "CellLine": "a cell line",
}
RELATIONS = ("Association", "Positive_Correlation", "Negative_Correlation", "Bind", "Cotreatment", "Comparison",
             "Drug_Interaction", "Conversion")
NOUNS = {"GeneOrGeneProduct": "gene", "DiseaseOrPhenotypicFeature": "disease", "ChemicalEntity": "chemical",
         "OrganismTaxon": "organism", "SequenceVariant": "variant", "CellLine": "cell line"}
# Type pairs that BioRED annotates relations for (unordered); only these give negative candidates.
PAIR_TYPES = {frozenset(p) for p in [
    ("ChemicalEntity",), ("ChemicalEntity", "DiseaseOrPhenotypicFeature"), ("ChemicalEntity", "GeneOrGeneProduct"),
    ("ChemicalEntity", "SequenceVariant"), ("DiseaseOrPhenotypicFeature", "GeneOrGeneProduct"),
    ("DiseaseOrPhenotypicFeature", "SequenceVariant"), ("GeneOrGeneProduct",), ("SequenceVariant",)]}
_ID_SEP = re.compile(r"[,;]")


def split_of(path: Path) -> str | None:
    return split_of_name(path.name.split(".")[0])


def concept_ids(identifier: str) -> list[str]:
    return [i.strip() for i in _ID_SEP.split(identifier) if i.strip() and i.strip() != "-"]


def _doc_items(ctx: ConvertContext, path: Path, split: str, doc_id: str, text: str,
               mentions: list[tuple[int, int, str, str]], relations: list[tuple[str, str, str]]
               ) -> Iterator[TaskItem]:
    bad = [t for _, _, t, _ in mentions if t not in ENTITY_TYPES]
    if bad:
        ctx.bad(FormatError(path, f"document {doc_id}: entity type(s) {sorted(set(bad))} are not BioRED types"))
        return
    ner = [Mention(s, e, t) for s, e, t, _ in mentions]
    yield from span_items(ctx, CORPUS, split, doc_id, text, ner, span_types(ENTITY_TYPES), path=path)
    concepts: list[Mention] = []
    types: dict[str, str] = {}
    for s, e, t, ident in mentions:
        for cid in concept_ids(ident):
            concepts.append(Mention(s, e, t, cid))
            types.setdefault(cid, t)
    gold: dict[frozenset, str] = {}
    for rel_type, a, b in relations:
        if rel_type not in RELATIONS:
            ctx.bad(FormatError(path, f"document {doc_id}: relation type {rel_type!r} is not one of {RELATIONS}"))
            continue
        gold[frozenset((a, b))] = rel_type
    pairs = []
    for a, b in combinations(sorted(types, key=lambda c: min(m.start for m in concepts if m.key == c)), 2):
        label = gold.get(frozenset((a, b)))
        if label is not None or frozenset((types[a], types[b])) in PAIR_TYPES:
            pairs.append(Pair(a, b, label))
    yield from relation_items(ctx, CORPUS, split, doc_id, text, concepts, pairs, RELATIONS, path=path,
                              describe=lambda t: NOUNS.get(t, t))


def from_pubtator(path: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for doc in read_pubtator(path, report=ctx.bad):
        if doc.errors:  # already reported; a partial gold set is not converted
            continue
        mentions = [(m.start, m.end, m.type, m.identifier) for m in doc.mentions]
        relations = [(r.type, r.args[0], r.args[1]) for r in doc.relations if len(r.args) >= 2]
        yield from _doc_items(ctx, path, split_of(path), doc.doc_id, doc.text, mentions, relations)


def from_bioc(path: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for doc in read_bioc(path, report=ctx.bad):
        if doc.errors:
            continue
        mentions = [(m.start, m.end, m.type, m.infons.get("identifier", "")) for m in doc.mentions]
        relations = [(r.infons.get("type", ""), r.infons.get("entity1", ""), r.infons.get("entity2", ""))
                     for r in doc.relations]
        yield from _doc_items(ctx, path, split_of(path), doc.doc_id, doc.text, mentions, relations)


@register(CORPUS, "BioRED: biomedical relation extraction dataset", ("events", "RE"), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = sorted(p for p in find_files(root) if p.name.lower().split(".")[0] in ("train", "dev",
                                                                                                  "test"))
    pubtator = [p for p in files if p.suffix.lower() == ".pubtator"]
    bioc = [p for p in files if p.name.lower().endswith((".bioc.xml", ".bioc.json"))]
    if not pubtator and not bioc:
        raise CorpusUnavailable(root, "no BioRED/{Train,Dev,Test}.PubTator or .BioC.XML/.BioC.JSON files here")
    for path in pubtator or bioc:
        yield from (from_pubtator if path in pubtator else from_bioc)(path, ctx)
