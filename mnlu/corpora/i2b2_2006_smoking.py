"""i2b2 2006 smoking status (FORMATS.md §19): one choice item per discharge summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._clinical import Doc, choice_items, present_archives, progress, report_unknown_label
from mnlu.corpora.i2b2_2006_deid import strip_report_end
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.formats.i2b2_xml import iter_inline_records

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
    for split, archive in present_archives(root, ARCHIVES, CORPUS):
        for member in iter_members(archive):
            if not member.basename.lower().endswith(".xml"):
                continue
            data = decode_text(member.data, member.where)
            for rec in progress(iter_inline_records(data, member.where, report=ctx.bad), CORPUS, split):
                smoking = [t for t in rec.tags if t.name == "SMOKING"]
                if len(smoking) != 1 or "STATUS" not in smoking[0].attrs:
                    ctx.bad(FormatError(member.where, f"record {rec.record_id}: expected one <SMOKING STATUS=..>, "
                                                      f"found {len(smoking)}", line=rec.line))
                    continue
                status = smoking[0].attrs["STATUS"].strip().upper()
                if status not in STATUSES:
                    report_unknown_label(ctx, member.where, smoking[0].line, status, STATUSES)
                    continue
                doc = Doc(CORPUS, split, rec.record_id, member.where)
                yield from choice_items(doc, strip_report_end(rec.text),
                                        [(QUESTION, OPTIONS, STATUSES.index(status), TYPE)], ctx)
