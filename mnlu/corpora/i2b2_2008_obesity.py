"""i2b2 2008 obesity and comorbidities (FORMATS.md §20): per disease, the textual and the intuitive judgment of
each discharge summary as choice items. The files are plain XML (not archived); addenda add or correct
judgments, so judgments are merged by (source, disease, document) with later files winning."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._clinical import Doc, choice_items, progress, report_unknown_label
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_xml import Judgment, read_obesity_judgments, read_obesity_records

log = logging.getLogger(__name__)

CORPUS = "i2b2_2008_obesity"
SPLITS = {
    "train": (
        ("obesity_patient_records_training.xml", "obesity_patient_records_training2.xml"),
        ("obesity_standoff_annotations_training.xml", "obesity_standoff_annotations_training_addendum.xml",
         "obesity_standoff_annotations_training_addendum2.xml", "obesity_standoff_annotations_training_addendum3.xml"),
    ),
    "test": (("obesity_patient_records_test.xml",), ("obesity_standoff_annotations_test.xml",)),
}
DISEASES = {
    "Obesity": "obesity", "Asthma": "asthma", "CAD": "coronary artery disease (CAD)",
    "CHF": "congestive heart failure (CHF)", "Depression": "depression", "Diabetes": "diabetes mellitus",
    "Gallstones": "gallstones or cholecystectomy", "GERD": "gastroesophageal reflux disease (GERD)", "Gout": "gout",
    "Hypercholesterolemia": "hypercholesterolemia", "Hypertension": "hypertension",
    "Hypertriglyceridemia": "hypertriglyceridemia", "OA": "osteoarthritis (OA)",
    "OSA": "obstructive sleep apnea (OSA)", "PVD": "peripheral vascular disease (PVD)",
    "Venous Insufficiency": "venous insufficiency",
}
JUDGMENTS = {"Y": "present", "N": "absent", "Q": "questionable", "U": "not mentioned"}
OPTIONS = {"textual": ("present", "absent", "questionable", "not mentioned"),
           "intuitive": ("present", "absent", "questionable")}
SOURCES = ("textual", "intuitive")


def question(disease: str, source: str) -> str:
    words = DISEASES[disease]
    if source == "textual":
        return f"Going only by what the discharge summary states explicitly, does the patient have {words}?"
    return f"Judging from the whole discharge summary, including implicit evidence, does the patient have {words}?"


def _present(root: Path, names: tuple[str, ...]) -> list[Path]:
    return [root / n for n in names if (root / n).is_file()]


@register(CORPUS, "i2b2 2008 Obesity and comorbidities", ("DC",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    root = Path(root)
    found = {split: (_present(root, recs), _present(root, anns)) for split, (recs, anns) in SPLITS.items()}
    if not any(r and a for r, a in found.values()):
        from mnlu.corpora.availability import CorpusUnavailable

        raise CorpusUnavailable(root, f"{CORPUS}: needs the record and annotation XML files of a split "
                                      f"({SPLITS['train'][0][0]}, {SPLITS['train'][1][0]}, ...) from the n2c2 portal")
    for split, (record_files, annotation_files) in found.items():
        if not (record_files and annotation_files):
            log.warning("%s: %s: the %s records or annotations are missing; split skipped", root, CORPUS, split)
            continue
        merged: dict[tuple[str, str, str], Judgment] = {}
        for path in annotation_files:
            for j in read_obesity_judgments(path.read_bytes(), str(path), report=ctx.bad):
                if j.disease not in DISEASES:
                    report_unknown_label(ctx, str(path), j.line, j.disease, list(DISEASES))
                    continue
                merged[(j.source, j.disease, j.doc_id)] = j
        by_doc: dict[str, dict[tuple[str, str], str]] = {}
        for (source, disease, doc_id), j in merged.items():
            by_doc.setdefault(doc_id, {})[(disease, source)] = j.judgment
        records: dict[str, tuple[str, int, str]] = {}
        for path in record_files:
            for doc_id, (text, line) in read_obesity_records(path.read_bytes(), str(path)).items():
                records[doc_id] = (text, line, str(path))
        for doc_id in sorted(set(by_doc) - set(records), key=_doc_order):
            ctx.bad(FormatError(annotation_files[0], f"judgments for document {doc_id}, which no record file has"))
        for doc_id in progress(sorted(set(by_doc) & set(records), key=_doc_order), CORPUS, split):
            text, _line, where = records[doc_id]
            judged = by_doc[doc_id]
            questions = [
                (question(d, s), OPTIONS[s], OPTIONS[s].index(JUDGMENTS[judged[(d, s)]]), f"{d} - {s}")
                for d in DISEASES for s in SOURCES if (d, s) in judged
            ]
            yield from choice_items(Doc(CORPUS, split, doc_id, where), text.strip("\n"), questions, ctx)


def _doc_order(doc_id: str) -> tuple[int, str]:
    return (int(doc_id), doc_id) if doc_id.isdigit() else (1 << 62, doc_id)
