"""The pipeline's report: base, fine-tuned and merged models side by side.

`results.md` holds only what the evaluation measured (no timings, no paths, fixed formatting and order), so the
same seed and inputs give the same bytes; `timings.md` holds the wall times; `loss.png` is the training loss from
`train/metrics.jsonl` and `models.png` the parse rate and official score per dataset and model. Every file is
written to a temporary name and renamed.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LABELS = {"base": "base", "finetuned": "fine-tuned", "merged": "merged"}
SUITES = (("blurb", "BLURB"), ("blue", "BLUE"))


def atomic_write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)


def collect(eval_dir: Path, models: Sequence[str], sets: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """{set: {model: results.json}} for every (model, set) evaluated under eval_dir/<model>/<set>."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in sets:
        for model in models:
            f = eval_dir / model / name / "results.json"
            if f.is_file():
                out.setdefault(name, {})[model] = json.loads(f.read_text())
    return out


def _is_dataset(value: Any) -> bool:
    return isinstance(value, dict) and "n" in value


def parse_rate(entry: Mapping[str, Any]) -> float | None:
    """Share (0–100) of the records whose answer parsed in the unified format (official scorer's count)."""
    n, unparsed = entry.get("n"), entry.get("unparsed")
    if not n or unparsed is None:
        return None
    return 100.0 * (n - unparsed) / n


