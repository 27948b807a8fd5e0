"""GNormPlus corpus (BioCreative II GN + NLM-IAT; Wei et al. 2015): gene, gene-family and domain NER.

Native files: `GNormPlusCorpus/{BC2GNtrain,NLMIAT}.BioC.xml` (train, as BigBio) and `BC2GNtest.BioC.xml` (test).
Some native offsets are off by one; as BigBio does, a location that does not match its text is retried one
character left/right or one shorter, and kept only when the moved span matches exactly (else the document is
reported and skipped). Also accepted: NCBI-AIONER's PubTator conversion (`GNormPlus_{Train,Test}.PubTator`,
split as named), which has the same three types.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import doc_ner_items, pubtator_ner_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.bioc_reader import read_bioc
from mnlu.splits import TRAIN, split_of_name

CORPUS = "gnormplus"
TYPES = {
    "Gene": "a specific gene or gene product",
    "FamilyName": "a gene or protein family",
    "DomainMotif": "a protein domain or motif",
}


def split_of(path: Path) -> str | None:
    """The split its name says; NLMIAT (the NLM-IAT abstracts, train as in BigBio) names none."""
    return split_of_name(path.name.split(".")[0]) or (TRAIN if path.name.lower().startswith("nlmiat") else None)


@register(CORPUS, "GNormPlus corpus (BioCreative II GN + NLM-IAT)", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    bioc = sorted(p for p in find_files(root) if p.name.lower().endswith((".bioc.xml", ".bioc.json"))
                  and split_of(p))
    pubtator = sorted(p for p in find_files(root, "*.PubTator") if split_of(p))
    if not bioc and not pubtator:
        raise CorpusUnavailable(root, "no BC2GNtrain/NLMIAT/BC2GNtest .BioC.xml (or GNormPlus_*.PubTator) here")
    for path in bioc:
        for doc in read_bioc(path, report=ctx.bad, repair_off_by_one=True):
            yield from doc_ner_items(ctx, CORPUS, split_of(path), path, doc.doc_id, doc.text,
                                     [(m.start, m.end, m.type) for m in doc.mentions], TYPES, doc.errors)
    for path in pubtator:
        yield from pubtator_ner_items(ctx, CORPUS, path, TYPES, split=split_of(path))
