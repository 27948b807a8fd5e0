"""CDSR lay summaries (Guo et al. 2021): technical abstract → plain-language summary of Cochrane reviews.

What is distributed is only `CDSR_data/{train,validation,test}_title_DOI.csv` (columns `[,]Title,DOI`); the
texts are © Wiley/Cochrane and must be exported by the user. This converter reads, in order of preference:

1. the recipe's output `{train,val,test}.source` / `.target` (one document per line, line-aligned), or
2. a Cochrane Library export `citation-export*.txt` plus the split files, following the authors'
   `run_preprocessing.py`: records start at `Record #`, the first record of each title (`TI: `) wins, the `AB: `
   line splits into `Abstract - <source> Plain language summary <target>`, and the `DOI: ` picks the split.
   The authors drop `.pubN` from the export's DOI only; we drop it on both sides, so a review matches its
   split whatever its publication number (the split files list `.pubN` DOIs).

With neither present the corpus is reported unavailable, naming what to export; nothing is invented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import fit_to_budget
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_delimited
from mnlu.prompts import summarization
from mnlu.splits import split_of_file, split_of_name

INSTRUCTION = "Write a plain-language summary of the systematic review abstract for a lay reader."
PUB_SUFFIX = re.compile(r"\.pub\d+$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
ABSTRACT_HEAD = "Abstract - "
PLS_MARK = " Plain language summary "
HOW_TO_GET = (
    "the CDSR texts are not redistributed (only the *_title_DOI.csv split files are): export all Cochrane reviews "
    "with abstracts from cochranelibrary.com as citation-export.txt into this folder, or put the authors' "
    "recipe output {train,val,test}.source/.target here"
)


def normalise_doi(doi: str) -> str:
    return PUB_SUFFIX.sub("", doi.strip())


def read_split_files(root: Path, ctx: ConvertContext) -> dict[str, str]:
    """Normalised DOI → split, from the distributed split files."""
    doi_split: dict[str, str] = {}
    for path in find_files(root, "*_title_DOI.csv"):
        split = split_of_file(path, ctx.bad, path.stem.replace("_title_DOI", ""))
        if split is None:
            continue
        for _line, row in read_delimited(path, required=("Title", "DOI"), on_bad=ctx.bad):
            doi_split.setdefault(normalise_doi(row["DOI"]), split)
    return doi_split


def parse_citation_export(path: Path) -> Iterator[tuple[int, str, str, str]]:
    """(line of the AB field, normalised DOI, source, target) per usable record, titles de-duplicated."""
    seen_titles: set[str] = set()
    title = doi = None
    repeated = False
    try:
        with path.open(encoding="utf-8-sig") as f:
            for line_no, line in enumerate(f, start=1):
                line = line.rstrip("\n")
                if "Record #" in line:
                    title, doi, repeated = None, None, False
                elif line.startswith("TI: "):
                    title = line[4:]
                    repeated = title in seen_titles
                    seen_titles.add(title)
                elif line.startswith("DOI: "):
                    doi = normalise_doi(line[5:])
                elif line.startswith("AB: ") and not repeated and doi is not None:
                    body = line[4:]
                    if not body.startswith(ABSTRACT_HEAD) or PLS_MARK not in body:
                        continue
                    source, _, target = body[len(ABSTRACT_HEAD) :].partition(PLS_MARK)
                    if source.strip() and target.strip():
                        yield line_no, doi, source.strip(), target.strip()
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 (byte {e.start})", offset=e.start) from None


def _item(pid: str, split: str, source: str, target: str, ctx: ConvertContext) -> TaskItem:
    sentences = SENTENCE_END.split(source)

    def build(k: int) -> dict:
        return summarization(
            pid, " ".join(sentences[:k]), target, type_="plain language summary", instruction=INSTRUCTION
        )

    return TaskItem(split, "summarization", fit_to_budget(build, len(sentences), ctx))


def _from_recipe_output(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for source_path in find_files(root, "*.source"):
        target_path = source_path.with_suffix(".target")
        split = split_of_name(source_path.stem)
        if split is None or not target_path.is_file():
            ctx.bad(FormatError(source_path, "expected {train,val,test}.source with a matching .target"))
            continue
        sources = source_path.read_text(encoding="utf-8").splitlines()
        targets = target_path.read_text(encoding="utf-8").splitlines()
        if len(sources) != len(targets):
            raise FormatError(target_path, f"{len(targets)} lines; {source_path.name} has {len(sources)}")
        for line, (source, target) in enumerate(zip(sources, targets, strict=True), start=1):
            if not source.strip() or not target.strip():
                ctx.bad(FormatError(source_path, "empty source or target", line=line))
                continue
            yield _item(f"cdsr-{source_path.stem}-{line}", split, source.strip(), target.strip(), ctx)


@register("cdsr", "CDSR lay summaries (Guo et al. 2021)", ("summarization",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    if find_files(root, "*.source"):
        yield from _from_recipe_output(root, ctx)
        return
    exports = find_files(root, "citation-export*.txt")
    if not exports:
        raise CorpusUnavailable(root, HOW_TO_GET)
    doi_split = read_split_files(root, ctx)
    if not doi_split:
        raise CorpusUnavailable(root, "a citation export is here but no *_title_DOI.csv split files")
    done: set[str] = set()
    for path in exports:
        for _line, doi, source, target in parse_citation_export(path):
            split = doi_split.get(doi)
            if split is None or doi in done:
                continue
            done.add(doi)
            yield _item(f"cdsr-{doi.rsplit('.', 1)[-1]}", split, source, target, ctx)
