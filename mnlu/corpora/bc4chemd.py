"""BC4CHEMD (BioCreative IV CHEMDNER, IOB version of Crichton et al. 2017): chemical NER.

Native layout: `BC4CHEMD/{train,devel,test}.tsv`, `token<TAB>tag` with B-Chemical / I-Chemical / O and a blank
line between sentences (the version MNLU most likely used; FORMATS.md §13). One item per sentence; devel → train (`mnlu.splits`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import iob_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.splits import split_of_name

CORPUS = "bc4chemd"
TYPES = {"Chemical": "a chemical compound or drug (systematic, trivial, formula, abbreviation or family name)"}


@register(CORPUS, "BC4CHEMD (BioCreative IV CHEMDNER)", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = sorted(p for p in find_files(root, "*.tsv") if p.stem in ("train", "devel", "dev", "test"))
    if not files:
        raise CorpusUnavailable(root, "no BC4CHEMD/{train,devel,test}.tsv (IOB) here")
    for path in files:
        yield from iob_items(ctx, CORPUS, split_of_name(path.stem), path, TYPES)
