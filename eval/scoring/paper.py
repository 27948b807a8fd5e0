"""The paper's released scorer (uw-bionlp/BioMistral-NLU `evaluation.py`), reproduced rule for rule.

Why a reimplementation: the released file imports vLLM and torch at module level and writes CSVs into fixed
folders; we need the same numbers as a library call. Every rule below is the released code's behaviour, including
its quirks (design.md §3), so that our paper-style figures are comparable with the paper's:

- Spans (`events`): the answer is split into lines when the reference has several; when the numbers of lines
  differ, each prediction line is moved to the first reference line whose text starts with the predicted type
  (a later line of the same type overwrites an earlier one), otherwise lines are paired by position. A line is
  `Type: a...b`; `None` means no span; more than 20 spans are de-duplicated. Spans match by case-insensitive exact
  string (after removing `{`), each reference span used once. Counts are kept per reference type.
- PICO: as spans, but every span is split into words and words match case-sensitively.
- Single-label choice: the option of the first `(X)` marker in letter order (A before B whatever their positions);
  no marker means the first option. Counts are kept per (type, option).
- Multi-label choice (`MultiQA`): every option whose marker appears. NLI/QA: the reference, lower-cased, contained
  in the lower-cased output (accuracy). STS: 100 × Pearson r over the options' integers chosen as above.
- The overall figure is micro P/R/F1 summed over the rows whose reference count is > 0 and whose key does not
  name a negative class (`,no,`, `,not mentioned,`, `not related to`, `cannot be`, `can not be`, `none,`).

The answer format is read with `mnlu.prompts` (its one home: type lines, spans, `(X)` markers); what the released
code does differently is named here (`RELEASED_SPAN_SPLIT`, `MAX_SPANS_IN_ORDER`, `_released_type`,
`_released_label`, `_released_error_text`, the first-option fallback in `read_options`).

One deviation, where the released code would crash instead of scoring: a reference span line without a colon and
a type key with more than two commas (the released code assigns into a str); we use the record type and replace
the first comma with `_` as the code intends. Malformed outputs are scored (as the rules above say) and counted in
`unparsed`, never raised.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnlu.prompts import (
    NONE_ANSWER,
    is_empty_answer,
    parse_choice,
    parse_multi_choice,
    split_spans,
    split_type_line,
)

# The released code splits a span value at every `...` (a span ending in `.` loses its period to the next one),
# where the format's own parser keeps the dots on the left (mnlu.prompts.split_spans).
RELEASED_SPAN_SPLIT = {"dots_stay_left": False}
MAX_SPANS_IN_ORDER = 20  # more spans than this on one line are de-duplicated (the released code's set())
EXCLUDE_ROWS = (",no,", ",not mentioned,", "not related to", "cannot be", "can not be", "none,")


@dataclass
class PaperScore:
    """A paper-style figure (0–100), its count table and per-record errors."""

    score: float
    precision: float
    recall: float
    n: int
    unparsed: int
    rows: dict[str, list[int]] = field(default_factory=dict)  # key -> [n_true, n_pred, true_pos]
    errors: list[dict[str, Any]] = field(default_factory=list)  # prompt_id, FP, FN


# ------------------------------------------------------------------------------------------------ helpers


def _released_type(name: str) -> str:
    """The released code's type normalisation: ` - ` and `-` become `,` (its row keys are comma-separated)."""
    return name.replace(" - ", ",").replace("-", ",")


def read_events(span: str) -> tuple[list[str], str | None]:
    """`Type: a...b` → ([a, b], normalised type); no colon → ([], None), as `read_events` does."""
    parts = split_type_line(span)
    if parts is None:
        return [], None
    result = split_spans(parts[1], **RELEASED_SPAN_SPLIT)
    if len(result) > MAX_SPANS_IN_ORDER:
        result = sorted(set(result))  # the paper's set(): order is irrelevant to the counts
    return result, _released_type(parts[0].strip())


def _span_equal(a: str, b: str) -> bool:
    """`check_span_overlap(by_overlap=False)`: its `replace('', '}')` interleaves a character, so the test is
    equality after dropping `{`."""
    return a.replace("{", "") == b.replace("{", "")


def _commas_to_underscore(key: str, max_commas: int) -> str:
    while key.count(",") > max_commas:
        i = key.index(",")
        key = key[:i] + "_" + key[i + 1 :]
    return key


