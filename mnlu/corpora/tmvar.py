"""tmVar (Wei et al.): variant NER, v2 (158 abstracts, 3 mutation types) and v3 (500 abstracts, 11 types).

Native files are PubTator: `tmVar.Normalization.txt` (v2, no split: seeded split by PMID), `tmVar3Corpus.txt`
(v3, no split: seeded) or AIONER's split of v3, `tmVar3_{Train,Test}.PubTator` (split as named). Each version
keeps its own type set; prompt ids carry the version so both can be converted side by side.
Known defects handled: one v2 line has its type column replaced by the normalised form (`p|SUB|P|29|S`); the type
is recovered from that form's sequence prefix (p → ProteinMutation, c/g/m/n/r → DNAMutation). The offsets of v3
document 21904390 are wrong (BigBio's `_fixed` config): the reader reports them and the document is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import doc_ner_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.pubtator import read_pubtator
from mnlu.splits import seeded_split, split_of_name

CORPUS = "tmvar"
V2_TYPES = {
    "ProteinMutation": "a protein-level sequence variant (e.g. p.V600E, Val600Glu)",
    "DNAMutation": "a DNA-level sequence variant (e.g. c.1799T>A)",
    "SNP": "a dbSNP reference SNP identifier (e.g. rs113488022)",
}
V3_TYPES = {
    **V2_TYPES,
    "OtherMutation": "a variant described in other terms (e.g. a deletion of exon 2)",
    "AcidChange": "an amino-acid or nucleotide change without a position",
    "DNAAllele": "a DNA allele",
    "ProteinAllele": "a protein allele",
    "Gene": "a gene or protein",
    "Disease": "a disease or phenotype",
    "Species": "a species or organism",
    "CellLine": "a cell line",
}
_NORMALISED = re.compile(r"^([pcgmnr])\|")


def _version_and_split(path: Path, doc_id: str, seed: int) -> tuple[str, str] | None:
    name = path.name.lower()
    if name.startswith("tmvar.normalization"):
        return "v2", seeded_split(f"v2-{doc_id}", seed)
    if name.startswith("tmvar3corpus"):
        return "v3", seeded_split(f"v3-{doc_id}", seed)
    if name.startswith("tmvar3_"):
        split = split_of_name(name.removeprefix("tmvar3_"))
        return None if split is None else ("v3", split)
    return None


def _type(raw: str, types: dict[str, str]) -> str:
    if raw in types:
        return raw
    m = _NORMALISED.match(raw)
    if m:  # the known v2 defect: the normalised form sits in the type column
        return "ProteinMutation" if m.group(1) == "p" else "DNAMutation"
    return raw


@register(CORPUS, "tmVar variant corpora (v2, v3)", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = sorted(p for p in find_files(root) if _version_and_split(p, "0", 0) is not None)
    if not files:
        raise CorpusUnavailable(root, "no tmVar.Normalization.txt, tmVar3Corpus.txt or tmVar3_*.PubTator here")
    for path in files:
        for doc in read_pubtator(path, report=ctx.bad):
            version, split = _version_and_split(path, doc.doc_id, ctx.seed)
            types = V2_TYPES if version == "v2" else V3_TYPES
            mentions = [(m.start, m.end, _type(m.type, types)) for m in doc.mentions]
            yield from doc_ner_items(ctx, CORPUS, split, path, f"{version}-{doc.doc_id}", doc.text, mentions,
                                     types, doc.errors)
