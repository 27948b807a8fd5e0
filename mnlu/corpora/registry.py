"""The corpus registry: each converter module registers a `Corpus` with `@register`.

A converter is a function `convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]` that reads the
corpus's native files under `root` and yields task items, each tagged with its split and family. Bad records
are reported through `ctx.bad(...)` (which raises under --strict) and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnlu.formats.errors import FormatError


@dataclass(frozen=True)
class TaskItem:
    split: str  # "train" or "test" (as distributed; a seeded split where the corpus has none)
    family: str  # events, RE, DC, NLI, STS, summarization
    record: dict[str, Any]


@dataclass
class ConvertContext:
    """What a converter needs besides its files: the strict flag, a bad-record sink, the token budget."""

    strict: bool = False
    max_seq_length: int = 2048
    seed: int = 42
    count_tokens: Callable[[str], int] | None = None
    bad_records: list[FormatError] = field(default_factory=list)

    def bad(self, error: FormatError) -> None:
        """Report a bad record: raise under --strict, else remember it (counted in the statistics)."""
        if self.strict:
            raise error
        self.bad_records.append(error)


@dataclass(frozen=True)
class Corpus:
    name: str  # folder name under the raw directory, and <corpus> in the output paths
    title: str
    families: tuple[str, ...]
    access: str  # P public, G gated, C credentialed
    convert: Callable[[Path, ConvertContext], Iterator[TaskItem]]


CORPORA: dict[str, Corpus] = {}


def register(name: str, title: str, families: tuple[str, ...], access: str):
    def deco(fn: Callable[[Path, ConvertContext], Iterator[TaskItem]]):
        if name in CORPORA:
            raise ValueError(f"corpus {name!r} registered twice")
        CORPORA[name] = Corpus(name, title, families, access, fn)
        return fn

    return deco


def get_corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; known: {', '.join(sorted(CORPORA))}")
    return CORPORA[name]
