"""i2b2 2006 smoking status (FORMATS.md §19): one choice item per discharge summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._clinical import Doc, choice_items, report_unknown_label
from mnlu.corpora.i2b2_2006_deid import inline_records, strip_report_end
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError

CORPUS = "i2b2_2006_smoking"
ARCHIVES = (
    ("train", ("smokers_surrogate_train_all_version2.zip",)),
    ("test", ("smokers_surrogate_test_all_groundtruth_version2.zip",)),
)
STATUSES = ("CURRENT SMOKER", "PAST SMOKER", "SMOKER", "NON-SMOKER", "UNKNOWN")
OPTIONS = ("current smoker", "past smoker", "smoker (current or past unknown)", "non-smoker",
           "unknown (not mentioned)")
QUESTION = "What is the patient's smoking status according to the discharge summary?"
TYPE = "smoking status"


@register(CORPUS, "i2b2 2006 Smoking status", ("DC",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for split, where, rec in inline_records(root, ARCHIVES, CORPUS, ctx):
        smoking = [t for t in rec.tags if t.name == "SMOKING"]
        if len(smoking) != 1 or "STATUS" not in smoking[0].attrs:
            ctx.bad(FormatError(where, f"record {rec.record_id}: expected one <SMOKING STATUS=..>, "
                                       f"found {len(smoking)}", line=rec.line))
            continue
        status = smoking[0].attrs["STATUS"].strip().upper()
        if status not in STATUSES:
            report_unknown_label(ctx, where, smoking[0].line, status, STATUSES)
            continue
        yield from choice_items(Doc(CORPUS, split, rec.record_id, where), strip_report_end(rec.text),
                                [(QUESTION, OPTIONS, STATUSES.index(status), TYPE)], ctx)
