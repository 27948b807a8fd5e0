"""BioNLI (Bastan et al. 2022): does an abstract's mechanistic conclusion follow from its supporting sentences?

Distributed as CSV files (full and balanced versions share one test set; the test set is sent on request):
`index, pmid, supp_set` (premise: the supporting abstract sentences), `conclusion` (hypothesis: the original
conclusion or a perturbed one) and `label_cat`. As in the authors' code, `pos` is entailment, every
perturbation category is contradiction, and `SET` rows are left out. `premise`/`hypothesis`/`label`
(`entailment`/`contradiction` or 1/0) are accepted as column aliases. Files named for a split keep it; a
single `entailment_data.csv` gets a seeded split by PMID.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_delimited
from mnlu.prompts import nli
from mnlu.splits import seeded_split, split_of_name

LABELS = ("entailment", "contradiction")
PERTURBATIONS = frozenset({
    "SEP", "SEN", "posToNeg", "negToPos", "LPR", "swap_number", "SREO", "SRE", "generation", "generation_nd",
    "generation_nd_SEN", "generation_nd_SRE",
})
LEFT_OUT = "SET"
PREMISE, HYPOTHESIS, LABEL = ("supp_set", "premise"), ("conclusion", "hypothesis"), ("label_cat", "label")


def _pick(row: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((row[n] for n in names if n in row), None)


def binary_label(raw: str) -> str | None:
    raw = raw.strip()
    if raw in ("pos", "entailment", "1"):
        return "entailment"
    if raw in PERTURBATIONS or raw in ("contradiction", "0"):
        return "contradiction"
    return None


@register("bionli", "BioNLI", ("NLI",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = find_files(root, "*.csv")
    if not files:
        raise CorpusUnavailable(root, "no BioNLI .csv files here (train/dev/test or entailment_data.csv)")
    for path in files:
        file_split = split_of_name(path.stem)
        for line, row in read_delimited(path, on_bad=ctx.bad):
            premise, hypothesis, raw = _pick(row, PREMISE), _pick(row, HYPOTHESIS), _pick(row, LABEL)
            if premise is None or hypothesis is None or raw is None:
                raise FormatError(path, f"expected columns {PREMISE[0]}, {HYPOTHESIS[0]}, {LABEL[0]}", line=1)
            if raw.strip() == LEFT_OUT:
                continue
            label = binary_label(raw)
            if label is None:
                ctx.bad(FormatError(path, f"label {raw.strip()!r} is neither 'pos' nor a perturbation category",
                                    line=line))
                continue
            if not premise.strip() or not hypothesis.strip():
                ctx.bad(FormatError(path, "empty premise or hypothesis", line=line))
                continue
            pmid = (row.get("pmid") or "").strip()
            row_id = (row.get("index") or row.get("") or "").strip() or str(line)
            split = file_split or seeded_split(pmid or f"{path.stem}-{row_id}", ctx.seed)
            record = nli(f"bionli-{path.stem}-{row_id}", premise.strip(), hypothesis.strip(), label, labels=LABELS)
            yield TaskItem(split, "NLI", record)
