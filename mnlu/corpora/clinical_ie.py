"""ClinicalIE (Agrawal et al. 2022; gated HF `mitclinicalml/clinical-ie`): medication attributes and status.

Two configs are used, as two item sets in the events family (the paper's ClinicalIE_medication_attr and
ClinicalIE_medication_status); a file belongs to the config named in its path (`medication_attr`,
`medication_status`), in CSV, JSON Lines, JSON or Parquet:
- `medication_status`: `snippet` and three lists `active_medications`, `discontinued_medications`,
  `neither_medications`, stored as bracketed comma-separated strings (`[Kadian, Levaquin]`) or JSON lists;
- `medication_attr`: `snippet` and `annotations`, a stringified Python list of `[start, end, "<Type><k>"]`
  (0-based, end-exclusive character offsets into the snippet; Type ∈ Medication, Dosage, Route, Frequency,
  Duration, Reason; the digit k ties an attribute to medication k), parsed with `ast.literal_eval`.
Items: span extraction of the six attribute types, one argument-extraction item per medication group (the
medication is the trigger), and span extraction of the three statuses. The corpus has only validation (5)
and test (100) snippets per config: validation goes to train and test to test (`mnlu.splits`); a file whose
name says neither gets a seeded split by a hash of the snippet.
An annotation whose offsets fall outside its snippet is a bad record naming the file, line and offset.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.formats.tabular import read_records
from mnlu.prompts import SpanType, span_extraction, span_instruction
from mnlu.splits import seeded_split, split_of_name

ATTR_TYPES = (
    SpanType("Medication", "a medication name"),
    SpanType("Dosage", "the amount of a medication taken at once"),
    SpanType("Route", "how a medication is given"),
    SpanType("Frequency", "how often a medication is taken"),
    SpanType("Duration", "for how long a medication is taken"),
    SpanType("Reason", "why a medication is given"),
)
ARGUMENT_TYPES = ATTR_TYPES[1:]
STATUS_TYPES = (
    SpanType("Active", "medications the patient is currently taking"),
    SpanType("Discontinued", "medications the patient has stopped taking"),
    SpanType("Neither", "medications mentioned that are neither active nor discontinued"),
)
STATUS_FIELDS = {"Active": "active_medications", "Discontinued": "discontinued_medications",
                 "Neither": "neither_medications"}
ANNOTATION_TYPE = re.compile(r"^(Medication|Dosage|Route|Frequency|Duration|Reason)(\d*)$")
CONFIGS = ("medication_attr", "medication_status")
SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


def parse_name_list(value: Any) -> list[str] | None:
    """`[Kadian, Levaquin]` / `[]` / a JSON list → names; None when it is neither."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()] if all(isinstance(v, str) for v in value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    inner = text[1:-1].strip()
    if inner.startswith(("'", '"')):
        try:
            parsed = ast.literal_eval(text)
            return [str(v).strip() for v in parsed if str(v).strip()]
        except (ValueError, SyntaxError):
            return None
    return [name.strip() for name in inner.split(",") if name.strip()]


