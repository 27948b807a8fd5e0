"""LINNAEUS (Gerner et al. 2010): species NER.

Two native layouts, IOB first:
- `linnaeus-IOB/{train,devel,test}.tsv` (Crichton et al. 2017, the version of Kocaman & Talby that the paper
  cites): `token<TAB>tag`, blank line between sentences; one item per sentence; devel goes to train (`mnlu.splits`).
- `manual-corpus-species-1.x/`: `txt/<doc>.txt` full texts and `tags.tsv` (header `#species id`, columns
  `id document start end text code`, 0-based end-exclusive offsets). Each full text is windowed; no official
  split, so documents are split by a seeded hash. Every tag is checked against the text (`OffsetMismatch`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import doc_ner_items, iob_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.formats.tabular import read_delimited
from mnlu.splits import seeded_split, split_of_name

CORPUS = "linnaeus"
TYPES = {"Species": "a species or organism name, including common names (e.g. human, mouse, E. coli)"}
COLUMNS = ("document", "start", "end", "text")


def _standoff(tags: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    txt_dir = tags.parent / "txt"
    by_doc: dict[str, list[tuple[int, int, int, str]]] = {}
    for line, row in read_delimited(tags, delimiter="\t", required=COLUMNS, on_bad=ctx.bad):
        try:
            s, e = int(row["start"]), int(row["end"])
        except ValueError:
            ctx.bad(FormatError(tags, "start and end must be integers", line=line))
            by_doc.setdefault(row["document"], []).append((line, -1, -1, ""))
            continue
        by_doc.setdefault(row["document"], []).append((line, s, e, row["text"]))
    for doc_id in sorted(by_doc):
        path = txt_dir / f"{doc_id}.txt"
        if not path.exists():
            ctx.bad(FormatError(tags, f"document {doc_id}: no {path.name} in {txt_dir}"))
            continue
        text = read_text_file(path)
        errors = []
        mentions = []
        for line, s, e, surface in by_doc[doc_id]:
            if s < 0 or not s < e <= len(text) or text[s:e] != surface:
                err = OffsetMismatch(tags, f"document {doc_id}: the text at {s}-{e} does not match the tag",
                                     line=line, offset=s)
                ctx.bad(err)
                errors.append(err)
            else:
                mentions.append((s, e, "Species"))
        split = seeded_split(doc_id, ctx.seed)
        yield from doc_ner_items(ctx, CORPUS, split, path, doc_id, text, mentions, TYPES, errors)


@register(CORPUS, "LINNAEUS species corpus", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    iob = sorted(p for p in find_files(root, "*.tsv") if p.stem in ("train", "devel", "dev", "test"))
    tags = find_files(root, "tags.tsv")
    if not iob and not tags:
        raise CorpusUnavailable(root, "no linnaeus-IOB/{train,devel,test}.tsv and no manual-corpus-species/tags.tsv")
    if iob:
        for path in iob:
            yield from iob_items(ctx, CORPUS, split_of_name(path.stem), path, TYPES)
        return
    for path in tags:
        yield from _standoff(path, ctx)
