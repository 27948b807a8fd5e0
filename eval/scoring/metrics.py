"""The official metrics of BLURB and BLUE, in NumPy and plain Python.

Runtime code does not depend on seqeval or scikit-learn (test-only references); the tests check every function
here against them (and scipy) on the real data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eval.scoring.paper import pearson_percent
from mnlu.formats.iob import chunks as iob_entities  # the one IOB decoder (conlleval, seqeval's default)


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def prf(tp: float, n_pred: float, n_true: float) -> PRF:
    """Precision, recall, F1 on a 0–100 scale; 0 where undefined (as scikit-learn's zero_division=0)."""
    p = 100 * tp / n_pred if n_pred else 0.0
    r = 100 * tp / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(p, r, f)


def entity_f1(
    gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]], extra_false_positives: int = 0
) -> tuple[PRF, int, int, int]:
    """Entity-level micro P/R/F1 over sentences (exact type and boundaries); `extra_false_positives` counts
    predicted entities that could not be placed in the tags. Returns (PRF, tp, n_pred, n_true)."""
    tp = n_pred = n_true = 0
    for g, p in zip(gold, pred, strict=True):
        ge, pe = set(iob_entities(g)), set(iob_entities(p))
        tp += len(ge & pe)
        n_pred += len(pe)
        n_true += len(ge)
    n_pred += extra_false_positives
    return prf(tp, n_pred, n_true), tp, n_pred, n_true


def token_macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Word-level F1 per label (token classification), averaged over `labels` (BLURB's PICO: macro over P/I/O,
    the `O` class left out)."""
    scores = []
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p == lab)
        n_pred = sum(1 for p in pred if p == lab)
        n_true = sum(1 for g in gold if g == lab)
        scores.append(prf(tp, n_pred, n_true).f1)
    return sum(scores) / len(scores)


def micro_f1(gold: Sequence[str], pred: Sequence[str], positives: Sequence[str]) -> PRF:
    """Relation extraction: micro F1 over the positive classes; a prediction outside them (the negative class,
    an unparsed output) only costs recall. Equals scikit-learn's f1_score(labels=positives, average='micro')."""
    pos = set(positives)
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p and g in pos)
    return prf(tp, sum(p in pos for p in pred), sum(g in pos for g in gold))


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Mean per-class F1 over `labels` (BLUE's DDI: the four interaction types)."""
    total = 0.0
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p == lab)
        total += prf(tp, sum(p == lab for p in pred), sum(g == lab for g in gold)).f1
    return total / len(labels)


def pooled_micro_f1(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> PRF:
    """Multi-label micro F1 pooled over documents × labels (BLURB's HoC)."""
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    return prf(tp, sum(len(p) for p in pred), sum(len(g) for g in gold))


def example_based_f1(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> PRF:
    """BLUE's HoC figure (`eval_hoc.get_p_r_f_arrary`): mean per-document precision (0 for an empty prediction)
    and recall, then F1 of the two means. Every BLUE test abstract has a label."""
    precisions, recalls = [], []
    for g, p in zip(gold, pred, strict=True):
        tt = len(g & p)
        precisions.append(tt / len(p) if p else 0.0)
        recalls.append(tt / len(g) if g else 0.0)
    mp = 100 * sum(precisions) / len(precisions) if precisions else 0.0
    mr = 100 * sum(recalls) / len(recalls) if recalls else 0.0
    return PRF(mp, mr, 2 * mp * mr / (mp + mr) if mp + mr else 0.0)


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return 100 * sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0


def pearson(gold: Sequence[float], pred: Sequence[float]) -> float:
    """100 × Pearson r; NaN where undefined (constant predictions)."""
    return pearson_percent(gold, pred)


def label_counts(labels: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(labels).items()))


def is_nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
