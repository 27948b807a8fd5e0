"""`mnlu data`: build MNLU-Instruct from native corpora, or list the registered converters.

    mnlu data build --config configs/mnlu.yaml --raw DIR --out DIR [--workers N] [--strict] [--require-all]
    mnlu data list [--raw DIR]

Errors are one line on stderr naming the file, line or offset (never a traceback, never corpus text); the exit
code is 1 for a failed build and 2 for bad arguments or config.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnlu.mixture import ConfigError, load_mixture


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mnlu data", description="Build MNLU-Instruct from native-format corpora.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="convert every corpus of the mixture and write the instruction dataset")
    b.add_argument("--config", type=Path, help="mixture YAML (default: the paper's mixture, as configs/mnlu.yaml)")
    b.add_argument("--raw", type=Path, required=True, help="folder holding one sub-folder per corpus")
    b.add_argument("--out", type=Path, required=True, help="output folder (written atomically)")
    b.add_argument("--corpora", help="comma-separated corpus names to build (default: all of the config)")
    b.add_argument("--workers", type=int, default=1, help="corpora converted in parallel processes (default 1)")
    b.add_argument("--strict", action="store_true", help="a bad record stops the build (default: skip, count)")
    b.add_argument("--require-all", action="store_true", help="an absent or unavailable corpus is an error")
    b.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    b.add_argument("--seed", type=int, help="override the config's seed (seeded splits and distractors)")
    b.add_argument("--max-seq-length", type=int, help="override the config's token budget")
    b.add_argument("--max-train-rows", type=int, help="override the config's cap on each corpus × family train split")
    b.add_argument("--split-sentences", action=argparse.BooleanOptionalAction, default=None,
                   help="override the config's split_sentences: span train items become one item per sentence")
    b.add_argument("--rename-types", type=float, metavar="FRACTION",
                   help="override the config's share of span train items whose types are renamed (mnlu.augment)")
    b.add_argument("--negative-types", type=int, metavar="N",
                   help="override the config's negative_types: up to N absent types (answered None) added to each "
                        "span train item, drawn from the other corpora's types (mnlu.augment)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars (they are also off when stderr "
                   "is not a terminal)")
    b.add_argument("-v", "--verbose", action="store_true", help="list every corpus not built, absent ones too")
    lst = sub.add_parser("list", help="list the registered corpora (and whether --raw has their folders)")
    lst.add_argument("--raw", type=Path)
    return p


def _list(raw: Path | None) -> int:
    from mnlu.corpora import CORPORA
    from mnlu.mixture import PAPER_CORPORA

    for name in sorted(set(CORPORA) | set(PAPER_CORPORA)):
        corpus = CORPORA.get(name)
        if corpus is None:
            print(f"{name:<28} (no converter registered)")
            continue
        found = "" if raw is None else ("  found" if (raw / name).is_dir() else "  absent")
        print(f"{name:<28} {corpus.access}  {','.join(corpus.families):<22} {corpus.title}{found}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "list":
        return _list(args.raw)

    from dataclasses import replace

    from mnlu.build import BuildError, build
    from mnlu.build_stats import summary_text

    try:
        config = load_mixture(args.config)
    except ConfigError as e:
        print(f"mnlu data build: {e}", file=sys.stderr)
        return 2
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.max_seq_length is not None:
        config = replace(config, max_seq_length=args.max_seq_length)
    try:  # MixtureConfig checks its own fields, so a bad flag is reported like a bad config key
        if args.max_train_rows is not None:
            config = replace(config, max_train_rows=args.max_train_rows, source=f"{config.source} + --max-train-rows")
        if args.rename_types is not None:
            config = replace(config, rename_types=args.rename_types, source=f"{config.source} + --rename-types")
        if args.split_sentences is not None:
            config = replace(config, split_sentences=args.split_sentences,
                             source=f"{config.source} + --split-sentences")
        if args.negative_types is not None:
            config = replace(config, negative_types=args.negative_types, source=f"{config.source} + --negative-types")
    except ConfigError as e:
        print(f"mnlu data build: {e}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("mnlu data build: --workers must be ≥ 1", file=sys.stderr)
        return 2
    only = [c.strip() for c in args.corpora.split(",") if c.strip()] if args.corpora else None
    try:
        result = build(config, args.raw, args.out, only=only, strict=args.strict, require_all=args.require_all,
                       workers=args.workers, overwrite=args.overwrite, progress=not args.no_progress)
    except BuildError as e:
        print(f"mnlu data build: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mnlu data build: interrupted; nothing was written to --out", file=sys.stderr)
        return 130
    print(summary_text(result, args.raw, verbose=args.verbose))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