def _event_key(trigger: str) -> str:
    key = f"{trigger},trigger,span" if "," not in trigger else trigger
    key = key.replace(" - ", ",").replace("-", ",")
    return _commas_to_underscore(key, 2)


def _add(rows: dict[str, list[int]], key: str, i: int, n: int = 1) -> None:
    rows.setdefault(key, [0, 0, 0])[i] += n


def _has_type_line(output: str) -> bool:
    return any(split_type_line(line) is not None for line in output.splitlines())


# ------------------------------------------------------------------------------------------------- spans


def _score_span_line(rows, reference: str, prediction: str, record_type: str, pico: bool, fp: list, fn: list):
    ref, trigger = read_events(reference)
    pred, _ = read_events(prediction)
    trigger = trigger if trigger is not None else _released_type(record_type)
    key = _event_key(trigger)
    if pico:
        ref = [w.strip() for r in ref for w in r.split() if w.strip()]
        pred = [w.strip() for p in pred for w in p.split() if w.strip()]
    _add(rows, key, 0, len(ref))
    _add(rows, key, 1, len(pred))
    remaining: list[str | None] = list(ref)
    for p in pred:
        for i, r in enumerate(remaining):
            if r and (r == p if pico else _span_equal(p.lower(), r.lower())):
                _add(rows, key, 2)
                remaining[i] = None
                break
        else:
            fp.append((trigger, p))
    fn.extend((trigger, r) for r in remaining if r is not None)


def _score_spans(rows, rec: Mapping[str, Any], fp: list, fn: list) -> None:
    pico = rec["task"] == "PICO"
    reference, prediction = rec["reference"], rec["prediction"]
    if "\n" not in reference:
        _score_span_line(rows, reference, prediction, rec["type"], pico, fp, fn)
        return
    refs = [line.strip() for line in reference.split("\n") if line.strip()]
    preds = [line.strip() for line in prediction.split("\n") if line.strip()]
    if len(refs) != len(preds):
        moved = [NONE_ANSWER] * len(refs)  # a type the prediction lacks scores as no span
        for line in copy.copy(preds):
            parts = split_type_line(line)
            if parts is not None:
                entity_type = parts[0]
                for i, r in enumerate(refs):
                    if r[: len(entity_type)] == entity_type:
                        moved[i] = line
                        break
        preds = moved
    for r, p in zip(refs, preds, strict=True):
        _score_span_line(rows, r, p, rec["type"], pico, fp, fn)


# ------------------------------------------------------------------------------------------------ choices


def _released_label(option: str) -> str:
    """The released code's option label: commas become `-` (row keys), one i2b2 label is renamed."""
    return option.replace(",", "-").replace("associated_with_someone_else", "not_patient")


def read_options(options: Sequence[str], output: str) -> tuple[str, bool]:
    """The option named by the first marker in letter order, and whether one was found; the released code takes
    the first option when there is none."""
    i = parse_choice(output, options)
    return _released_label(options[0 if i is None else i]), i is not None


def _choice_type(record_type: str) -> str:
    return _commas_to_underscore(record_type.replace(" - ", ",").replace("-", ","), 1)


def _score_choice(rows, rec: Mapping[str, Any]) -> tuple[bool, Any, Any]:
    options = rec["options"].split("[SEP]")
    ref, _ = read_options(options, rec["reference"])
    pred, found = read_options(options, rec["prediction"])
    t = _choice_type(rec["type"])
    fp = fn = None
    ref_key = f"{t},{ref}" if ref else ""
    if ref:
        ref_key += ",-" if ref_key.count(",") == 1 else ""
        _add(rows, ref_key, 0)
    if pred:
        pred_key = f"{t},{pred}"
        pred_key += ",-" if pred_key.count(",") == 1 else ""
        _add(rows, pred_key, 1)
        if pred_key == ref_key:
            _add(rows, ref_key, 2)
        else:
            fp, fn = pred, ref
    return found, fp, fn


