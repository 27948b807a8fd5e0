"""SemEval-2024 Task 2 (NLI4CT): does a statement follow from clinical-trial reports? (DC family.)

Statement files are one JSON object keyed by UUID (`training_data/train.json`, `dev.json`, `gold_test.json`),
each value with `Type` (Single|Comparison), `Section_id`, `Primary_id`, `Secondary_id` (Comparison only),
`Statement` and `Label`. The premise is the `Section_id` lines of the primary (and secondary) trial's report
in `CT json/<NCT id>.json` (the folder name has a space). train and dev go to train, gold_test to test
(`mnlu.splits`); the unlabelled test.json / practice files are not converted. A statement whose trial report is not
present is a bad record (file, line of its key, and the missing NCT id). Premises longer than the token
budget are cut by whole lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_dirs, find_files
from mnlu.corpora.item_helpers import fit_to_budget
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import json_key_lines, read_json
from mnlu.prompts import multiple_choice
from mnlu.splits import split_of_name

LABELS = ("Entailment", "Contradiction")
SECTIONS = ("Eligibility", "Intervention", "Results", "Adverse Events")
STATEMENT_FILES = ("train.json", "dev.json", "gold_test.json")  # test.json (no labels) is not converted
QUESTION = (
    "Does the statement follow from the clinical trial report(s) below (entailment) or is it contradicted by "
    "them (contradiction)?\nStatement: {statement}"
)


class TrialReports:
    """Loads `CT json/<id>.json` on demand; remembers what it read."""

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self.cache: dict[str, dict | None] = {}

    def get(self, nct_id: str) -> dict | None:
        if nct_id not in self.cache:
            found = next((f / f"{nct_id}.json" for f in self.folders if (f / f"{nct_id}.json").is_file()), None)
            self.cache[nct_id] = read_json(found) if found else None
        return self.cache[nct_id]


def _section(report: dict, section: str) -> list[str] | None:
    lines = report.get(section)
    return lines if isinstance(lines, list) and all(isinstance(x, str) for x in lines) else None


@register("semeval2024_task2_nli4ct", "SemEval-2024 Task 2 (NLI4CT)", ("DC",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    statement_files = sorted(p for p in find_files(root, "*.json") if p.name in STATEMENT_FILES)
    folders = find_dirs(root, "CT json")
    if not statement_files or not folders:
        raise CorpusUnavailable(root, "expected statement files (train.json, dev.json, gold_test.json) and 'CT json/'")
    reports = TrialReports(folders)
    for path in statement_files:
        split = split_of_name(path.stem)
        statements = read_json(path)
        if not isinstance(statements, dict):
            raise FormatError(path, "expected one JSON object keyed by statement UUID", line=1)
        key_lines = json_key_lines(path, list(statements))
        for uuid, entry in statements.items():
            line = key_lines.get(uuid)
            if not isinstance(entry, dict) or entry.get("Label") not in LABELS:
                ctx.bad(FormatError(path, f"statement {uuid}: expected 'Label' in {list(LABELS)}", line=line))
                continue
            if entry.get("Section_id") not in SECTIONS or not isinstance(entry.get("Statement"), str):
                ctx.bad(FormatError(path, f"statement {uuid}: expected 'Section_id' in {list(SECTIONS)}", line=line))
                continue
            trials = [("Primary trial", entry.get("Primary_id"))]
            if entry.get("Type") == "Comparison":
                trials.append(("Secondary trial", entry.get("Secondary_id")))
            parts, missing = [], None
            for heading, nct_id in trials:
                report = reports.get(nct_id) if isinstance(nct_id, str) else None
                section = _section(report, entry["Section_id"]) if report else None
                if section is None:
                    missing = nct_id
                    break
                parts.append(f"{heading} ({entry['Section_id']}):\n" + "\n".join(s.rstrip() for s in section))
            if missing is not None or not parts:
                ctx.bad(FormatError(path, f"statement {uuid}: trial report {missing!r} not in 'CT json/'", line=line))
                continue
            lines = "\n\n".join(parts).split("\n")

            def build(k: int, uuid: str = uuid, entry: dict = entry, lines: list[str] = lines) -> dict:
                return multiple_choice(
                    f"nli4ct-{uuid}",
                    QUESTION.format(statement=entry["Statement"].strip()),
                    [label.lower() for label in LABELS],
                    LABELS.index(entry["Label"]),
                    type_="clinical trial inference",
                    text="\n".join(lines[:k]).strip(),
                )

            yield TaskItem(split, "DC", fit_to_budget(build, len(lines), ctx))
