"""What each pipeline stage runs. Every stage is one process started through a real entry point (`python -m
mnlu.cli <command>` or `python -m train_jax.tiny`), so the training run gets its own device set-up and this
package never imports jax or the other packages' internals."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pipeline.config import EvalSetConfig, PipelineError

if TYPE_CHECKING:
    from pipeline.run import Pipeline

REPO = Path(__file__).resolve().parents[1]


def run_module(stage: str, module: str, args: list[str], env: dict[str, str] | None = None) -> None:
    """`python -m module args...` in a child process; a non-zero exit is a `PipelineError` naming the stage."""
    shown = ("mnlu " if module == "mnlu.cli" else f"python -m {module} ") + " ".join(args)
    print(f"[pipeline] {stage}: {shown}", flush=True)
    done = subprocess.run([sys.executable, "-m", module, *args], env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise PipelineError(f"stage '{stage}' failed (exit {done.returncode}): {shown}")


def cpu_env(devices: int | None) -> dict[str, str]:
    """JAX on the CPU unless told otherwise, with `devices` simulated host devices when given."""
    env = {"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    if devices:
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
        env["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={int(devices)}"])
    return env


def data_sources(p: Pipeline, *, note: bool = False) -> dict[str, Path]:
    """name → raw folder of every training corpus set that will be built: `main` (data.raw) and each
    `data.extra` folder that exists (an absent one is skipped, with a note when `note`)."""
    raw = p.cfg.data.raw
    if raw == "demo":
        from mnlu import demo_data_dir

        raw = str(demo_data_dir())
    sources = {"main": Path(raw)}
    for name, folder in p.cfg.data.extra.items():
        if Path(folder).is_dir():
            sources[name] = Path(folder)
        elif note:
            print(f"[pipeline] data: skipping the extra corpora '{name}': {folder} is absent", flush=True)
    return sources


def data(p: Pipeline) -> None:
    """Each source built separately into data/<name> (its own stats.md and bad_records.jsonl)."""
    spec = p.cfg.data
    shutil.rmtree(p.path("data"), ignore_errors=True)  # no set of an earlier source list survives
    for name, raw in data_sources(p, note=True).items():
        args = ["data", "build", "--raw", str(raw), "--out", str(p.path("data", name)), "--overwrite"]
        if spec.config:
            args += ["--config", spec.config]
        if spec.max_seq_length:
            args += ["--max-seq-length", str(spec.max_seq_length)]
        if spec.workers:
            args += ["--workers", str(spec.workers)]
        if spec.corpora:
            args += ["--corpora", ",".join(spec.corpora)]
        if spec.max_train_rows is not None:
            args += ["--max-train-rows", str(spec.max_train_rows)]
        if spec.rename_types is not None:
            args += ["--rename-types", str(spec.rename_types)]
        if spec.split_sentences is not None:
            args += ["--split-sentences" if spec.split_sentences else "--no-split-sentences"]
        if spec.negative_types is not None:
            args += ["--negative-types", str(spec.negative_types)]
        run_module("data", "mnlu.cli", args + p.progress_flag())


def train_mixture(p: Pipeline) -> dict[str, float]:
    """The dataset_mixer: every built source's train split, whole."""
    return {str(p.path("data", name, "train")): 1.0 for name in data_sources(p)
            if p.path("data", name, "train").is_dir()}


def base(p: Pipeline) -> None:
    model = p.cfg.base.model
    if model != "tiny":
        if not (Path(model) / "config.json").is_file():
            raise PipelineError(f"base.model {model!r} is neither 'tiny' nor an HF directory with config.json")
        return
    run_module("base", "train_jax.tiny", ["--out", str(p.path("base")), "--config", p.cfg.base.config],
               env=cpu_env(None))


def train(p: Pipeline) -> None:
    spec = p.cfg.train
    recipe_path = Path(spec.config)
    recipe = yaml.safe_load(recipe_path.read_text()) or {}
    for key in ("data_build", "model"):
        recipe.pop(key, None)
    recipe.update(spec.overrides)
    recipe["model_name_or_path"] = str(p.base_dir())
    recipe["dataset_mixer"] = train_mixture(p)
    if not recipe["dataset_mixer"]:
        raise PipelineError(f"train: no built train split under {p.path('data')}")
    recipe["output_dir"] = str(p.path("train"))
    if not p.progress:
        recipe["disable_tqdm"] = True
    generated = p.path("train_config.yaml")
    generated.parent.mkdir(parents=True, exist_ok=True)
    generated.write_text(
        f"# generated by `mnlu pipeline` from {recipe_path} and {p.config_path}\n"
        + yaml.safe_dump(recipe, sort_keys=False)
    )
    run_module("train", "mnlu.cli", ["train", "--config", str(generated)], env=cpu_env(spec.devices))


