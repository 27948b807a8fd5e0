"""`run_merge`: preflight, plan, execute into a temporary directory, finish the HF directory, rename."""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from pathlib import Path

from .config import MergeConfig, describe_setting, validate
from .dtypes import TORCH_NAMES
from .errors import MergeError
from .executor import Run, default_threads
from .hf_output import write_config, write_generation_config, write_model_card, write_report, write_tokenizer
from .plan import Plan, build_plan
from .safetensors_io import ShardWriter


def _resolved(cfg: MergeConfig, m) -> dict:
    """A model's weight / density / drop_rate: numbers when they hold for every tensor, else the lists."""
    listed = any(isinstance(x, tuple) for x in (m.weight, m.density, m.drop_rate, cfg.weight, cfg.density,
                                                 cfg.drop_rate))
    if listed:
        return {"weight": describe_setting(m.weight), "density": describe_setting(m.density),
                "drop_rate": describe_setting(m.drop_rate)}
    return {"weight": cfg.model_weight(m), "density": cfg.model_density(m), "drop_rate": cfg.model_drop_rate(m)}


def recipe_of(plan: Plan) -> dict:
    cfg = plan.cfg
    return {
        "tool": "mnlu merge",
        "merge_method": cfg.merge_method,
        "rng": cfg.rng,
        "seed": cfg.seed,
        "base": {"path": cfg.base_model, "fingerprint": plan.base.fingerprint()},
        "models": [
            {"path": m.path, **_resolved(cfg, m), "fingerprint": src.fingerprint()}
            for m, src in zip(cfg.finetuned(), plan.finetuned, strict=True)
        ],
        "slots": None if plan.slots is None else ["base" if s is None else s for s in plan.slots],
        "rescale": cfg.effective_rescale,
        "normalize": cfg.effective_normalize,
        "lambda": cfg.lambda_,
        "weight": describe_setting(cfg.weight),
        "density": describe_setting(cfg.density),
        "drop_rate": describe_setting(cfg.drop_rate),
        "add_pad_token": cfg.add_pad_token,
        "dtype": None if cfg.dtype is None else TORCH_NAMES[cfg.dtype],
        "out_dtype": None if cfg.out_dtype is None else TORCH_NAMES[cfg.out_dtype],
        "compute_dtype": "float32",
        "vocab_policy": cfg.vocab_policy,
        "include": list(cfg.include),
        "exclude": list(cfg.exclude),
        "fingerprints": "sha256 of each input's safetensors headers and sizes (orbax: of _METADATA)",
    }


def run_merge(cfg: MergeConfig, out: str | Path | None = None, *, force: bool = False, dry_run: bool = False,
              progress: bool = True, threads: int | None = None, log=print) -> dict | None:
    """Merge per `cfg` into the HF directory `out`; returns a summary (None for a dry run)."""
    cfg = validate(cfg)
    out = Path(out or cfg.out or "")
    if not str(out) or out == Path("."):
        raise MergeError("no output directory (give out: in the YAML or --out)")
    if out.exists() and not force:
        raise MergeError(f"{out}: already exists; choose a new --out or pass --force to replace it")
    plan = build_plan(cfg, check_disk=out.parent)
    n_threads = int(threads or cfg.threads or default_threads())
    log(plan.describe(n_threads))
    if dry_run:
        return None
    start = time.perf_counter()
    recipe = recipe_of(plan)
    metadata = {"format": "pt", "mnlu_merge": json.dumps(recipe, sort_keys=True)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    writer = None
    try:
        writer = ShardWriter(tmp, [(t.name, t.out_dtype, t.shape) for t in plan.tensors], cfg.max_shard_size,
                             metadata)
        stats = Run(plan, writer, n_threads, cfg.chunk_elements, progress).execute()
        writer.close(fsync=cfg.fsync)
        config = write_config(plan, tmp)
        write_generation_config(plan, tmp, config)
        write_tokenizer(plan, tmp)
        write_model_card(plan, tmp, recipe)
        write_report(plan, tmp, recipe, stats)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        if writer is not None:
            writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        for src in [plan.base, *plan.finetuned]:
            src.close()
    seconds = time.perf_counter() - start
    summary = {
        "out": str(out),
        "seconds": round(seconds, 2),
        "read_gb": round(plan.in_bytes / 1e9, 3),
        "written_gb": round(plan.out_bytes / 1e9, 3),
        "gb_per_s": round((plan.in_bytes + plan.out_bytes) / 1e9 / max(seconds, 1e-9), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": n_threads,
    }
    log(f"merged {len(plan.tensors)} tensors into {out} in {seconds:.1f} s "
        f"({summary['gb_per_s']:.2f} GB/s read+write, peak RSS {summary['peak_rss_mb']:.0f} MB)")
    return summary
