"""SNLI 1.0 (`snli_1.0/snli_1.0_{train,dev,test}.jsonl`): premise/hypothesis pairs with three labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.nli_jsonl import convert_nli_jsonl
from mnlu.corpora.registry import ConvertContext, TaskItem, register


@register("snli", "SNLI 1.0", ("NLI",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    yield from convert_nli_jsonl(root, ctx, corpus="snli", pattern="snli_1.0_*.jsonl")