def _f(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def _cell(values: Sequence[Any], digits: int = 2) -> str:
    return " / ".join(_f(v, digits) for v in values)


def task_parse_rates(results: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Parse rate per task group over all records of that group's datasets."""
    totals: dict[str, list[int]] = {}
    for entry in results.values():
        if _is_dataset(entry) and entry.get("unparsed") is not None and entry.get("n"):
            t = totals.setdefault(entry.get("task") or "?", [0, 0])
            t[0] += entry["n"] - entry["unparsed"]
            t[1] += entry["n"]
    return {task: 100.0 * ok / n for task, (ok, n) in totals.items()}


def results_markdown(collected: Mapping[str, Mapping[str, Mapping[str, Any]]], models: Sequence[str],
                     descriptions: Mapping[str, str]) -> str:
    """The side-by-side table; deterministic for the same results."""
    names = [LABELS[m] for m in models]
    order = " / ".join(names)
    lines = [
        "# Pipeline results: " + " vs ".join(names), "",
        "Zero-shot, greedy decoding, figures 0-100. `official`: the benchmark's own metric; `paper`: the paper's "
        "released scorer; `parse %`: share of answers in the unified format (a `Type: ...` line for entity tasks, "
        f"an `(X)` option marker for choice tasks). Each cell: {order}.",
    ]
    for set_name, per_model in collected.items():
        present = [m for m in models if m in per_model]
        first = per_model[present[0]]
        datasets = [k for k, v in first.items() if _is_dataset(v)]
        lines += ["", f"## {set_name} sets: {descriptions.get(set_name, '')}".rstrip(": "), ""]
        lines += ["| dataset | task | metric | n | official | paper | parse % |", "|---|---|---|---:|---|---|---|"]
        for d in datasets:
            entries = [per_model[m].get(d, {}) for m in present]
            lines.append(f"| {d} | {first[d].get('task', '')} | {first[d].get('metric', '')} | {first[d]['n']} | "
                         f"{_cell([e.get('official') for e in entries])} | {_cell([e.get('paper') for e in entries])}"
                         f" | {_cell([parse_rate(e) for e in entries], 0)} |")
        rates = {m: task_parse_rates(per_model[m]) for m in present}
        tasks = list(rates[present[0]])
        lines += ["", "| parse % by task | " + " | ".join(LABELS[m] for m in present) + " |",
                  "|---|" + "---:|" * len(present)]
        for t in tasks:
            lines.append(f"| {t} | " + " | ".join(_f(rates[m].get(t), 1) for m in present) + " |")
        lines += ["", "| aggregate | " + " | ".join(LABELS[m] for m in present) + " |",
                  "|---|" + "---:|" * len(present)]
        for key, title in SUITES:
            for suffix, kind in (("", "official"), ("_paper", "paper")):
                if any(key + suffix in per_model[m] for m in present):
                    vals = [per_model[m].get(key + suffix) for m in present]
                    lines.append(f"| {title} ({kind}) | " + " | ".join(_f(v) for v in vals) + " |")
            missing = per_model[present[0]].get(f"{key}_missing")
            if missing:
                lines.append(f"| {title}: datasets absent here | " + ", ".join(missing) + " |"
                             + " |" * (len(present) - 1))
    return "\n".join(lines) + "\n"


def timings_markdown(stage_seconds: Mapping[str, tuple[float | None, bool]], train_summary: Mapping[str, Any] | None,
                     total: float) -> str:
    """Wall times of this run (kept out of results.md so that file is reproducible byte for byte)."""
    lines = ["# Pipeline timings", "", "| stage | this run | when it ran |", "|---|---:|---:|"]
    for stage, (seconds, ran) in stage_seconds.items():
        took = "n/a" if seconds is None else f"{seconds:.1f} s"
        lines.append(f"| {stage} | {took if ran else 'skipped (complete)'} | {took} |")
    lines += ["", f"total this run: {total:.1f} s"]
    if train_summary:
        lines.append(f"training: {train_summary.get('step')} steps in {train_summary.get('seconds')} s "
                     f"(final loss {_f(train_summary.get('final_loss'), 3)})")
    return "\n".join(lines) + "\n"


def read_metrics(path: Path) -> tuple[list[tuple[int, float]], dict[str, Any] | None]:
    """(step, loss) pairs (the last value logged per step, so a resumed run counts once) and the summary event."""
    losses: dict[int, float] = {}
    summary = None
    if path.is_file():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("event") == "summary":
                summary = row
            elif "loss" in row and "step" in row:
                losses[int(row["step"])] = float(row["loss"])
    return sorted(losses.items()), summary


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_plot(path: Path, losses: Sequence[tuple[int, float]]) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if losses:
        ax.plot([s for s, _ in losses], [v for _, v in losses], marker=".", linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (assistant tokens)")
    ax.set_title("fine-tuning loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, _png(fig))


def models_plot(path: Path, collected: Mapping[str, Mapping[str, Mapping[str, Any]]], models: Sequence[str]) -> None:
    """Two panels, one group of bars per dataset (and the BLURB aggregate), one bar per model."""
    import numpy as np

    plt = _pyplot()
    groups: list[tuple[str, dict[str, Mapping[str, Any] | float | None]]] = []
    for set_name, per_model in collected.items():
        first = next(iter(per_model.values()))
        for d in (k for k, v in first.items() if _is_dataset(v)):
            groups.append((f"{d} ({set_name})", {m: per_model[m].get(d) for m in models if m in per_model}))
        groups.append((f"BLURB ({set_name})", {m: per_model[m].get("blurb") for m in models if m in per_model}))
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(models))
    fig, axes = plt.subplots(2, 1, figsize=(max(8.0, 0.45 * len(groups) + 2), 7), dpi=100, sharex=True)
    for i, m in enumerate(models):
        parse = [parse_rate(v[m]) if isinstance(v.get(m), dict) else None for _, v in groups]
        score = [(v[m].get("official") if isinstance(v.get(m), dict) else v.get(m)) for _, v in groups]
        off = (i - (len(models) - 1) / 2) * width
        axes[0].bar(x + off, [0.0 if p is None else p for p in parse], width, label=LABELS[m])
        axes[1].bar(x + off, [0.0 if s is None else s for s in score], width, label=LABELS[m])
    axes[0].set_ylabel("parse rate (%)")
    axes[0].set_ylim(0, 105)
    axes[0].legend(ncol=len(models), fontsize=8)
    axes[1].set_ylabel("official score (0-100)")
    axes[1].set_ylim(0, 100)
    axes[1].set_xticks(x, [g for g, _ in groups], rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    atomic_write(path, _png(fig))
