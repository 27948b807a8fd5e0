"""NLM-Gene (Islamaj et al. 2021): gene NER in 550 PubMed abstracts.

Native layout: `Corpus/Pmidlist.{Train,Test}.txt` (one PMID per line) and `Corpus/FINAL/<PMID>.BioC.XML` (one
BioC file per abstract; each annotation has `infon type`). The split is the PMID lists'; a BioC file in neither
list is reported. Also accepted: NCBI-AIONER's PubTator conversion (`NLMgene_{Train,Test}.PubTator`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import doc_ner_items, pubtator_ner_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.gnormplus import TYPES as GNORMPLUS_TYPES
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.bioc_reader import read_bioc
from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError
from mnlu.splits import split_of_file

CORPUS = "nlm_gene"
TYPES = {  # GNormPlus's guidelines, extended: the shared types keep GNormPlus's descriptions
    "Gene": GNORMPLUS_TYPES["Gene"],
    "FamilyName": GNORMPLUS_TYPES["FamilyName"],
    "Cell": "a cell type named after a gene (e.g. CD4+ T cells)",
    "DomainMotif": GNORMPLUS_TYPES["DomainMotif"],
    "ChromosomeLocation": "a chromosome location (e.g. 17q21)",
}


def _pmid_splits(root: Path, ctx: ConvertContext) -> dict[str, str]:
    splits: dict[str, str] = {}
    for path in find_files(root, "Pmidlist.*.txt"):
        split = split_of_file(path, ctx.bad)
        if split is None:
            continue
        for lineno, line in enumerate(read_text_file(path).splitlines(), start=1):
            pmid = line.strip()
            if not pmid:
                continue
            if not pmid.isdigit():
                ctx.bad(FormatError(path, f"expected a PMID, got {pmid[:20]!r}", line=lineno))
                continue
            splits[pmid] = split
    return splits


@register(CORPUS, "NLM-Gene", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    splits = _pmid_splits(root, ctx)
    bioc = sorted(p for p in find_files(root) if p.name.lower().endswith((".bioc.xml", ".bioc.json")))
    pubtator = find_files(root, "*.PubTator")
    if not (splits and bioc) and not pubtator:
        raise CorpusUnavailable(root, "no Corpus/Pmidlist.{Train,Test}.txt with Corpus/FINAL/*.BioC.XML "
                                "(or NLMgene_*.PubTator) here")
    for path in bioc if splits else []:
        for doc in read_bioc(path, report=ctx.bad):
            split = splits.get(doc.doc_id)
            if split is None:
                ctx.bad(FormatError(path, f"document {doc.doc_id} is in neither PMID list"))
                continue
            yield from doc_ner_items(ctx, CORPUS, split, path, doc.doc_id, doc.text,
                                     [(m.start, m.end, m.type) for m in doc.mentions], TYPES, doc.errors)
    for path in pubtator:
        yield from pubtator_ner_items(ctx, CORPUS, path, TYPES)
