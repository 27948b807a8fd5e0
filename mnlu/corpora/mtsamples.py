"""MTSamples (Kaggle `mtsamples.csv`): transcribed medical reports labelled with their medical specialty.

Columns `,description,medical_specialty,sample_name,transcription,keywords` (the first header cell is a pandas
index). Values carry a leading space, and the scrape replaced the report's line breaks by commas (`HISTORY:,
text.,PLAN:,1. ...`); those joins are turned back into line breaks. There is no split, so the split is seeded
by row id. Long reports are cut by whole lines to fit the token budget. About 40 specialties exist, more than the 13 letters of the format, so an item shows its gold
specialty plus seeded distractors (item_helpers.options_with_gold).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import fit_to_budget, options_with_gold
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_delimited
from mnlu.prompts import multiple_choice
from mnlu.splits import seeded_split

QUESTION = "Which medical specialty does this medical report belong to?"
REQUIRED = ("medical_specialty", "transcription")
# A comma that stood for a line break: after a sentence end or a heading colon, before a capital or a digit.
COMMA_JOIN = re.compile(r"(?<=[.:])\s*,\s*(?=[A-Z0-9])")


def restore_line_breaks(transcription: str) -> str:
    lines = COMMA_JOIN.sub("\n", transcription.strip()).splitlines()
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


@register("mtsamples", "MTSamples medical transcriptions", ("DC",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = find_files(root, "mtsamples*.csv")
    if not files:
        raise CorpusUnavailable(root, "no mtsamples.csv here")
    for path in files:
        rows = []
        for line, row in read_delimited(path, required=REQUIRED, on_bad=ctx.bad):
            specialty, text = row["medical_specialty"].strip(), restore_line_breaks(row["transcription"])
            if not specialty or not text:
                ctx.bad(FormatError(path, "empty medical_specialty or transcription", line=line))
                continue
            rows.append((line, row.get("", "").strip() or str(line), specialty, text))
        labels = sorted({specialty for _, _, specialty, _ in rows})
        for _line, row_id, specialty, text in rows:
            key = f"{path.stem}-{row_id}"
            options = options_with_gold(labels, [specialty], key=key, seed=ctx.seed)
            lines = text.split("\n")

            def build(k: int, key: str = key, options: list[str] = options, gold: str = specialty,
                      lines: list[str] = lines) -> dict:
                return multiple_choice(f"mtsamples-{key}", QUESTION, options, options.index(gold),
                                       type_="medical specialty", text="\n".join(lines[:k]))

            yield TaskItem(seeded_split(key, ctx.seed), "DC", fit_to_budget(build, len(lines), ctx))
