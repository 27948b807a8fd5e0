"""STS-B (GLUE `STS-B/{train,dev,test}.tsv`, or the original benchmark's headerless `sts-*.csv`).

GLUE rows: `index genre filename year old_index source1 source2 sentence1 sentence2 score`, read with no quote
handling because sentences hold stray `"`. GLUE's test.tsv has no score column, so it is not converted;
GLUE's dev set goes to train (`mnlu.splits`), so this layout has no test split (the original `sts-test.csv`
has scores and is test). The 0–5 real-valued score becomes the integer level nearest to it
(`mnlu.prompts.sts` rounds half up).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_delimited
from mnlu.prompts import sts
from mnlu.splits import split_of_file

GLUE_COLUMNS = ("index", "sentence1", "sentence2")
ORIGINAL_FIELDS = 7  # genre filename year id score sentence1 sentence2 [license fields...]


def _score(path: Path, line: int, raw: str, ctx: ConvertContext) -> float | None:
    try:
        score = float(raw)
    except ValueError:
        ctx.bad(FormatError(path, f"score {raw!r} is not a number", line=line))
        return None
    if not (0.0 <= score <= 5.0) or math.isnan(score):
        ctx.bad(FormatError(path, f"score {score} outside 0–5", line=line))
        return None
    return score


def _glue(path: Path, split: str, ctx: ConvertContext) -> Iterator[TaskItem]:
    rows = read_delimited(path, delimiter="\t", quoting=csv.QUOTE_NONE, required=GLUE_COLUMNS, on_bad=ctx.bad)
    for line, row in rows:
        if "score" not in row:
            return  # GLUE test: no gold scores
        score = _score(path, line, row["score"], ctx)
        if score is not None:
            record = sts(f"stsb-{path.stem}-{row['index']}", row["sentence1"], row["sentence2"], score)
            yield TaskItem(split, "STS", record)


def _original(path: Path, split: str, ctx: ConvertContext) -> Iterator[TaskItem]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            for line, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
                if len(row) < ORIGINAL_FIELDS:
                    ctx.bad(FormatError(path, f"{len(row)} fields; expected at least {ORIGINAL_FIELDS}", line=line))
                    continue
                score = _score(path, line, row[4], ctx)
                if score is not None:
                    yield TaskItem(split, "STS", sts(f"stsb-{path.stem}-{line}", row[5], row[6], score))
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 (byte {e.start})", offset=e.start) from None


@register("stsb", "STS Benchmark (GLUE STS-B)", ("STS",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    glue = sorted(p for p in find_files(root, "*.tsv") if p.stem in ("train", "dev", "test"))
    original = sorted(p for p in find_files(root, "sts-*.csv"))
    if not glue and not original:
        raise CorpusUnavailable(root, "no GLUE STS-B/{train,dev,test}.tsv or original sts-*.csv files here")
    for path in glue or original:
        split = split_of_file(path, ctx.bad)
        if split is None:
            continue
        yield from (_glue if glue else _original)(path, split, ctx)
