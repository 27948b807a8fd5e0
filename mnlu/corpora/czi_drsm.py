"""CZI DRSM (Disease Research State Model): which research state a rare-disease paper represents (DC family).

Distributed subsets (TSV, read by header name since BigBio's positional reading does not match the README):
- base `v1/drsm_corpus_v1.tsv`: `Correct_Label` among six states, text `TITLE` + `TRIMMED_ABSTRACT`;
- QoL `v2/qol_all_*.tsv` and NHS `v2/nhs_all_*.tsv`: `Correct_Label` quoted as `'<code> - <description>'`,
  text `Title` + `Abstract`.
Those three files are ≥ 4 MiB and absent from public copies; where the base file is missing, the converter
reads the released initial gold standard `v1/initial_gold_standard_data_*.tsv` instead (`PRIMARY_CATEGORY`
such as `1.1. CLINICAL CHARACTERISTICS OR DISEASE PATHOLOGY`, text `TITLE` + `ABSTRACT`); its papers without a
primary category are unlabelled and skipped. Label-only companions (`qol_gold_*`, `raw_data_*`) hold no text
and are not converted. There is no official split; it is seeded by PMID.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import fit_to_budget
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_delimited
from mnlu.prompts import multiple_choice
from mnlu.splits import seeded_split

BASE_LABELS = (
    "clinical characteristics or disease pathology",
    "therapeutics in the clinic",
    "disease mechanism",
    "patient-based therapeutics",
    "other",
    "irrelevant",
)
BASE_QUESTION = "Which research state of the disease does this paper represent?"
SUBSET_QUESTION = {
    "qol": "How does this paper relate to the quality of life of patients with the rare disease?",
    "nhs": "How does this paper relate to natural history studies of the rare disease?",
}
SUBSET_TYPE = {"qol": "quality of life study", "nhs": "natural history study"}
NUMBER_PREFIX = re.compile(r"^\s*\d+(\.\d+)*\.?\s*")
CODED_LABEL = re.compile(r"^(-?\d+)\s*-\s*(.+)$")
SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+")


def base_label(raw: str) -> str:
    """`1.1. CLINICAL CHARACTERISTICS OR DISEASE PATHOLOGY` / `'disease mechanism'` → the BASE_LABELS form."""
    return NUMBER_PREFIX.sub("", raw.strip().strip("'\"")).strip().lower()


def paper_text(title: str, abstract: str) -> str:
    title, abstract = title.strip(), abstract.strip()
    return abstract if abstract.startswith(title) else f"{title}\n{abstract}".strip()


def _fitted(pid: str, question: str, labels: Sequence[str], gold: int, type_: str, text: str,
            ctx: ConvertContext) -> dict:
    """The item, its abstract cut by whole sentences if the whole paper exceeds the token budget."""
    sentences = SENTENCE_END.split(text)

    def build(k: int) -> dict:
        return multiple_choice(pid, question, labels, gold, type_=type_, text=" ".join(sentences[:k]))

    return fit_to_budget(build, len(sentences), ctx)


def _column(row: dict[str, str], *names: str) -> str:
    return next((row[n] for n in names if n in row), "")


def _base(path: Path, ctx: ConvertContext, *, label_cols: tuple[str, ...], id_cols: tuple[str, ...],
          text_cols: tuple[str, ...]) -> Iterator[TaskItem]:
    for line, row in read_delimited(path, delimiter="\t", on_bad=ctx.bad):
        raw = _column(row, *label_cols)
        if not raw.strip():
            continue  # unlabelled paper
        label = base_label(raw)
        if label not in BASE_LABELS:
            ctx.bad(FormatError(path, f"label {raw.strip()!r} is not one of {list(BASE_LABELS)}", line=line))
            continue
        pmid = _column(row, *id_cols).strip() or str(line)
        text = paper_text(_column(row, "TITLE", "Title"), _column(row, *text_cols))
        if not text:
            ctx.bad(FormatError(path, "empty title and abstract", line=line))
            continue
        yield TaskItem(seeded_split(f"base-{pmid}", ctx.seed), "DC", _fitted(
            f"czi_drsm-base-{pmid}", BASE_QUESTION, BASE_LABELS, BASE_LABELS.index(label),
            "disease research state", text, ctx))


def _coded_subset(path: Path, subset: str, ctx: ConvertContext) -> Iterator[TaskItem]:
    rows = []
    for line, row in read_delimited(path, delimiter="\t", required=("PMID", "Correct_Label"), on_bad=ctx.bad):
        match = CODED_LABEL.match(row["Correct_Label"].strip().strip("'\""))
        if not match:
            ctx.bad(FormatError(path, "Correct_Label is not '<code> - <description>'", line=line))
            continue
        text = paper_text(_column(row, "Title", "TITLE"), _column(row, "Abstract", "ABSTRACT"))
        if not text:
            ctx.bad(FormatError(path, "empty title and abstract", line=line))
            continue
        rows.append((row["PMID"].strip(), int(match.group(1)), match.group(2).strip(), text))
    labels = [desc for _, desc in sorted({(code, desc) for _, code, desc, _ in rows})]
    if len(labels) > 13:
        raise FormatError(path, f"{len(labels)} distinct labels; expected a handful of coded levels")
    for pmid, _code, desc, text in rows:
        yield TaskItem(seeded_split(f"{subset}-{pmid}", ctx.seed), "DC", _fitted(
            f"czi_drsm-{subset}-{pmid}", SUBSET_QUESTION[subset], labels, labels.index(desc),
            SUBSET_TYPE[subset], text, ctx))


@register("czi_drsm", "CZI Disease Research State Model", ("DC",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    base = find_files(root, "drsm_corpus_v1*.tsv")
    gold = find_files(root, "initial_gold_standard_data_*.tsv")
    subsets = {s: find_files(root, f"{s}_all_*.tsv") for s in ("qol", "nhs")}
    if not base and not gold and not any(subsets.values()):
        raise CorpusUnavailable(
            root, "none of v1/drsm_corpus_v1.tsv, v2/qol_all_*.tsv, v2/nhs_all_*.tsv or "
            "v1/initial_gold_standard_data_*.tsv is here (label-only companion files hold no text)"
        )
    for path in base:
        yield from _base(path, ctx, label_cols=("Correct_Label",), id_cols=("Index (PMID)", "PMID", "Index"),
                         text_cols=("TRIMMED_ABSTRACT", "ABSTRACT"))
    if not base:
        for path in gold:
            yield from _base(path, ctx, label_cols=("PRIMARY_CATEGORY",), id_cols=("ID_PAPER",),
                             text_cols=("ABSTRACT", "TRIMMED_ABSTRACT"))
    for subset, paths in subsets.items():
        for path in paths:
            yield from _coded_subset(path, subset, ctx)