def _score_multi(rows, rec: Mapping[str, Any]) -> tuple[bool, Any, Any]:
    options = rec["options"].split("[SEP]")
    ref = [options[i] for i in parse_multi_choice(rec["reference"], options)]
    pred = [options[i] for i in parse_multi_choice(rec["prediction"], options)]
    for op in ref:
        _add(rows, op, 0)
        if op in pred:
            _add(rows, op, 2)
    for op in pred:
        _add(rows, op, 1)
    # An empty answer is a valid "no label"; text without any marker is not.
    parsed = bool(pred) or is_empty_answer(rec["prediction"])
    return parsed, (pred if pred != ref else None), (ref if pred != ref else None)


def _score_accuracy(rows, rec: Mapping[str, Any]) -> tuple[bool, Any, Any]:
    key = "classification,,"
    _add(rows, key, 0)
    _add(rows, key, 1)
    options = rec["options"].split("[SEP]") if rec["options"] else []
    parsed = bool(parse_multi_choice(rec["prediction"], options))
    if rec["reference"].strip().lower() in rec["prediction"].strip().lower():
        _add(rows, key, 2)
        return parsed, None, None
    return parsed, _released_error_text(rec["prediction"]), _released_error_text(rec["reference"])


def _released_error_text(answer: str) -> str:
    """The released code's error text: the answer without its first three characters (`(X) `, whatever they are)."""
    return answer[3:].strip()


# -------------------------------------------------------------------------------------------------- totals


def _excluded(key: str) -> bool:
    k = key.lower() + ","
    return any(r in k for r in EXCLUDE_ROWS)


def overall(rows: Mapping[str, Sequence[int]]) -> tuple[float, float, float]:
    """`write_scores`' Overall row: micro P, R, F1 (0–100) over kept rows."""
    nt = npred = tp = 0
    for k, v in rows.items():
        if not _excluded(k) and v[0] > 0:
            nt, npred, tp = nt + v[0], npred + v[1], tp + v[2]
    p = tp * 100 / npred if npred else 0.0
    r = tp * 100 / nt if nt else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def pearson_percent(x: Sequence[float], y: Sequence[float]) -> float:
    """100 × Pearson r; NaN when either side is constant (undefined)."""
    if len(x) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if np.all(a == a[0]) or np.all(b == b[0]):
            return math.nan
        return float(np.corrcoef(a, b)[0, 1] * 100)


def _score_sts(records: Sequence[Mapping[str, Any]]) -> PaperScore:
    refs, preds, errors, unparsed = [], [], [], 0
    for rec in records:
        options = rec["options"].split("[SEP]")
        r, _ = read_options(options, rec["reference"])
        p, found = read_options(options, rec["prediction"])
        unparsed += not found
        refs.append(int(r))
        preds.append(int(p))
        if p != r:
            errors.append({"prompt_id": rec["prompt_id"], "FP": p, "FN": r})
    score = pearson_percent(refs, preds)
    return PaperScore(score, math.nan, math.nan, len(records), unparsed, {}, errors)


def score_paper(records: Iterable[Mapping[str, Any]]) -> PaperScore:
    """Score prediction records (`prompt_id`, `reference`, `prediction`, `task`, `type`, `options`) of one
    dataset the way `evaluate_task` does: STS when the first record is STS, else per-record dispatch on `task`."""
    records = list(records)
    if records and records[0]["task"] == "STS":
        return _score_sts(records)
    rows: dict[str, list[int]] = {}
    errors: list[dict[str, Any]] = []
    unparsed = 0
    for rec in records:
        task = rec["task"]
        if task in ("events", "PICO"):
            fp: list = []
            fn: list = []
            _score_spans(rows, rec, fp, fn)
            unparsed += not _has_type_line(rec["prediction"])
            err_fp, err_fn = fp or None, fn or None
        elif task in ("QA", "NLI"):
            parsed, err_fp, err_fn = _score_accuracy(rows, rec)
            unparsed += not parsed
        elif task == "MultiQA":
            parsed, err_fp, err_fn = _score_multi(rows, rec)
            unparsed += not parsed
        elif task == "STS":
            continue  # the released scorer skips STS rows mixed into another task's file
        else:
            parsed, err_fp, err_fn = _score_choice(rows, rec)
            unparsed += not parsed
        if err_fp or err_fn:
            errors.append({"prompt_id": rec["prompt_id"], "FP": err_fp, "FN": err_fn})
    p, r, f = overall(rows)
    return PaperScore(f, p, r, len(records), unparsed, rows, errors)
