"""The statistics of a build: instances and token lengths per family and corpus, and what was skipped or dropped.

Written as `stats.md` (the paper-style table), `stats.json` (the same numbers) and `bad_records.jsonl` (one
line per bad record: corpus, file relative to --raw, line, offset, reason; never text). No timestamps or
absolute output paths, so the same build gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnlu.schema import FAMILIES
from mnlu.splits import SPLITS

if TYPE_CHECKING:
    from mnlu.build import BuildResult, GroupStats
    from mnlu.mixture import MixtureConfig


def _fmt(summary: dict[str, float] | None) -> str:
    if not summary:
        return "–"
    return f"{summary['mean']:.1f} / {summary['median']:.0f} / {summary['max']:.0f}"


def _sorted_groups(result: BuildResult) -> list[GroupStats]:
    order = {f: i for i, f in enumerate(FAMILIES)}
    groups = [g for r in result.reports for g in r.groups]
    return sorted(groups, key=lambda g: (SPLITS.index(g.split), order[g.family], g.corpus))


def family_totals(groups: Iterable[GroupStats]) -> list[dict[str, Any]]:
    """Instances, corpora, mean/max total tokens per (split, family), weighted by instances."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for g in groups:
        t = totals.setdefault((g.split, g.family), {"split": g.split, "family": g.family, "corpora": 0,
                                                    "instances": 0, "token_sum": 0.0, "max_tokens": None,
                                                    "over_max_seq_length": None})
        t["corpora"] += 1
        t["instances"] += g.instances
        if g.total_tokens:
            t["token_sum"] += g.total_tokens["mean"] * g.instances
            t["max_tokens"] = max(t["max_tokens"] or 0, g.total_tokens["max"])
            t["over_max_seq_length"] = (t["over_max_seq_length"] or 0) + (g.over_max_seq_length or 0)
    out = []
    for t in totals.values():
        t["mean_tokens"] = round(t.pop("token_sum") / t["instances"], 1) if t["max_tokens"] is not None else None
        out.append(t)
    return out


def stats_json(result: BuildResult, config: MixtureConfig) -> dict[str, Any]:
    groups = _sorted_groups(result)
    return {
        "tokenizer": result.tokenizer,
        "config": config.to_json(),
        "families": family_totals(groups),
        "groups": [asdict(g) for g in groups],
        "corpora": [
            {k: v for k, v in asdict(r).items() if k not in ("groups", "bad_records")}
            | {"bad_records": len(r.bad_records)}
            for r in result.reports
        ],
    }


