"""`mnlu pipeline --config configs/demo.yaml`: the whole system, stage by stage, in one run directory.

    data   native corpora → MNLU-Instruct (`mnlu data build`)
    base   the base model as an HF directory (the tiny default from its seed, or a given directory)
    train  sharded fine-tuning (`mnlu train`, simulated CPU devices when asked)
    export the last checkpoint → HF directory (`mnlu export`)
    merge  DARE merge of the fine-tuned model with its base (`mnlu merge`, the paper's recipe)
    eval   zero-shot evaluation of the merged model (`mnlu eval`), on the demo sets and the shared sets

Each stage runs as its own process (so the training run can have its own device set-up) and records a marker
`<run_dir>/.pipeline/<stage>.json` holding a fingerprint of its settings and of the stages before it. A stage is
skipped when its marker matches; a stage killed midway is simply run again — its commands write atomically or
resume (training restarts from its last checkpoint, evaluation from its predictions log), so a second run
finishes without redoing finished stages and gives the same results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

STAGES = ("data", "base", "train", "export", "merge", "eval")
STAGE_OUTPUTS = {
    "data": ("data",), "base": ("base",), "train": ("train",), "export": ("finetuned",), "merge": ("merged",),
    "eval": ("eval",),
}
TOP_KEYS = {"run_dir", "data", "base", "train", "export", "merge", "eval"}
SECTION_KEYS = {
    "data": {"raw", "config", "max_seq_length", "workers", "corpora"},
    "base": {"model"},
    "train": {"config", "devices", "overrides"},
    "export": {"dtype"},
    "merge": {"method", "drop_rate", "weight", "rescale", "rng", "seed", "add_pad_token", "dtype", "threads"},
    "eval": {"backend", "max_new_tokens", "batch_size", "demo", "shared"},
}
EVAL_SET_KEYS = {"data_dir", "benchmarks", "limit", "split"}


class PipelineError(RuntimeError):
    """A stage failed or the pipeline config is wrong; the message names the stage or key."""


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def load_pipeline_config(path: Path) -> dict[str, Any]:
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found") from None
    except yaml.YAMLError as e:
        raise PipelineError(f"{path}: invalid YAML ({e})") from None
    if not isinstance(cfg, dict):
        raise PipelineError(f"{path}: expected a mapping at the top level")
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise PipelineError(f"{path}: unknown key(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    for section, valid in SECTION_KEYS.items():
        value = cfg.get(section) or {}
        if not isinstance(value, dict):
            raise PipelineError(f"{path}: '{section}' must be a mapping")
        bad = set(value) - valid
        if bad:
            raise PipelineError(f"{path}: unknown key(s) {sorted(bad)} in '{section}'; valid: {sorted(valid)}")
    for name in ("demo", "shared"):
        value = (cfg.get("eval") or {}).get(name) or {}
        bad = set(value) - EVAL_SET_KEYS
        if bad:
            raise PipelineError(f"{path}: unknown key(s) {sorted(bad)} in 'eval.{name}'; valid: {sorted(EVAL_SET_KEYS)}")
    if "run_dir" not in cfg:
        raise PipelineError(f"{path}: 'run_dir' is required")
    return cfg


class Pipeline:
    def __init__(self, cfg: dict[str, Any], config_path: Path, *, progress: bool = True):
        self.cfg = cfg
        self.config_path = config_path
        self.run_dir = Path(cfg["run_dir"]).resolve()
        self.markers = self.run_dir / ".pipeline"
        self.progress = progress
        self.fingerprints: dict[str, str] = {}
        self.timings: dict[str, float | None] = {}

    # ---------------------------------------------------------------------------------------------- helpers

    def path(self, *parts: str) -> Path:
        return self.run_dir.joinpath(*parts)

    def recipe_files(self, stage: str) -> list[Path]:
        """The recipe/config files a stage reads: their contents, not their paths, go into its fingerprint."""
        if stage == "train":
            return [Path((self.cfg.get("train") or {}).get("config", "configs/tiny.yaml"))]
        if stage == "data" and (self.cfg.get("data") or {}).get("config"):
            return [Path(self.cfg["data"]["config"])]
        return []

    def _fingerprint(self, stage: str) -> str:
        """Settings + the contents of every recipe the stage reads + upstream fingerprints + project version, so
        editing e.g. configs/tiny.yaml's learning rate reruns train and everything after it."""
        from mnlu import __version__

        upstream = [self.fingerprints[s] for s in STAGES[: STAGES.index(stage)] if s in self.fingerprints]
        recipes = {}
        for f in self.recipe_files(stage):
            try:
                recipes[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
            except FileNotFoundError:
                raise PipelineError(f"{stage}: recipe {f} not found") from None
        blob = json.dumps({"stage": stage, "settings": self.cfg.get(stage), "recipes": recipes,
                           "upstream": upstream, "version": __version__}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _done(self, stage: str, fingerprint: str) -> bool:
        marker = self.markers / f"{stage}.json"
        if not marker.is_file():
            return False
        try:
            return json.loads(marker.read_text()).get("fingerprint") == fingerprint
        except json.JSONDecodeError:
            return False

    def _begin(self, stage: str, fingerprint: str) -> None:
        """Record that `stage` started with these settings; a leftover from different settings is removed, so a
        killed stage resumes only what the same settings produced (training restarts from its checkpoints)."""
        self.markers.mkdir(parents=True, exist_ok=True)
        started = self.markers / f"{stage}.started"
        if started.is_file() and started.read_text().strip() != fingerprint:
            for out in STAGE_OUTPUTS[stage]:
                target = self.path(out)
                if target.is_dir():
                    print(f"[pipeline] {stage}: settings changed; removing {target}", flush=True)
                    shutil.rmtree(target)
        (self.markers / f"{stage}.json").unlink(missing_ok=True)
        started.write_text(fingerprint + "\n")

    def _mark(self, stage: str, fingerprint: str, seconds: float) -> None:
        self.markers.mkdir(parents=True, exist_ok=True)
        tmp = self.markers / f".{stage}.json.tmp"
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "seconds": round(seconds, 1)}) + "\n")
        tmp.replace(self.markers / f"{stage}.json")

    def _mnlu(self, stage: str, args: list[str], env: dict[str, str] | None = None) -> None:
        cmd = [sys.executable, "-m", "mnlu.cli", *args]
        print(f"[pipeline] {stage}: mnlu {' '.join(args)}", flush=True)
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(cmd, env=full_env)
        if done.returncode != 0:
            raise PipelineError(f"stage '{stage}' failed (exit {done.returncode}): mnlu {' '.join(args)}")

    def _cpu_env(self, devices: int | None) -> dict[str, str]:
        env = {"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
        if devices:
            flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
            env["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={int(devices)}"])
        return env

    def _progress_flag(self) -> list[str]:
        return [] if self.progress else ["--no-progress"]

    # ----------------------------------------------------------------------------------------------- stages

    def stage_data(self) -> None:
        spec = self.cfg.get("data") or {}
        raw = spec.get("raw", "demo")
        if raw == "demo":
            from mnlu import demo_data_dir

            raw = str(demo_data_dir())
        args = ["data", "build", "--raw", str(raw), "--out", str(self.path("data")), "--overwrite"]
        if spec.get("config"):
            args += ["--config", str(spec["config"])]
        if spec.get("max_seq_length"):
            args += ["--max-seq-length", str(spec["max_seq_length"])]
        if spec.get("workers"):
            args += ["--workers", str(spec["workers"])]
        if spec.get("corpora"):
            args += ["--corpora", ",".join(spec["corpora"]) if isinstance(spec["corpora"], list) else str(spec["corpora"])]
        self._mnlu("data", args + self._progress_flag())

    def stage_base(self) -> None:
        model = (self.cfg.get("base") or {}).get("model", "tiny")
        if model != "tiny":
            if not (Path(model) / "config.json").is_file():
                raise PipelineError(f"base.model {model!r} is neither 'tiny' nor an HF directory with config.json")
            return
        code = (
            "from train_jax.tiny import ensure_base_dir; import sys; ensure_base_dir(sys.argv[1]); "
            "print('[pipeline] base: tiny model written to', sys.argv[1])"
        )
        done = subprocess.run([sys.executable, "-c", code, str(self.path("base"))], env={**os.environ, **self._cpu_env(None)})
        if done.returncode != 0:
            raise PipelineError(f"stage 'base' failed (exit {done.returncode})")

    def base_dir(self) -> Path:
        model = (self.cfg.get("base") or {}).get("model", "tiny")
        return self.path("base") if model == "tiny" else Path(model).resolve()

    def stage_train(self) -> None:
        spec = self.cfg.get("train") or {}
        recipe_path = Path(spec.get("config", "configs/tiny.yaml"))
        recipe = yaml.safe_load(recipe_path.read_text()) or {}
        for key in ("data_build", "model"):
            recipe.pop(key, None)
        recipe.update(spec.get("overrides") or {})
        recipe["model_name_or_path"] = str(self.base_dir())
        recipe["dataset_mixer"] = {str(self.path("data", "train")): 1.0}
        recipe["output_dir"] = str(self.path("train"))
        if not self.progress:
            recipe["disable_tqdm"] = True
        generated = self.path("train_config.yaml")
        generated.parent.mkdir(parents=True, exist_ok=True)
        generated.write_text(
            f"# generated by `mnlu pipeline` from {recipe_path} and {self.config_path}\n"
            + yaml.safe_dump(recipe, sort_keys=False)
        )
        self._mnlu("train", ["train", "--config", str(generated)], env=self._cpu_env(spec.get("devices")))

    def stage_export(self) -> None:
        dtype = (self.cfg.get("export") or {}).get("dtype")
        args = ["export", "--checkpoint", str(self.path("train")), "--out", str(self.path("finetuned")), "--overwrite"]
        if dtype:
            args += ["--dtype", str(dtype)]
        self._mnlu("export", args, env=self._cpu_env(None))

    def stage_merge(self) -> None:
        spec = {"method": "dare_linear", "drop_rate": 0.2, "weight": 0.5, "rescale": True, "rng": "mergelm", "seed": 0}
        spec.update(self.cfg.get("merge") or {})
        args = [
            "merge", "--base", str(self.base_dir()), "--finetuned", str(self.path("finetuned")),
            "--out", str(self.path("merged")), "--method", spec["method"], "--drop-rate", str(spec["drop_rate"]),
            "--weight", str(spec["weight"]), "--rng", spec["rng"], "--seed", str(spec["seed"]), "--force",
        ]
        args.append("--rescale" if spec.get("rescale", True) else "--no-rescale")
        if spec.get("add_pad_token"):
            args.append("--add-pad-token")
        for key in ("dtype", "threads"):
            if spec.get(key):
                args += [f"--{key}", str(spec[key])]
        self._mnlu("merge", args + self._progress_flag())

    def eval_sets(self) -> list[tuple[str, dict[str, Any]]]:
        spec = self.cfg.get("eval") or {}
        sets = []
        for name in ("demo", "shared"):
            value = dict(spec.get(name) or {})
            if not value:
                continue
            data_dir = value.get("data_dir", "demo")
            if data_dir == "demo":
                value["data_dir"] = str(_repo_root() / "eval" / "demo_data")
            elif not Path(data_dir).is_dir():
                print(f"[pipeline] eval: skipping the '{name}' sets: {data_dir} is absent", flush=True)
                continue
            sets.append((name, value))
        return sets

    def stage_eval(self) -> None:
        spec = self.cfg.get("eval") or {}
        for name, value in self.eval_sets():
            args = [
                "eval", "--model", str(self.path("merged")), "--backend", spec.get("backend", "jax"),
                "--benchmarks", str(value.get("benchmarks", "blurb")), "--data-dir", str(value["data_dir"]),
                "--out", str(self.path("eval", name)),
                "--max-new-tokens", str(spec.get("max_new_tokens", 64)), "--batch-size", str(spec.get("batch_size", 8)),
            ]
            if value.get("limit"):
                args += ["--limit", str(value["limit"])]
            if value.get("split"):
                args += ["--split", str(value["split"])]
            self._mnlu("eval", args + self._progress_flag(), env=self._cpu_env(None))

    # ------------------------------------------------------------------------------------------------- run

    def run(self, *, force: Sequence[str] = ()) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stage in STAGES:
            fingerprint = self._fingerprint(stage)
            self.fingerprints[stage] = fingerprint
            if stage not in force and self._done(stage, fingerprint):
                print(f"[pipeline] {stage}: complete, skipped", flush=True)
                self.timings[stage] = None
                continue
            self._begin(stage, fingerprint)
            start = time.perf_counter()
            getattr(self, f"stage_{stage}")()
            elapsed = time.perf_counter() - start
            self.timings[stage] = elapsed
            self._mark(stage, fingerprint, elapsed)
        return self.summarise()

    def summarise(self) -> Path:
        lines = [f"# Pipeline results ({self.config_path})", ""]
        lines.append("| stage | time |")
        lines.append("|---|---|")
        for stage in STAGES:
            t = self.timings.get(stage)
            lines.append(f"| {stage} | {'skipped (complete)' if t is None else f'{t:.0f} s'} |")
        for name, _ in self.eval_sets():
            table = self.path("eval", name, "results.md")
            lines += ["", f"## Evaluation: {name} sets", ""]
            lines.append(table.read_text().strip() if table.is_file() else "(no results.md)")
        out = self.path("results.md")
        tmp = out.with_suffix(".md.tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(out)
        print("\n" + "\n".join(lines), flush=True)
        print(f"\n[pipeline] run directory: {self.run_dir}", flush=True)
        return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mnlu pipeline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/demo.yaml", help="pipeline YAML (default configs/demo.yaml)")
    ap.add_argument("--run-dir", help="override the config's run_dir")
    ap.add_argument("--force", default="", help=f"comma-separated stages to rerun even if complete ({', '.join(STAGES)})")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    path = Path(args.config)
    try:
        cfg = load_pipeline_config(path)
        if args.run_dir:
            cfg["run_dir"] = args.run_dir
        force = [s for s in args.force.split(",") if s]
        bad = set(force) - set(STAGES)
        if bad:
            raise PipelineError(f"--force: unknown stage(s) {sorted(bad)}; stages are {', '.join(STAGES)}")
        Pipeline(cfg, path, progress=not args.no_progress).run(force=force)
    except PipelineError as e:
        print(f"mnlu pipeline: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