def export(p: Pipeline) -> None:
    args = ["export", "--checkpoint", str(p.path("train")), "--out", str(p.path("finetuned")), "--overwrite"]
    if p.cfg.export.dtype:
        args += ["--dtype", p.cfg.export.dtype]
    run_module("export", "mnlu.cli", args, env=cpu_env(None))


def merge(p: Pipeline) -> None:
    spec = p.cfg.merge
    args = [
        "merge", "--base", str(p.base_dir()), "--finetuned", str(p.path("finetuned")),
        "--out", str(p.path("merged")), "--method", spec.method, "--drop-rate", str(spec.drop_rate),
        "--weight", str(spec.weight), "--rng", spec.rng, "--seed", str(spec.seed), "--force",
    ]
    args.append("--rescale" if spec.rescale else "--no-rescale")
    if spec.add_pad_token:
        args.append("--add-pad-token")
    if spec.dtype:
        args += ["--dtype", spec.dtype]
    if spec.threads:
        args += ["--threads", str(spec.threads)]
    run_module("merge", "mnlu.cli", args + p.progress_flag())


def eval_sets(p: Pipeline, *, note: bool = False) -> list[tuple[str, EvalSetConfig, str]]:
    """(name, settings, resolved data folder) of each configured group whose folder exists (an absent one is
    skipped, with a note when `note`)."""
    sets = []
    for name in ("demo", "shared"):
        value: EvalSetConfig | None = getattr(p.cfg.eval, name)
        if value is None:
            continue
        if value.data_dir == "demo":
            folder = str(REPO / "eval" / "demo_data")
        elif Path(value.data_dir).is_dir():
            folder = value.data_dir
        else:
            if note:
                print(f"[pipeline] eval: skipping the '{name}' sets: {value.data_dir} is absent", flush=True)
            continue
        sets.append((name, value, folder))
    return sets


def model_dir(p: Pipeline, model: str) -> Path:
    """The HF directory of `model` (one of pipeline.config.MODELS)."""
    return p.base_dir() if model == "base" else p.path(model)


def evaluate(p: Pipeline) -> None:
    """Every model of eval.models on the same sets, each into eval/<model>/<set>."""
    spec = p.cfg.eval
    for model in spec.models:
        for name, value, folder in eval_sets(p, note=model == spec.models[0]):
            args = [
                "eval", "--model", str(model_dir(p, model)), "--backend", spec.backend,
                "--benchmarks", value.benchmarks, "--data-dir", folder, "--out", str(p.path("eval", model, name)),
                "--max-new-tokens", str(spec.max_new_tokens), "--batch-size", str(spec.batch_size),
            ]
            if value.limit:
                args += ["--limit", str(value.limit)]
            if value.split:
                args += ["--split", value.split]
            run_module("eval", "mnlu.cli", args + p.progress_flag(), env=cpu_env(None))


STAGES: dict[str, Callable[[Pipeline], None]] = {
    "data": data, "base": base, "train": train, "export": export, "merge": merge, "eval": evaluate,
}
# What each stage writes under the run directory (removed when a stage restarts with other settings).
STAGE_OUTPUTS = {
    "data": ("data",), "base": ("base",), "train": ("train",), "export": ("finetuned",), "merge": ("merged",),
    "eval": ("eval",),
}


def recipe_files(p: Pipeline, stage: str) -> list[Path]:
    """The recipe/config files a stage reads: their contents, not their paths, go into its fingerprint."""
    if stage == "train":
        return [Path(p.cfg.train.config)]
    if stage == "base" and p.cfg.base.model == "tiny":
        return [Path(p.cfg.base.config)]
    if stage == "data" and p.cfg.data.config:
        return [Path(p.cfg.data.config)]
    return []


def input_folders(p: Pipeline, stage: str) -> dict[str, Path]:
    """The input folders a stage reads (raw corpora, evaluation sets): their contents go into its fingerprint, so
    new or edited inputs (or the shared folders appearing) rerun it."""
    if stage == "data":
        return {f"data:{k}": v for k, v in data_sources(p).items()}
    if stage == "eval":
        return {f"eval:{name}": Path(folder) for name, _, folder in eval_sets(p)}
    return {}


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and contents (sorted), so the same inputs give the same digest on
    any machine; files over 64 MiB count by size and mtime instead of contents."""
    h = hashlib.sha256()
    for f in sorted(x for x in folder.rglob("*") if x.is_file() and "__pycache__" not in x.parts):
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        st = f.stat()
        if st.st_size > 64 << 20:
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()
