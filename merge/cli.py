"""`mnlu merge`: a mergekit-like YAML recipe (--config) and flags for the common one-model case."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from .config import MergeConfig, ModelSpec, from_dict, load_yaml, parse_size, validate, with_overrides
from .dtypes import canonical
from .errors import MergeError
from .methods import METHODS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mnlu merge",
        description="Streamed model merges (linear, task arithmetic, TIES, DARE) into an HF directory. "
        "The paper's recipe: --method dare_linear --drop-rate 0.2 --rescale --weight 0.5 --rng mergelm --seed 0",
    )
    p.add_argument("--config", help="YAML recipe (mergekit-like; see configs/merge_dare.yaml)")
    p.add_argument("--base", help="base model: HF directory")
    p.add_argument("--finetuned", action="append", help="fine-tuned model: HF directory or orbax checkpoint "
                   "(repeat for several)")
    p.add_argument("--out", help="output HF directory (written to a temporary name, then renamed)")
    p.add_argument("--method", choices=sorted(METHODS))
    p.add_argument("--drop-rate", type=float, help="DARE drop probability p (density = 1 - p)")
    p.add_argument("--density", type=float, help="keep fraction (mergekit's word), used as given; 1 - drop rate")
    p.add_argument("--rescale", action=argparse.BooleanOptionalAction, default=None,
                   help="rescale kept DARE deltas by 1/(1-p) (ties: not supported)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="divide by the sum of weights")
    p.add_argument("--weight", type=float, help="weight of each fine-tuned model")
    p.add_argument("--lambda", dest="lambda_", type=float, help="scale of the merged delta")
    p.add_argument("--seed", type=int)
    p.add_argument("--rng", choices=["mergelm", "native"])
    p.add_argument("--add-pad-token", action="store_true", default=None, help="MergeLM's [PAD] token (row = mean)")
    p.add_argument("--dtype", help="mergekit's compute dtype; we always compute in float32, so it only sets "
                   "the output dtype when --out-dtype is absent (default: the base's)")
    p.add_argument("--out-dtype", help="output dtype (default: --dtype, else the base's)")
    p.add_argument("--threads", type=int)
    p.add_argument("--chunk-elements", type=int, help="elements per chunk (memory per thread ~ 40 B each)")
    p.add_argument("--max-shard-size", help="e.g. 5GB")
    p.add_argument("--tokenizer-source", help="base, finetuned, or a directory")
    p.add_argument("--vocab-policy", choices=["error", "base"])
    p.add_argument("--include", action="append", help="regex: merge only matching tensors (repeatable)")
    p.add_argument("--exclude", action="append", help="regex: copy matching tensors from the base (repeatable)")
    p.add_argument("--orbax-prefix", help="path of the model root inside an orbax checkpoint (e.g. model)")
    p.add_argument("--fsync", action="store_true", default=None, help="fsync the shards before the rename")
    p.add_argument("--dry-run", action="store_true", help="check the inputs and print the plan; write nothing")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--no-progress", action="store_true")
    return p


def config_from_args(args: argparse.Namespace) -> MergeConfig:
    if args.config:
        cfg = load_yaml(args.config)
    else:
        if not args.finetuned:
            raise MergeError("give --config, or --base, --finetuned and --method")
        cfg = from_dict({"merge_method": args.method or "", "models": []}, "flags")
    if args.density is not None and args.drop_rate is not None:
        raise MergeError("give --drop-rate or --density, not both")
    sparsity = {}
    if args.density is not None:
        sparsity = {"density": args.density, "drop_rate": None}
    elif args.drop_rate is not None:
        sparsity = {"drop_rate": args.drop_rate, "density": None}
    is_base = [bool(cfg.base_model) and cfg.is_base(m) for m in cfg.models]
    models = list(cfg.models)
    base = args.base or cfg.base_model
    if args.base:
        models = [replace(m, path=args.base) if b else m for m, b in zip(models, is_base, strict=True)]
    if args.finetuned:
        n_ft = sum(not b for b in is_base)
        if n_ft and n_ft != len(args.finetuned):
            raise MergeError(f"--finetuned given {len(args.finetuned)} time(s) but the config lists "
                             f"{n_ft} fine-tuned model(s)")
        if n_ft:
            it = iter(args.finetuned)
            models = [m if b else replace(m, path=next(it)) for m, b in zip(models, is_base, strict=True)]
        else:
            models += [ModelSpec(p) for p in args.finetuned]
            is_base += [False] * len(args.finetuned)
    if args.weight is not None or sparsity:
        models = [
            m if b and args.config
            else replace(m, weight=args.weight if args.weight is not None else m.weight, **sparsity)
            for m, b in zip(models, is_base, strict=True)
        ]
    return with_overrides(
        cfg,
        merge_method=args.method,
        base_model=base,
        models=tuple(models),
        out=args.out,
        rng=args.rng,
        seed=args.seed,
        dtype=canonical(args.dtype, "--dtype") if args.dtype else None,
        out_dtype=canonical(args.out_dtype, "--out-dtype") if args.out_dtype else None,
        rescale=args.rescale,
        normalize=args.normalize,
        lambda_=args.lambda_,
        add_pad_token=args.add_pad_token,
        tokenizer_source=args.tokenizer_source,
        vocab_policy=args.vocab_policy,
        include=tuple(args.include) if args.include else None,
        exclude=tuple(args.exclude) if args.exclude else None,
        threads=args.threads,
        chunk_elements=args.chunk_elements,
        max_shard_size=parse_size(args.max_shard_size) if args.max_shard_size else None,
        orbax_prefix=args.orbax_prefix,
        fsync=args.fsync,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = validate(config_from_args(args), args.config or "flags")
        from .api import run_merge

        run_merge(cfg, cfg.out, force=args.force, dry_run=args.dry_run, progress=not args.no_progress)
    except MergeError as exc:
        print(f"mnlu merge: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
