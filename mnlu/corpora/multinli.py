"""MultiNLI 1.0 (`multinli_1.0/multinli_1.0_{train,dev_matched,dev_mismatched}.jsonl`): SNLI's layout plus
`genre`/`promptID`; both dev sets go to train (`mnlu.splits`), and the Kaggle-only test sets are not
distributed, so MultiNLI has no test split."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.nli_jsonl import convert_nli_jsonl
from mnlu.corpora.registry import ConvertContext, TaskItem, register


@register("multinli", "MultiNLI 1.0", ("NLI",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    yield from convert_nli_jsonl(root, ctx, corpus="multinli", pattern="multinli_1.0_*.jsonl")
