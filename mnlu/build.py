"""Builds MNLU-Instruct: every corpus of the mixture, converted, cleaned, cut and written (one job per corpus).

For each corpus: find its folder (`<raw>/<name>` or the config's path), run its registered converter, check
every record against the schema, drop exact duplicates within each (split, family), drop train items whose
prompt also occurs in that corpus's test split (leakage), keep the mixture's fraction of the train split,
and write `<out>/<split>/<family>/<corpus>.jsonl` plus the `datasets` directory `<out>/<split>/<family>/<corpus>/`.
Everything goes to a staging folder beside `<out>` that is renamed into place only when the whole build
succeeded, so a failed or interrupted build never leaves a half-written output that looks complete.

Corpora run in separate processes with `workers > 1` (spawned, so the tokenizer's threads are never forked);
each job returns only counts and locations, never text.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import shutil
import statistics
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mnlu.mixture import MixtureConfig, cap_rows, take_fraction
from mnlu.splits import SPLITS, TEST, TRAIN

BUILT, ABSENT, UNAVAILABLE, NOT_REGISTERED, FAILED = "built", "absent", "unavailable", "not registered", "error"


class BuildError(RuntimeError):
    """A build that must stop; `str()` is one line naming the file, line or offset, or the corpora."""


@dataclass
class GroupStats:
    split: str
    family: str
    corpus: str
    instances: int
    prompt_tokens: dict[str, float] | None = None  # mean, median, max
    answer_tokens: dict[str, float] | None = None
    total_tokens: dict[str, float] | None = None
    over_max_seq_length: int | None = None


@dataclass
class CorpusReport:
    name: str
    status: str
    path: str = ""
    reason: str = ""
    fractions: dict[str, float] = field(default_factory=dict)
    groups: list[GroupStats] = field(default_factory=list)
    bad_records: list[dict[str, Any]] = field(default_factory=list)
    converted: int = 0
    duplicates: int = 0
    leaked: int = 0
    dropped_by_fraction: int = 0
    dropped_by_cap: int = 0
    types_renamed: int = 0
    negative_types_added: int = 0
    span_items_split: int = 0
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class CorpusJob:
    name: str
    root: str
    staging: str
    raw: str
    seed: int
    max_seq_length: int
    strict: bool
    fractions: dict[str, float]
    progress: bool
    max_train_rows: int | None = None
    split_sentences: bool = False


def _token_counter() -> tuple[Callable[[str], int] | None, str]:
    try:
        from mnlu.tokenizer import count_tokens

        count_tokens("tokenizer check")
    except (ImportError, RuntimeError) as e:
        return None, f"unavailable ({type(e).__name__}); token columns left empty"
    return count_tokens, "Mistral-7B v0.1 SentencePiece (mnlu.tokenizer)"


def _relative(path: str, raw: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(raw).resolve()))
    except ValueError:
        return path


def _error_dict(error: Exception, raw: str) -> dict[str, Any]:
    return {
        "path": _relative(getattr(error, "path", ""), raw),
        "line": getattr(error, "line", None),
        "offset": getattr(error, "offset", None),
        "reason": getattr(error, "reason", str(error)),
        "kind": type(error).__name__,
    }


def _digest(value: Any) -> bytes:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).digest()


def _summary(values: list[int]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 1), "median": float(statistics.median(values)),
            "max": float(max(values))}


def _lengths_counter():
    """(prompt, answer, total) token counts of a record from ONE encoding of its rendered chat: the prompt is
    every token before the answer (so it includes the `<|assistant|>` header), the answer is counted in context
    (as it is trained, which can differ by one token from encoding it alone), the total adds the `<s>` the
    trainer prepends. Falls back to three `count_tokens` calls when only that is available."""
    from mnlu.prompts import EOS_TOKEN, assistant_char_spans, render_chat
    from mnlu.schema import answer_of, prompt_messages

    try:
        from mnlu.tokenizer import get_tokenizer

        tokenizer = get_tokenizer()
    except (ImportError, RuntimeError):
        count, _ = _token_counter()
        if count is None:
            return None

        def by_count(record: dict[str, Any]) -> tuple[int, int, int]:
            prompt = count(render_chat(prompt_messages(record), add_generation_prompt=True))
            return prompt, count(answer_of(record) or ""), count(render_chat(record["messages"])) + 1

        return by_count

    def by_offsets(record: dict[str, Any]) -> tuple[int, int, int]:
        text = render_chat(record["messages"])
        start, end = assistant_char_spans(record["messages"])[-1]
        end -= len(EOS_TOKEN)
        offsets = tokenizer.encode(text, add_special_tokens=False).offsets  # sorted: starts never decrease
        prompt = bisect.bisect_left(offsets, (start, -1))  # tokens starting before the answer
        answer = bisect.bisect_left(offsets, (end, -1)) - prompt
        return prompt, answer, len(offsets) + 1

    return by_offsets


def _group_stats(split: str, family: str, corpus: str, lines: list[str], lengths, max_len: int) -> GroupStats:
    stats = GroupStats(split, family, corpus, len(lines))
    if lengths is None or not lines:
        return stats
    prompts, answers, totals = zip(*(lengths(json.loads(line)) for line in lines), strict=True)
    stats.prompt_tokens, stats.answer_tokens, stats.total_tokens = (
        _summary(list(x)) for x in (prompts, answers, totals))
    stats.over_max_seq_length = sum(t > max_len for t in totals)
    return stats


def build_corpus(job: CorpusJob) -> CorpusReport:
    """Convert, clean, cut and write one corpus into the staging folder (runs in a worker process)."""
    import mnlu.corpora  # noqa: F401  (registers every converter in this process)
    from mnlu.corpora.availability import CorpusUnavailable
    from mnlu.corpora.registry import CORPORA, ConvertContext
    from mnlu.dataset_writer import write_group
    from mnlu.formats.errors import FormatError
    from mnlu.schema import FAMILIES, SchemaError, validate_record

    report = CorpusReport(job.name, BUILT, _relative(job.root, job.raw), fractions=dict(job.fractions))
    count, _ = _token_counter()
    ctx = ConvertContext(strict=job.strict, max_seq_length=job.max_seq_length, seed=job.seed, count_tokens=count)
    groups: dict[tuple[str, str], list[tuple[str, bytes, bytes]]] = {}
    try:
        from tqdm import tqdm

        items = CORPORA[job.name].convert(Path(job.root), ctx)
        for item in tqdm(items, desc=job.name, unit=" items", disable=None if job.progress else True, leave=False):
            if item.split not in SPLITS or item.family not in FAMILIES:
                raise BuildError(f"{job.name}: converter gave split {item.split!r} / family {item.family!r}; "
                                 f"expected {list(SPLITS)} / {list(FAMILIES)}")
            validate_record(item.record, where=f"{job.name} item {item.record.get('prompt_id')!r}",
                            require_answer=True)
            line = json.dumps(item.record, ensure_ascii=False, separators=(",", ":"))
            full, prompt = _digest(item.record["messages"]), _digest(item.record["messages"][:-1])
            groups.setdefault((item.split, item.family), []).append((line, full, prompt))
            report.converted += 1
    except CorpusUnavailable as e:
        report.status, report.reason = UNAVAILABLE, e.reason
        return report
    except FormatError as e:
        report.status, report.error = FAILED, _error_dict(e, job.raw)
        return report
    except SchemaError as e:  # a converter bug, reported like a bad file so the CLI stays one line
        report.status, report.error = FAILED, {"path": report.path, "line": None, "offset": None,
                                              "reason": str(e), "kind": "SchemaError"}
        return report
    report.bad_records = [_error_dict(e, job.raw) for e in ctx.bad_records]

    kept: dict[tuple[str, str], list[tuple[str, bytes, bytes]]] = {}
    for key, rows in groups.items():
        seen: set[bytes] = set()
        kept[key] = []
        for row in rows:
            if row[1] in seen:
                report.duplicates += 1
                continue
            seen.add(row[1])
            kept[key].append(row)
    for (split, family), rows in sorted(kept.items()):
        if split != TRAIN:
            continue
        test_prompts = {row[2] for row in kept.get((TEST, family), [])}
        clean = [row for row in rows if row[2] not in test_prompts]
        report.leaked += len(rows) - len(clean)
        cut = take_fraction(clean, job.fractions.get(family, job.fractions.get("*", 1.0)))
        report.dropped_by_fraction += len(clean) - len(cut)
        if job.split_sentences:
            cut = _split(cut, report)
        capped = cap_rows(cut, job.max_train_rows)
        report.dropped_by_cap += len(cut) - len(capped)
        kept[(split, family)] = capped  # negative types and renaming come after every corpus is built

    staging = Path(job.staging)
    lengths = _lengths_counter()
    for (split, family), rows in sorted(kept.items()):
        lines = [row[0] for row in rows]
        if not lines:
            continue
        write_group(lines, staging / split / family / f"{job.name}.jsonl", staging / split / family / job.name)
        report.groups.append(_group_stats(split, family, job.name, lines, lengths, job.max_seq_length))
    return report


def _split(rows: list[tuple[str, bytes, bytes]], report: CorpusReport) -> list[tuple[str, bytes, bytes]]:
    """The train rows with `mnlu.augment.split_sentences` applied, before the cap (so max_train_rows counts the
    sentence items); each sentence item keeps its document's digests (dedup and leakage are already done)."""
    from mnlu.augment import split_span_item

    out = []
    for row in rows:
        parts = split_span_item(json.loads(row[0]))
        if parts is None:
            out.append(row)
            continue
        report.span_items_split += 1
        out.extend((json.dumps(p, ensure_ascii=False, separators=(",", ":")), row[1], row[2]) for p in parts)
    return out