def parse_annotations(value: Any) -> list[tuple[int, int, str, str]] | None:
    """(start, end, type, group) per annotation; None when the field does not have that shape."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return None
    if not isinstance(value, list | tuple):
        return None
    out = []
    for entry in value:
        if not (isinstance(entry, list | tuple) and len(entry) == 3):
            return None
        start, end, label = entry
        match = ANNOTATION_TYPE.match(label) if isinstance(label, str) else None
        if not (isinstance(start, int) and isinstance(end, int) and match):
            return None
        out.append((start, end, match.group(1), match.group(2)))
    return out


def _text_order(snippet: str, names: list[str]) -> list[str]:
    lowered = snippet.lower()
    positions = [(lowered.find(n.lower()), i) for i, n in enumerate(names)]
    order = sorted(positions, key=lambda p: (p[0] < 0, p[0] if p[0] >= 0 else 0, p[1]))
    return [names[i] for _, i in order]


def _rows(path: Path, ctx: ConvertContext) -> Iterator[tuple[int, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # only for the Parquet export of the HF dataset

        yield from enumerate(pq.read_table(path).to_pylist(), start=1)
    else:
        yield from read_records(path, on_bad=ctx.bad)


def _status_items(path: Path, line: int, row: dict, snippet: str, key: str, ctx: ConvertContext):
    spans: dict[str, list[str]] = {}
    for name, field in STATUS_FIELDS.items():
        names = parse_name_list(row.get(field))
        if names is None:
            ctx.bad(FormatError(path, f"{field!r} must be a bracketed list such as [a, b]", line=line))
            return
        spans[name] = _text_order(snippet, names)
    record = span_extraction(f"clinical_ie-status-{key}", snippet, STATUS_TYPES, spans,
                             type_="medication status", what="medications by status")
    yield record


def _attr_items(path: Path, line: int, row: dict, snippet: str, key: str, ctx: ConvertContext):
    annotations = parse_annotations(row.get("annotations"))
    if annotations is None:
        ctx.bad(FormatError(path, "'annotations' must be a list of [start, end, '<Type><k>']", line=line))
        return
    for start, end, _type, _group in annotations:
        if not 0 <= start < end <= len(snippet):
            ctx.bad(OffsetMismatch(path, f"span [{start}, {end}) outside the snippet (length {len(snippet)})",
                                   line=line, offset=start))
            return
    annotations = sorted(annotations, key=lambda a: (a[0], a[1]))
    spans: dict[str, list[str]] = {}
    for start, end, type_, _group in annotations:
        spans.setdefault(type_, []).append(snippet[start:end])
    yield span_extraction(f"clinical_ie-attr-{key}", snippet, ATTR_TYPES, spans,
                          type_="medication attributes", what="medication attributes")
    groups = sorted({g for _, _, t, g in annotations if t == "Medication" and g})
    for group in groups:
        trigger = next(snippet[s:e] for s, e, t, g in annotations if t == "Medication" and g == group)
        arguments: dict[str, list[str]] = {}
        for start, end, type_, g in annotations:
            if g == group and type_ != "Medication":
                arguments.setdefault(type_, []).append(snippet[start:end])
        header = (f"Extract the attributes of the medication '{trigger}' (the event trigger) from the medical "
                  "text, in the order they appear.")
        instruction = span_instruction(ARGUMENT_TYPES, header=header)
        yield span_extraction(f"clinical_ie-attr-{key}-med{group}", snippet, ARGUMENT_TYPES, arguments,
                              type_="medication attribute arguments", instruction=instruction)


@register("clinical_ie", "ClinicalIE (medication attributes and status)", ("events",), "G")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = sorted(p for p in find_files(root, "*") if p.suffix in SUFFIXES
                   and any(c in str(p.relative_to(root)) for c in CONFIGS))
    if not files:
        raise CorpusUnavailable(root, "no medication_attr / medication_status data files (csv, jsonl, json or "
                                      "parquet) here; the HF dataset mitclinicalml/clinical-ie is gated")
    for path in files:
        config = next(c for c in CONFIGS if c in str(path.relative_to(root)))
        file_split = split_of_name(path.stem)
        for line, row in _rows(path, ctx):
            if not isinstance(row, dict) or not isinstance(row.get("snippet"), str) or not row["snippet"].strip():
                ctx.bad(FormatError(path, "expected a record with a non-empty 'snippet'", line=line))
                continue
            snippet = row["snippet"]
            digest = hashlib.sha1(snippet.encode()).hexdigest()[:16]
            key = f"{path.stem}-{line}"
            make = _attr_items if config == "medication_attr" else _status_items
            for record in make(path, line, row, snippet, key, ctx):
                yield TaskItem(file_split or seeded_split(digest, ctx.seed), "events", record)


