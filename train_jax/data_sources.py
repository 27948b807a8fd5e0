"""Where training records come from: the `dataset_mixer` of path → fraction, over MNLU-Instruct's outputs.

`mnlu data build` writes each (split, family, corpus) group twice, as `<out>/<split>/<family>/<corpus>.jsonl` and as
a `datasets` `save_to_disk` directory `<out>/<split>/<family>/<corpus>/`; either form is read here. A mixer key is
resolved (relative paths against the working directory, then against the config file's directory) as:

1. a `.jsonl` file, or a `datasets` directory (`state.json`), or a `DatasetDict` directory (first split of
   `dataset_splits` it holds);
2. `<key>.jsonl` when `<key>` itself does not exist;
3. `<key>/<split>` for the first of `dataset_splits` that exists (the alignment-handbook convention);
4. a directory of `<family>/<corpus>.jsonl` files (a whole built split): every corpus, in sorted path order.

A fraction keeps the first int(fraction × N) rows of each corpus, as the paper's mixer does. Where `mnlu data build`
already applied the same fraction (its `stats.json` records the mixture), it is not applied twice. Every record is
checked against `mnlu.schema` and must end with an assistant turn; errors name the file and line (or row), never
the clinical text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mnlu.schema import SchemaError, validate_record


class DataError(ValueError):
    """Training data that cannot be used; the message names the file and line (or row) and what was expected."""


@dataclass(frozen=True)
class Source:
    key: str  # the dataset_mixer key as written
    path: Path  # a JSONL file or a datasets directory
    kind: str  # "jsonl" | "datasets"
    fraction: float
    split: str | None = None  # for a DatasetDict


def _is_dataset_dir(path: Path) -> bool:
    return path.is_dir() and (path / "state.json").is_file()


def _is_dataset_dict(path: Path) -> bool:
    return path.is_dir() and (path / "dataset_dict.json").is_file()


def _resolve_one(key: str, path: Path, fraction: float, splits: Sequence[str]) -> list[Source] | None:
    if path.is_file():
        if path.suffix != ".jsonl":
            raise DataError(f"dataset_mixer[{key!r}]: {path} is a file but not .jsonl (JSONL or a datasets directory)")
        return [Source(key, path, "jsonl", fraction)]
    if _is_dataset_dir(path):
        return [Source(key, path, "datasets", fraction)]
    if _is_dataset_dict(path):
        names = json.loads((path / "dataset_dict.json").read_text()).get("splits", [])
        split = next((s for s in splits if s in names), None)
        if split is None:
            raise DataError(f"dataset_mixer[{key!r}]: {path} holds splits {names}; none of dataset_splits {list(splits)}")
        return [Source(key, path, "datasets", fraction, split)]
    jsonl = path.with_name(path.name + ".jsonl")
    if not path.exists() and jsonl.is_file():
        return [Source(key, jsonl, "jsonl", fraction)]
    if path.is_dir():
        for split in splits:
            if (path / split).is_dir():
                return _resolve_one(key, path / split, fraction, splits)
        files = sorted(path.glob("*/*.jsonl"))
        if files:
            return [Source(key, f, "jsonl", fraction) for f in files]
        raise DataError(
            f"dataset_mixer[{key!r}]: {path} is a directory without JSONL files, a datasets directory or any of "
            f"the splits {list(splits)}"
        )
    return None


def built_fraction(path: Path) -> tuple[float, Path] | None:
    """The fraction `mnlu data build` already applied to a `<out>/<split>/<family>/<corpus>` group (its
    stats.json records the mixture), or None when the path is not inside such a build."""
    corpus = path.stem if path.suffix == ".jsonl" else path.name
    family, root = path.parent.name, path.parent.parent.parent
    stats = root / "stats.json"
    if not stats.is_file():
        return None
    try:
        corpora = json.loads(stats.read_text()).get("config", {}).get("corpora", {})
    except json.JSONDecodeError:
        return None
    entry = corpora.get(corpus) if isinstance(corpora, dict) else None
    if not isinstance(entry, dict):
        return None
    return float((entry.get("fraction") or {}).get(family, 1.0)), stats


def _once(source: Source) -> Source:
    """A mixer fraction that `mnlu data build` already applied is not applied again (the paper's recipe and its
    mixture carry the same fractions); a different one on top of it is an error rather than a silent double cut."""
    built = built_fraction(source.path)
    if built is None or built[0] >= 1.0 or source.fraction >= 1.0:
        return source
    fraction, stats = built
    if abs(fraction - source.fraction) < 1e-12:
        print(f"note: dataset_mixer[{source.key!r}]: {source.path.name} was already cut to {fraction:g} by "
              f"mnlu data build ({stats}); not cutting it again", file=sys.stderr)
        return replace(source, fraction=1.0)
    raise DataError(
        f"dataset_mixer[{source.key!r}]: {source.path} was already cut to {fraction:g} of its train rows by mnlu data "
        f"build ({stats}); a mixer fraction of {source.fraction:g} would cut it again. Use {fraction:g} or 1.0 here, "
        "or rebuild the data with that corpus's fraction at 1.0"
    )


def resolve_mixer(
    mixer: Mapping[str, float], splits: Sequence[str] = ("train",), config_dir: str | Path | None = None
) -> list[Source]:
    """Every source of the mixer, checked to exist (before anything is compiled)."""
    sources: list[Source] = []
    for key, fraction in mixer.items():
        candidates = [Path(key)]
        if not Path(key).is_absolute() and config_dir is not None:
            candidates.append(Path(config_dir) / key)
        for cand in candidates:
            found = _resolve_one(key, cand, float(fraction), splits)
            if found is not None:
                sources.extend(_once(src) for src in found)
                break
        else:
            tried = " or ".join(str(c.resolve()) for c in candidates)
            raise DataError(f"dataset_mixer[{key!r}]: no such dataset: {tried} (nor the same with .jsonl) does not exist")
    return sources


def _check(record: Any, where: str) -> dict[str, Any]:
    try:
        validate_record(record, where=where)
    except SchemaError as e:
        raise DataError(str(e)) from None
    if not any(m["role"] == "assistant" for m in record["messages"]):
        raise DataError(f"{where}: record has no assistant turn; a training record needs the assistant's answer")
    return dict(record)


def _iter_jsonl(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: invalid JSON at column {e.colno} ({e.msg})") from None
            yield record, where


def _count_jsonl(path: Path) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def _load_dataset(source: Source):
    import datasets

    datasets.disable_progress_bars()
    ds = datasets.load_from_disk(str(source.path))
    return ds[source.split] if source.split is not None else ds


def iter_source(source: Source) -> Iterator[tuple[dict[str, Any], str]]:
    """The first int(fraction × N) records of one source, validated, with where each came from."""
    if source.kind == "jsonl":
        total = _count_jsonl(source.path)
        take = total if source.fraction >= 1.0 else int(source.fraction * total)
        for i, (record, where) in enumerate(_iter_jsonl(source.path)):
            if i >= take:
                return
            yield _check(record, where), where
    else:
        ds = _load_dataset(source)
        take = len(ds) if source.fraction >= 1.0 else int(source.fraction * len(ds))
        for i in range(take):
            where = f"{source.path}{'/' + source.split if source.split else ''} row {i}"
            yield _check(ds[i], where), where


def iter_mixture(sources: Sequence[Source]) -> Iterator[tuple[dict[str, Any], str]]:
    """All sources' records in mixer order (the training loader shuffles them per epoch with the seed)."""
    for source in sources:
        yield from iter_source(source)