def _augment_train_spans(staging: Path, reports: list[CorpusReport], config: MixtureConfig) -> None:
    """Negative types, then renaming (`mnlu.augment`), on the span items of every built corpus's train groups, in
    the staging folder. After the build, not in its workers, because the negative types of one corpus are drawn
    from the types of all of them; the rewritten groups get their statistics again."""
    from mnlu.augment import add_negative_types, rename_types, type_pool
    from mnlu.dataset_writer import write_group

    if not config.negative_types and not config.rename_types:
        return
    groups = []
    for report in sorted((r for r in reports if r.status == BUILT), key=lambda r: r.name):
        for i, g in enumerate(report.groups):
            if g.split == TRAIN:
                path = staging / TRAIN / g.family / f"{report.name}.jsonl"
                records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
                groups.append((report, i, path, records))
    pool = type_pool(r for *_, records in groups for r in records)
    lengths = _lengths_counter()

    def fits(record: dict[str, Any]) -> bool:
        return lengths is None or lengths(record)[2] <= config.max_seq_length

    for report, i, path, records in groups:
        out, added = add_negative_types(records, config.negative_types, config.seed, pool, fits)
        out, renamed = rename_types(out, config.rename_types, config.seed, fits=fits)
        report.negative_types_added += added
        report.types_renamed += renamed
        if not added and not renamed:
            continue
        lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in out]
        shutil.rmtree(path.with_suffix(""))
        write_group(lines, path, path.with_suffix(""))
        g = report.groups[i]
        report.groups[i] = _group_stats(g.split, g.family, g.corpus, lines, lengths, config.max_seq_length)


