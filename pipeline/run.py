"""The pipeline's run loop and the `mnlu pipeline` command.

Each stage records a marker `<run_dir>/.pipeline/<stage>.json` holding a fingerprint of its settings, of the
contents of every recipe it reads, of the stages before it and of the project version. A stage is skipped when its
marker matches; a stage killed midway is simply run again — its commands write atomically or resume (training
restarts from its last checkpoint, evaluation from its predictions log), so a second run finishes without redoing
finished stages and gives the same results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline import stages
from pipeline.config import PipelineConfig, PipelineError, load_pipeline_config

STAGES = tuple(stages.STAGES)


class Pipeline:
    """One run directory: the stages' markers, fingerprints and timings."""

    def __init__(self, cfg: PipelineConfig, config_path: Path, *, progress: bool = True):
        self.cfg = cfg
        self.config_path = config_path
        self.run_dir = Path(cfg.run_dir).resolve()
        self.markers = self.run_dir / ".pipeline"
        self.progress = progress
        self.fingerprints: dict[str, str] = {}
        self.timings: dict[str, float | None] = {}
        self.started = time.perf_counter()

    def path(self, *parts: str) -> Path:
        return self.run_dir.joinpath(*parts)

    def progress_flag(self) -> list[str]:
        return [] if self.progress else ["--no-progress"]

    def base_dir(self) -> Path:
        model = self.cfg.base.model
        return self.path("base") if model == "tiny" else Path(model).resolve()

    # ----------------------------------------------------------------------------------------- markers

    def fingerprint(self, stage: str) -> str:
        """Settings + the contents of every recipe the stage reads + upstream fingerprints + project version, so
        editing e.g. configs/tiny.yaml's learning rate reruns train and everything after it."""
        from mnlu import __version__

        upstream = [self.fingerprints[s] for s in STAGES[: STAGES.index(stage)] if s in self.fingerprints]
        recipes = {}
        for f in stages.recipe_files(self, stage):
            try:
                recipes[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
            except FileNotFoundError:
                raise PipelineError(f"{stage}: recipe {f} not found") from None
        inputs = {k: stages.folder_digest(v) for k, v in stages.input_folders(self, stage).items()}
        blob = json.dumps({"stage": stage, "settings": self.cfg.section(stage), "recipes": recipes,
                           "inputs": inputs, "upstream": upstream, "version": __version__}, sort_keys=True)
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
            for out in stages.STAGE_OUTPUTS[stage]:
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

    # --------------------------------------------------------------------------------------------- run

    def run(self, *, force: Sequence[str] = ()) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stage, step in stages.STAGES.items():
            fingerprint = self.fingerprint(stage)
            self.fingerprints[stage] = fingerprint
            if stage not in force and self._done(stage, fingerprint):
                print(f"[pipeline] {stage}: complete, skipped", flush=True)
                self.timings[stage] = None
                continue
            self._begin(stage, fingerprint)
            start = time.perf_counter()
            step(self)
            elapsed = time.perf_counter() - start
            self.timings[stage] = elapsed
            self._mark(stage, fingerprint, elapsed)
        return self.summarise()

    def summarise(self) -> Path:
        """results.md (reproducible), timings.md, loss.png and models.png in the run directory; prints their paths."""
        from pipeline import report

        sets = stages.eval_sets(self)
        models = list(self.cfg.eval.models)
        collected = report.collect(self.path("eval"), models, [name for name, _, _ in sets])
        descriptions = {}
        for name, value, _ in sets:
            limit = f", the first {value.limit} records per dataset" if value.limit else ""
            descriptions[name] = ("eval/demo_data, made-up BLURB-layout records" if value.data_dir == "demo"
                                  else f"{value.data_dir}{limit}")
        out = self.path("results.md")
        text = report.results_markdown(collected, models, descriptions)
        report.atomic_write(out, text)
        seconds = {}
        for stage in STAGES:
            ran = self.timings.get(stage) is not None
            took = self.timings.get(stage)
            if not ran:
                try:
                    took = json.loads((self.markers / f"{stage}.json").read_text()).get("seconds")
                except (FileNotFoundError, json.JSONDecodeError):
                    took = None
            seconds[stage] = (took, ran)
        losses, train_summary = report.read_metrics(self.path("train", "metrics.jsonl"))
        total = time.perf_counter() - self.started
        report.atomic_write(self.path("timings.md"), report.timings_markdown(seconds, train_summary, total))
        report.loss_plot(self.path("loss.png"), losses)
        report.models_plot(self.path("models.png"), collected, models)
        print("\n" + text, flush=True)
        for name in ("results.md", "timings.md", "loss.png", "models.png"):
            print(f"[pipeline] {name}: {self.path(name)}", flush=True)
        print(f"[pipeline] run directory: {self.run_dir} ({total:.0f} s this run)", flush=True)
        return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mnlu pipeline", description="the whole system, stage by stage, in one run "
                                 "directory: " + ", ".join(STAGES))
    ap.add_argument("--config", default="configs/demo.yaml", help="pipeline YAML (default configs/demo.yaml)")
    ap.add_argument("--run-dir", help="override the config's run_dir")
    ap.add_argument("--force", default="", help=f"comma-separated stages to rerun even if complete ({', '.join(STAGES)})")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    path = Path(args.config)
    try:
        cfg = load_pipeline_config(path)
        if args.run_dir:
            cfg = cfg.with_run_dir(args.run_dir)
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