def stats_markdown(result: BuildResult, config: MixtureConfig) -> str:
    groups = _sorted_groups(result)
    lines = [
        "# MNLU-Instruct build statistics",
        "",
        f"Tokenizer: {result.tokenizer}. max_seq_length {config.max_seq_length} (chat template rendered, `<s>` "
        f"counted); seed {config.seed}. Token columns are mean / median / max.",
        "",
        "Splits (`mnlu.splits`): each corpus's own; its dev/validation split goes to train and its test split is "
        "kept as distributed (never cut by a fraction); a corpus without one gets a seeded test split of about "
        "10% of its documents.",
        "",
        "## Instances per family",
        "",
        "| split | family | corpora | instances | total tokens (mean) | total tokens (max) | > max_seq_length |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for t in family_totals(groups):
        mean = "–" if t["mean_tokens"] is None else f"{t['mean_tokens']:.1f}"
        top = "–" if t["max_tokens"] is None else f"{t['max_tokens']:.0f}"
        over = "–" if t["over_max_seq_length"] is None else str(t["over_max_seq_length"])
        lines.append(f"| {t['split']} | {t['family']} | {t['corpora']} | {t['instances']} | {mean} | {top} | {over} |")
    lines += [
        "",
        "## Instances per corpus",
        "",
        "| split | family | corpus | instances | prompt tokens | answer tokens | total tokens | > max_seq_length |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for g in groups:
        over = "–" if g.over_max_seq_length is None else str(g.over_max_seq_length)
        lines.append(f"| {g.split} | {g.family} | {g.corpus} | {g.instances} | {_fmt(g.prompt_tokens)} | "
                     f"{_fmt(g.answer_tokens)} | {_fmt(g.total_tokens)} | {over} |")
    lines += [
        "",
        "## Corpus processing",
        "",
        "| corpus | converted | bad records | duplicates removed | train items overlapping test removed | "
        "train fraction | dropped by the fraction | dropped by max_train_rows | span items with renamed types | "
        "span items split into sentences | negative types added |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in result.built:
        fraction = ", ".join(f"{k}: {v:g}" for k, v in sorted(r.fractions.items())) or "1"
        lines.append(f"| {r.name} | {r.converted} | {len(r.bad_records)} | {r.duplicates} | {r.leaked} | "
                     f"{fraction} | {r.dropped_by_fraction} | {r.dropped_by_cap} | {r.types_renamed} | "
                     f"{r.span_items_split} | {r.negative_types_added} |")
    skipped = result.skipped
    lines += ["", "## Not built", ""]
    lines += [f"- {r.name}: {r.status} — {r.reason}" for r in skipped] or ["(none)"]
    bad = [(r.name, b) for r in result.built for b in r.bad_records]
    if bad:
        lines += ["", "## Bad records (first 20; all in bad_records.jsonl)", ""]
        for name, b in bad[:20]:
            where = b["path"] + (f":{b['line']}" if b["line"] is not None else "")
            where += f" offset {b['offset']}" if b["offset"] is not None else ""
            lines.append(f"- {name}: {where}: {b['reason']}")
    return "\n".join(lines) + "\n"


def write_stats(result: BuildResult, folder: Path, config: MixtureConfig) -> None:
    (folder / "stats.md").write_text(stats_markdown(result, config), encoding="utf-8")
    (folder / "stats.json").write_text(
        json.dumps(stats_json(result, config), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    with (folder / "bad_records.jsonl").open("w", encoding="utf-8") as f:
        for r in result.built:
            for b in r.bad_records:
                f.write(json.dumps({"corpus": r.name, **b}, ensure_ascii=False) + "\n")


def _corpora(n: int) -> str:
    return f"{n} corpus" if n == 1 else f"{n} corpora"


def summary_text(result: BuildResult, raw: Path | str | None = None, *, verbose: bool = False) -> str:
    """The one-screen summary printed at the end of `mnlu data build`: instances per split and family, bad
    records per corpus, and what was not built. Corpora with no folder under `raw` (the usual case: most users
    hold a few of the 33) are one line unless `verbose`; a corpus whose folder lacks what it needs is named with
    the reason, since the user can act on it."""
    groups = _sorted_groups(result)
    lines = [f"MNLU-Instruct written to {result.out}"]
    totals = family_totals(groups)
    for split in SPLITS:
        rows = [t for t in totals if t["split"] == split]
        for t in rows:
            lines.append(f"  {split:<5} {t['family']:<13} {t['instances']:>8} instances from {_corpora(t['corpora'])}")
        if rows:
            lines.append(f"  {split:<5} {'(all)':<13} {sum(t['instances'] for t in rows):>8} instances")
    bad = sorted(((len(r.bad_records), r.name) for r in result.built if r.bad_records), key=lambda x: (-x[0], x[1]))
    line = f"  {_corpora(len(result.built))} built; {sum(n for n, _ in bad)} bad records skipped"
    if bad:
        line += f" ({', '.join(f'{name} {n}' for n, name in bad)}): {result.out / 'bad_records.jsonl'}"
    lines.append(line)
    absent = [r for r in result.skipped if r.status == "absent"]
    for r in result.skipped:
        if r.status != "absent" or verbose:
            lines.append(f"  not built: {r.name}: {r.status} ({r.reason.removeprefix(f'{r.name}: ')})")
    if absent and not verbose:
        where = f" under {raw}" if raw is not None else ""
        lines.append(f"  not built: {_corpora(len(absent))} with no folder{where} (listed in stats.md; --verbose "
                     "lists them here)")
    lines.append(f"  statistics: {result.out / 'stats.md'}")
    return "\n".join(lines)
