"""The SNLI/MultiNLI JSON Lines layout (one premise/hypothesis pair per line), shared by both converters.

`gold_label` "-" marks pairs whose annotators reached no consensus; the corpus authors leave them out of
training and evaluation, and so do we (they are skipped, not bad records).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_jsonl
from mnlu.prompts import NLI_LABELS, nli
from mnlu.splits import split_of_file, split_rank

NO_CONSENSUS = "-"
REQUIRED = ("pairID", "sentence1", "sentence2", "gold_label")


def convert_nli_jsonl(root: Path, ctx: ConvertContext, *, corpus: str, pattern: str) -> Iterator[TaskItem]:
    files = find_files(root, pattern)
    if not files:
        raise CorpusUnavailable(root, f"no {pattern} files (the {corpus} JSON Lines distribution) under this folder")
    for path in sorted(files, key=lambda p: (split_rank(p.stem), p)):  # train rows first, then dev
        split = split_of_file(path, ctx.bad)
        if split is None:
            continue
        for line, row in read_jsonl(path, on_bad=ctx.bad):
            if not isinstance(row, dict) or any(not isinstance(row.get(k), str) for k in REQUIRED):
                ctx.bad(FormatError(path, f"expected an object with string fields {list(REQUIRED)}", line=line))
                continue
            label = row["gold_label"]
            if label == NO_CONSENSUS:
                continue
            if label not in NLI_LABELS:
                ctx.bad(FormatError(path, f"gold_label {label!r} is not one of {list(NLI_LABELS)}", line=line))
                continue
            record = nli(f"{corpus}-{row['pairID']}", row["sentence1"], row["sentence2"], label)
            yield TaskItem(split, "NLI", record)
