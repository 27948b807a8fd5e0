"""What a benchmark adapter is: a dataset's files in, unified-format records (with official gold) out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnlu.formats.errors import FormatError

# BLURB's six task groups; the BLURB score is the mean of their means.
BLURB_TASKS = ("NER", "PICO", "RE", "SS", "DC", "QA")


@dataclass(frozen=True)
class EvalItem:
    """One test item: the unified record (gold answer last) and the dataset-specific gold the official scorer
    needs (sentence tokens and tags, a label, a label set, a real-valued score)."""

    record: dict[str, Any]
    gold: Any
    source_id: str  # the dataset's own id (row id, PMID, sentence number): for error files, never text

    @property
    def prompt_id(self) -> str:
        return self.record["prompt_id"]


@dataclass(frozen=True)
class OfficialScore:
    """An official figure (0–100) with its metric name, item count and the outputs that could not be parsed."""

    score: float
    metric: str
    n: int
    unparsed: int
    details: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


Loader = Callable[[Path, str], list[EvalItem]]
Scorer = Callable[[list[EvalItem], Mapping[str, str]], OfficialScore]


@dataclass(frozen=True)
class Dataset:
    """A registered benchmark dataset; `files` maps a split to its path under the dataset folder."""

    name: str
    title: str
    suites: tuple[str, ...]
    task: str  # BLURB task group (NER, PICO, RE, SS, DC, QA) or BLUE's (NER, RE, SS, DC, NLI)
    metric: str
    folder: str
    files: Mapping[str, str]
    load: Loader
    official: Scorer
    credentialed: bool = False

    def path(self, data_dir: Path, split: str) -> Path:
        if split not in self.files:
            raise ValueError(f"{self.name}: no split {split!r}; it has {sorted(self.files)}")
        return Path(data_dir) / self.folder / self.files[split]

    def items(self, data_dir: Path, split: str = "test", limit: int | None = None) -> list[EvalItem]:
        path = self.path(data_dir, split)
        if not path.exists():
            access = " (credentialed: obtain it from its distributor)" if self.credentialed else ""
            raise FileNotFoundError(
                f"{self.name}: {path} not found; expected {self.folder}/{self.files[split]} under the data "
                f"directory{access}"
            )
        items = self.load(path, split)
        return items if limit is None else items[:limit]


def prompt_id(dataset: str, split: str, index: int) -> str:
    """Deterministic id `<dataset>-<split>-<index>`: the dataset name is recoverable from the id."""
    return f"{dataset}-{split}-{index:05d}"


def dataset_of(pid: str) -> str:
    return pid.split("-", 1)[0]


__all__ = ["BLURB_TASKS", "Dataset", "EvalItem", "FormatError", "OfficialScore", "dataset_of", "prompt_id"]
