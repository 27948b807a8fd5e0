"""PICO-data (Nguyen et al. 2017): Participants spans in RCT abstracts (the only PICO element of this release).

Native layout: `docs/<PMID>.txt` (title, blank line, abstract) and
`annotations/{train,dev,test,acl17-test}/PICO-annos-{crowdsourcing-agg,professional}.json`, JSON Lines of
`{"Participants": {<annotator>: [[start, end], ...]}, "docid": ...}` with 0-based end-exclusive character offsets
into the doc text. Labels used: the expert (`MedicalStudent`) labels of acl17-test where a document has them, else
the `HMMCrowd` aggregation (the paper's proposed aggregate). train and dev → train; test and acl17-test → test
(`mnlu.splits`). Each span is trimmed of surrounding whitespace (and trailing .,;:) and must lie inside the text
(else `OffsetMismatch`, document skipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import PICO, doc_ner_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.formats.tabular import read_jsonl
from mnlu.splits import split_of_name

CORPUS = "pico_data_nguyen2017"
TYPES = {"Participants": "the patients or population studied (condition, age, sex, sample size)"}
EXPERT, CROWD = "MedicalStudent", "HMMCrowd"
# Trailing punctuation is trimmed too: a span ending in "." would run into the "..." that joins answer spans.
TRIM = ".,;:"


def _labels(root: Path, ctx: ConvertContext) -> dict[str, tuple[str, Path, int, list]]:
    """docid → (split, file, line, spans), expert labels overriding crowd ones."""
    chosen: dict[str, tuple[str, Path, int, list]] = {}
    for kind, annotator in (("crowdsourcing-agg", CROWD), ("professional", EXPERT)):
        for path in find_files(root, f"PICO-annos-{kind}.json"):
            split = split_of_name(path.parent.name)
            if split is None:
                continue
            for line, row in read_jsonl(path, on_bad=ctx.bad):
                docid = str(row.get("docid", "")).strip()
                spans = (row.get("Participants") or {}).get(annotator, [])
                if not docid.isdigit() or not isinstance(spans, list):
                    ctx.bad(FormatError(path, f"expected 'docid' and Participants.{annotator} as a list", line=line))
                    continue
                chosen[docid] = (split, path, line, spans)
    return chosen


@register(CORPUS, "PICO-data (Nguyen et al. 2017)", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    docs = root / "docs"
    labels = _labels(root, ctx)
    if not labels or not docs.is_dir():
        raise CorpusUnavailable(root, "expected annotations/*/PICO-annos-*.json and docs/<PMID>.txt")
    for docid in sorted(labels, key=lambda d: (len(d), d)):
        split, path, line, raw = labels[docid]
        doc = docs / f"{docid}.txt"
        if not doc.exists():
            ctx.bad(FormatError(path, f"document {docid}: no {doc.name} in docs/", line=line))
            continue
        text = read_text_file(doc)
        mentions, errors = [], []
        for span in raw:
            ok = (isinstance(span, list) and len(span) == 2 and all(type(x) is int for x in span)
                  and 0 <= span[0] < span[1] <= len(text))
            if not ok:
                errors.append(OffsetMismatch(path, f"document {docid}: span {str(span)[:30]} is not [start, end] "
                                             f"inside the text ({len(text)} characters)", line=line))
                ctx.bad(errors[-1])
                continue
            s, e = span
            while s < e and text[s].isspace():
                s += 1
            while e > s and (text[e - 1].isspace() or text[e - 1] in TRIM):
                e -= 1
            if e > s:
                mentions.append((s, e, "Participants"))
        yield from doc_ner_items(ctx, CORPUS, split, doc, docid, text, mentions, TYPES, errors, **PICO)