@dataclass
class BuildResult:
    out: Path
    reports: list[CorpusReport]
    tokenizer: str

    @property
    def built(self) -> list[CorpusReport]:
        return [r for r in self.reports if r.status == BUILT]

    @property
    def skipped(self) -> list[CorpusReport]:
        return [r for r in self.reports if r.status != BUILT]


def plan(config: MixtureConfig, raw: Path, only: list[str] | None, registered: list[str]) -> list[CorpusReport]:
    """One report per corpus to consider: the config's corpora (or `only`), plus registered ones it omits."""
    names = list(only) if only else [c.name for c in config.corpora]
    if not only:
        names += [n for n in sorted(registered) if n not in names]
    reports = []
    for name in names:
        spec = config.spec(name)
        root = raw / name
        if spec.path:
            root = Path(spec.path).expanduser()
            root = root if root.is_absolute() else raw / root
        report = CorpusReport(name, BUILT, str(root), fractions=dict(spec.fractions))
        if name not in registered:
            report.status, report.reason = NOT_REGISTERED, "no converter registered under this name"
        elif not root.is_dir():
            report.status, report.reason = ABSENT, f"no folder {root}"
        reports.append(report)
    return reports


def _publish(staging: Path, out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise BuildError(f"{out}: exists and is not empty; pass --overwrite to replace it")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
        return
    if out.exists():
        out.rmdir()
    staging.rename(out)


def build(
    config: MixtureConfig,
    raw: Path,
    out: Path,
    *,
    only: list[str] | None = None,
    strict: bool = False,
    require_all: bool = False,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> BuildResult:
    from tqdm import tqdm

    from mnlu.build_stats import write_stats
    from mnlu.corpora import CORPORA

    raw, out = Path(raw), Path(out)
    if not raw.is_dir():
        raise BuildError(f"{raw}: no such raw-data folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise BuildError(f"{out}: exists and is not empty; pass --overwrite to replace it")
    reports = plan(config, raw, only, list(CORPORA))
    missing = [r for r in reports if r.status != BUILT]
    if require_all and missing:
        raise BuildError("--require-all: " + "; ".join(f"{r.name} {r.status} ({r.reason})" for r in missing))

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        todo = [r for r in reports if r.status == BUILT]
        jobs = [CorpusJob(r.name, r.path, str(staging), str(raw), config.seed, config.max_seq_length, strict,
                          r.fractions, progress and workers <= 1, config.max_train_rows, config.split_sentences)
                for r in todo]
        bar = tqdm(total=len(jobs), desc="corpora", unit=" corpus", disable=None if progress else True)  # None: TTY
        done = _run(jobs, workers, bar)
        by_name = {r.name: r for r in done}
        reports = [by_name.get(r.name, r) for r in reports]
        failed = next((r for r in reports if r.status == FAILED), None)
        if failed is not None:
            e = failed.error or {}
            where = e.get("path", "") + (f":{e['line']}" if e.get("line") is not None else "")
            where += f": offset {e['offset']}" if e.get("offset") is not None else ""
            raise BuildError(f"{failed.name}: {where}: {e.get('reason', '')}")
        unavailable = [r for r in reports if r.status == UNAVAILABLE]
        if require_all and unavailable:
            raise BuildError("--require-all: " + "; ".join(f"{r.name} unavailable ({r.reason})" for r in unavailable))
        _augment_train_spans(staging, reports, config)
        _, tokenizer = _token_counter()
        result = BuildResult(out, reports, tokenizer)
        write_stats(result, staging, config)
        _publish(staging, out, overwrite)
        return result
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _run(jobs: list[CorpusJob], workers: int, bar) -> list[CorpusReport]:
    results: list[CorpusReport] = []
    with bar:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                bar.set_postfix_str(job.name)
                results.append(build_corpus(job))
                bar.update()
                if results[-1].status == FAILED:
                    break
            return results
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
            pending = {pool.submit(build_corpus, job) for job in jobs}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    results.append(future.result())
                    bar.update()
                if any(r.status == FAILED for r in results):
                    for future in pending:
                        future.cancel()
                    break
    return results

