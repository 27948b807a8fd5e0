"""n2c2 2018 track 1, cohort selection (FORMATS.md §21): one met / not-met choice item per criterion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mnlu.corpora._clinical import Doc, choice_items, present_archives, progress
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.formats.i2b2_xml import read_standoff_xml

CORPUS = "n2c2_2018_cohort"
ARCHIVES = (("train", ("train.zip",)), ("test", ("n2c2-t1_gold_standard_test_data.zip",)))
# The 13 criteria and what each means (n2c2 2018 track 1 guidelines).
CRITERIA = {
    "ABDOMINAL": "history of intra-abdominal surgery, small or large intestine resection, or small bowel obstruction",
    "ADVANCED-CAD": "advanced cardiovascular disease: two or more of taking two or more medications to treat CAD, "
                    "history of myocardial infarction, currently experiencing angina, ischemia past or present",
    "ALCOHOL-ABUSE": "current alcohol use over weekly recommended limits",
    "ASP-FOR-MI": "use of aspirin to prevent myocardial infarction",
    "CREATININE": "serum creatinine above the upper limit of normal",
    "DIETSUPP-2MOS": "taken a dietary supplement (excluding vitamin D) in the past 2 months",
    "DRUG-ABUSE": "drug abuse, current or past",
    "ENGLISH": "the patient speaks English",
    "HBA1C": "any haemoglobin A1c (HbA1c) value between 6.5% and 9.5%",
    "KETO-1YR": "diagnosis of ketoacidosis in the past year",
    "MAJOR-DIABETES": "major diabetes-related complication (amputation, kidney damage, skin conditions, "
                      "retinopathy, nephropathy or neuropathy)",
    "MAKES-DECISIONS": "the patient makes their own medical decisions",
    "MI-6MOS": "myocardial infarction in the past 6 months",
}
OPTIONS = ("met", "not met")


def question(criterion: str) -> str:
    return (f"Clinical trial criterion {criterion}: {CRITERIA[criterion]}. Based on the patient's records, "
            "is this criterion met?")


@register(CORPUS, "n2c2 2018 Cohort selection (track 1)", ("DC",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    for split, archive in present_archives(root, ARCHIVES, CORPUS):
        members = [m for m in iter_members(archive) if m.basename.lower().endswith(".xml")]
        for member in progress(members, CORPUS, split):
            where = member.where
            try:
                doc = read_standoff_xml(decode_text(member.data, where), where)
                if doc.root != "PatientMatching":
                    raise FormatError(where, f"root element <{doc.root}>; expected <PatientMatching>", line=1)
            except FormatError as e:
                ctx.bad(e)
                continue
            found: dict[str, str] = {}
            for tag in doc.tags:
                met = tag.attrs.get("met", "").strip().lower()
                if tag.name not in CRITERIA or met not in OPTIONS or tag.name in found:
                    ctx.bad(FormatError(where, f"<{tag.name} met={met!r}>: expected one tag per criterion in "
                                               f"{list(CRITERIA)} with met in {list(OPTIONS)}", line=tag.line))
                    continue
                found[tag.name] = met
            for missing in sorted(set(CRITERIA) - set(found)):
                ctx.bad(FormatError(where, f"criterion {missing} has no tag in <TAGS>"))
            questions = [(question(c), OPTIONS, OPTIONS.index(found[c]), c) for c in CRITERIA if c in found]
            d = Doc(CORPUS, split, PurePosixPath(member.name).stem, where)
            yield from choice_items(d, doc.text.strip("\n"), questions, ctx)
