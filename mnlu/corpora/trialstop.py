"""TrialStop / "Why clinical trials stop" (HF `opentargets/clinical_trial_reason_to_stop`; MNLU `Reason2StopQA`).

Free-text reasons why a trial stopped early (from ClinicalTrials.gov), each with one or more of 17 classes.
The release is `data.json` (JSON Lines "with label descriptions"); older releases carry one 0/1 column per
class. Both are read: a record has `text` and either a list of class names (`label_descriptions`, `labels` or
`label`) or a 0/1 field per class. Class names are matched ignoring case, `_`, `-` and spaces;
`Unclassified` is not a class and a record left without a class is skipped. Multi-label choice; 17 classes
exceed the 13 letters, so an item shows its gold classes plus seeded distractors. No official split: a seeded
10% test split keyed by the trial id (or the text's hash when there is none).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import options_with_gold
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_records
from mnlu.prompts import multi_label_choice
from mnlu.splits import seeded_split

CLASSES = (
    "Insufficient_Enrollment", "Business_Administrative", "Negative", "Logistics_Resources", "Study_Design",
    "Invalid_Reason", "Study_Staff_Moved", "Covid19", "Another_Study", "Safety_Sideeffects", "Regulatory",
    "No_Context", "Interim_Analysis", "Endpoint_Met", "Insufficient_Data", "Ethical_Reason", "Success",
)
NOT_A_CLASS = "unclassified"
LIST_FIELDS = ("label_descriptions", "labels", "label")
ID_FIELDS = ("nct_id", "nctid", "NCT_ID", "id")
QUESTION = "Why did this clinical trial stop early, according to the reason given?"
OPTION_NAMES = tuple(c.replace("_", " ") for c in CLASSES)


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


CLASS_BY_NORM = {_norm(c): i for i, c in enumerate(CLASSES)}


def _labels(row: dict) -> list[str] | None:
    """Class names of a record, from a list field or from 0/1 class columns; None when neither is present."""
    for name in LIST_FIELDS:
        value = row.get(name)
        if isinstance(value, str):
            return [v for v in re.split(r"[,;|]", value) if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    flagged = [k for k in row if isinstance(k, str) and _norm(k) in CLASS_BY_NORM]
    if flagged:
        return [k for k in flagged if str(row[k]).strip() in ("1", "1.0", "True", "true")]
    return None


@register("trialstop", "Why clinical trials stop (Reason2StopQA)", ("DC",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = sorted(p for p in find_files(root, "*") if p.suffix in (".json", ".jsonl", ".csv"))
    if not files:
        raise CorpusUnavailable(root, "no data.json (JSON Lines), .jsonl or .csv file here")
    for path in files:
        for line, row in read_records(path, on_bad=ctx.bad):
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                ctx.bad(FormatError(path, "expected an object with a non-empty 'text'", line=line))
                continue
            names = _labels(row)
            if names is None:
                ctx.bad(FormatError(path, f"no labels: expected one of {list(LIST_FIELDS)} or 0/1 class fields",
                                    line=line))
                continue
            unknown = [n for n in names if _norm(n) not in CLASS_BY_NORM and _norm(n) != NOT_A_CLASS]
            if unknown:
                ctx.bad(FormatError(path, f"unknown class(es) {unknown}; expected {list(CLASSES)}", line=line))
                continue
            gold = sorted({CLASS_BY_NORM[_norm(n)] for n in names if _norm(n) in CLASS_BY_NORM})
            if not gold:
                continue  # unclassified
            text = " ".join(row["text"].split())
            key = next((str(row[f]) for f in ID_FIELDS if row.get(f) not in (None, "")), None)
            key = key or hashlib.sha1(text.encode()).hexdigest()[:16]
            gold_names = [OPTION_NAMES[i] for i in gold]
            options = options_with_gold(OPTION_NAMES, gold_names, key=key, seed=ctx.seed)
            record = multi_label_choice(
                f"trialstop-{path.stem}-{line}", QUESTION, options, [options.index(g) for g in gold_names],
                type_="trial stop reason", text=text,
            )
            yield TaskItem(seeded_split(key, ctx.seed), "DC", record)
