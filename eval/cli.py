"""`mnlu eval`: zero-shot BLURB/BLUE evaluation; generation (jax or vllm) and scoring as separate steps.

    mnlu eval --list
    mnlu eval --model DIR --benchmarks blurb,blue --backend jax|vllm --data-dir DIR --out DIR [--limit N]
    mnlu eval --benchmarks blurb --data-dir DIR --export-prompts prompts.jsonl
    mnlu eval --predictions preds.jsonl --out DIR [--benchmarks blurb --data-dir DIR]

Generation appends to `<out>/predictions/<dataset>.jsonl` and resumes from it; each row is keyed by the model's
identity (weights, config, tokenizer), the generation settings and the prompt's token ids, and a file made by
another model or other settings is refused unless `--overwrite` is given. Scoring writes `results.json`
(official and paper-style figures, item and unparsed counts, BLURB and BLUE scores), `results.md`, `results.csv`,
`results.png` and `errors/<dataset>.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.backends.store import (
    PREDICTION_FIELDS,
    PredictionLog,
    prediction_row,
    read_predictions,
    run_generation,
)
from eval.benchmarks import DATASETS, SUITES, Dataset, EvalItem, UnknownBenchmark, dataset_of, resolve
from eval.report import atomic_write, write_report
from eval.scoring.paper import score_paper


class EvalError(Exception):
    """A usage or input problem, reported as one line."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mnlu eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", action="store_true", help="print the suites and datasets, then exit")
    p.add_argument("--model", type=Path, help="HF model directory (with the exported tokenizer)")
    p.add_argument("--benchmarks", help="comma-separated suites (blurb, blue) and/or dataset names")
    p.add_argument("--backend", choices=("jax", "vllm"), default="jax", help="generation backend (default jax)")
    p.add_argument("--data-dir", type=Path, help="one folder per dataset, laid out as in shared/data/eval")
    p.add_argument("--out", type=Path, help="output directory")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--limit", type=int, default=None, help="first N records per dataset (quick runs)")
    p.add_argument("--max-new-tokens", type=int, default=512, help="generation budget per prompt (default 512)")
    p.add_argument("--batch-size", type=int, default=8, help="prompts per generation call (default 8)")
    p.add_argument("--tensor-parallel-size", type=int, default=1, help="vLLM tensor parallel size (default 1)")
    p.add_argument("--dtype", default=None, help="model dtype (default: the checkpoint's)")
    p.add_argument("--export-prompts", type=Path, metavar="FILE",
                   help="write the records (gold answer last) as JSONL and exit without generating")
    p.add_argument("--predictions", type=Path, metavar="FILE", help="score an existing predictions JSONL")
    p.add_argument("--overwrite", action="store_true",
                   help="replace predictions in --out made by another model or with other generation settings "
                        "(default: refuse with an error)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _listing() -> str:
    lines = ["suites:"]
    for suite, names in SUITES.items():
        lines.append(f"  {suite:<14} {', '.join(names)}")
    lines += ["", "datasets:"]
    for d in DATASETS.values():
        access = "  (credentialed)" if d.credentialed else ""
        lines.append(f"  {d.name:<14} {d.title:<16} {'+'.join(d.suites):<11} {d.task:<5} {d.metric:<34} "
                     f"{d.folder}/{d.files.get('test', '')}{access}")
    return "\n".join(lines)


def _explicit_names(benchmarks: str) -> set[str]:
    """Datasets named one by one (not through a suite): their absence is always an error."""
    return {n.strip().lower() for n in benchmarks.split(",") if n.strip().lower() in DATASETS}


def _load(
    datasets: Sequence[Dataset], data_dir: Path, split: str, limit: int | None, explicit: set[str] | None = None
) -> dict[str, list[EvalItem]]:
    """Every requested dataset's records. A credentialed dataset that a suite brought in and whose files are
    absent is skipped with a note (a suite run should not need data behind a DUA); one named explicitly is not."""
    if data_dir is None:
        raise EvalError("--data-dir is required to read the benchmarks")
    if not Path(data_dir).is_dir():
        raise EvalError(f"--data-dir {data_dir}: not a directory")
    out = {}
    for d in datasets:
        if split not in d.files:
            raise EvalError(f"{d.name}: no split {split!r}; it has {sorted(d.files)}")
        path = Path(data_dir) / d.folder / d.files[split]
        if d.credentialed and d.name not in (explicit or set()) and not path.exists():
            print(f"mnlu eval: skipping {d.name}: {path} is absent (credentialed; name it explicitly to require it)",
                  file=sys.stderr)
            continue
        out[d.name] = d.items(data_dir, split, limit)
    return out


def _export(items: Mapping[str, list[EvalItem]], path: Path) -> int:
    lines = [json.dumps(it.record, ensure_ascii=False) + "\n" for rows in items.values() for it in rows]
    atomic_write(path, "".join(lines))
    return len(lines)


def _score(
    name: str, rows: list[dict[str, Any]], items: list[EvalItem] | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score one dataset's prediction rows: paper-style always, official when the gold items are known."""
    entry: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    if items is not None:
        by_id = {r["prompt_id"]: r for r in rows}
        missing = [it.prompt_id for it in items if it.prompt_id not in by_id]
        rows = [prediction_row(it.record, by_id[it.prompt_id]["prediction"] if it.prompt_id in by_id else "")
                for it in items]
        official = DATASETS[name].official(items, {r["prompt_id"]: r["prediction"] for r in rows})
        entry.update(official=official.score, metric=official.metric, n=official.n, unparsed=official.unparsed,
                     missing=len(missing))
        if "ceiling" in official.details:
            entry["ceiling"] = official.details["ceiling"]
        entry["details"] = {k: v for k, v in official.details.items() if k != "ceiling"}
        errors = [{"scorer": "official", **e} for e in official.errors]
    else:
        for i, r in enumerate(rows):
            lacking = [k for k in PREDICTION_FIELDS if k not in r]
            if lacking:
                raise EvalError(f"{name}: prediction {r.get('prompt_id', i)!r} lacks {lacking}; paper-style scoring "
                                f"needs {list(PREDICTION_FIELDS)}")
    paper = score_paper(rows)
    entry["paper"] = paper.score
    entry["paper_unparsed"] = paper.unparsed
    entry.setdefault("n", paper.n)
    entry.setdefault("metric", DATASETS[name].metric if name in DATASETS else "paper-style")
    if name in DATASETS:
        entry["task"] = DATASETS[name].task  # the BLURB/BLUE task group, for reports that group by task
    errors += [{"scorer": "paper", **e} for e in paper.errors]
    ordered = {k: entry[k] for k in ("official", "paper", "metric", "task", "n", "unparsed", "paper_unparsed",
                                     "ceiling", "missing", "details") if k in entry}
    return ordered, errors


def _summary(results: Mapping[str, Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    def f(x):
        return "n/a" if x is None else f"{x:6.2f}"

    lines = [f"{'dataset':<14} {'official':>8} {'paper':>8} {'n':>6} {'unparsed':>8}"]
    for name, e in results.items():
        lines.append(f"{name:<14} {f(summary[name].get('official')):>8} {f(summary[name].get('paper')):>8} "
                     f"{e.get('n', 0):>6} {e.get('unparsed', e.get('paper_unparsed', 0)):>8}")
    for k in ("blurb", "blue", "blurb_paper", "blue_paper"):
        if k in summary:
            lines.append(f"{k:<14} {f(summary[k]):>8}")
    return "\n".join(lines)


def _finish(out: Path, results: dict, errors: dict) -> None:
    summary = write_report(out, results, errors)
    print(_summary(results, summary))
    print(f"results: {out / 'results.json'}")


def _score_file(args: argparse.Namespace) -> int:
    if args.out is None:
        raise EvalError("--out is required with --predictions")
    if not args.predictions.exists():
        raise EvalError(f"--predictions {args.predictions}: file not found")
    rows = read_predictions(args.predictions)
    seen: set[str] = set()
    for r in rows:
        if r["prompt_id"] in seen:
            raise EvalError(f"{args.predictions}: prompt_id {r['prompt_id']!r} appears twice")
        seen.add(r["prompt_id"])
    results, errors = {}, {}
    if args.benchmarks:
        datasets = resolve(args.benchmarks)
        items = _load(datasets, args.data_dir, args.split, args.limit, _explicit_names(args.benchmarks))
        datasets = [d for d in datasets if d.name in items]
        known = {it.prompt_id for rows_ in items.values() for it in rows_}
        extra = sum(r["prompt_id"] not in known for r in rows)
        if extra:
            print(f"mnlu eval: {extra} prediction(s) match no record of {args.benchmarks} ({args.split}); ignored",
                  file=sys.stderr)
        for d in datasets:
            ids = {it.prompt_id for it in items[d.name]}
            results[d.name], errors[d.name] = _score(d.name, [r for r in rows if r["prompt_id"] in ids],
                                                     items[d.name])
    else:
        groups: dict[str, list] = defaultdict(list)
        for r in rows:
            name = dataset_of(r["prompt_id"])
            groups[name if name in DATASETS else args.predictions.stem].append(r)
        for name, group in groups.items():
            results[name], errors[name] = _score(name, group, None)
    _finish(args.out, results, errors)
    return 0


def _generate(args: argparse.Namespace) -> int:
    missing = [f for f, v in (("--model", args.model), ("--benchmarks", args.benchmarks),
                              ("--data-dir", args.data_dir), ("--out", args.out)) if v is None]
    if missing:
        raise EvalError(f"generation needs {', '.join(missing)} (or use --list, --export-prompts, --predictions)")
    if not args.model.is_dir():
        raise EvalError(f"--model {args.model}: not a directory")
    if args.batch_size < 1 or args.max_new_tokens < 1:
        raise EvalError("--batch-size and --max-new-tokens must be at least 1")
    datasets = resolve(args.benchmarks)
    # every input is checked before the model loads
    items = _load(datasets, args.data_dir, args.split, args.limit, _explicit_names(args.benchmarks))
    datasets = [d for d in datasets if d.name in items]
    from eval.backends.identity import generation_identity, model_identity, prompt_identity
    from eval.backends.render import encode_prompt

    model = model_identity(args.model)
    settings = {"backend": args.backend, "max_new_tokens": args.max_new_tokens, "temperature": 0,
                "dtype": args.dtype or "checkpoint"}
    generation = generation_identity(settings)
    print(f"mnlu eval: model {args.model} identity {model}; {generation}", file=sys.stderr)
    stores = {d.name: args.out / "predictions" / f"{d.name}.jsonl" for d in datasets}
    for path in stores.values():  # a foreign predictions file is an error before the model loads
        PredictionLog(path, model=model, generation=generation, overwrite=args.overwrite)
    from eval.backends import make_generator

    generator = make_generator(args.backend, args.model, max_new_tokens=args.max_new_tokens,
                               tensor_parallel_size=args.tensor_parallel_size, dtype=args.dtype,
                               batch_size=args.batch_size)
    order = None
    if hasattr(generator, "prompt_length"):
        order = generator.prompt_length  # sort by length so batches share a length bucket
    results, errors = {}, {}
    for d in datasets:
        records = [it.record for it in items[d.name]]
        rows = run_generation(records, generator, stores[d.name], batch_size=args.batch_size, order=order,
                              desc=d.name, progress=not args.no_progress, model=model, generation=generation,
                              prompt_key=lambda r: prompt_identity(encode_prompt(generator.tokenizer, r)))
        results[d.name], errors[d.name] = _score(d.name, rows, items[d.name])
    _finish(args.out, results, errors)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.limit is not None and args.limit < 1:
            raise EvalError("--limit must be at least 1")
        if args.list:
            print(_listing())
            return 0
        if args.export_prompts is not None:
            if not args.benchmarks:
                raise EvalError("--export-prompts needs --benchmarks and --data-dir")
            items = _load(resolve(args.benchmarks), args.data_dir, args.split, args.limit,
                          _explicit_names(args.benchmarks))
            n = _export(items, args.export_prompts)
            print(f"wrote {n} records to {args.export_prompts}")
            return 0
        if args.predictions is not None:
            return _score_file(args)
        return _generate(args)
    except (EvalError, UnknownBenchmark, FileNotFoundError, ValueError) as e:  # StoreMismatch is a ValueError
        print(f"mnlu eval: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
