"""`mnlu train`: one training run from a TrainConfig, resumable at any moment.

Order matters: the config, the data sources and every record are checked (and tokenised) before a model is built
or anything compiled, so a bad key, a missing dataset or a record without an answer fails in seconds. Then the
mesh, the model (initialised from a seed or streamed from an HF directory straight into its shards — skipped when
a checkpoint will be restored), the step compiled ahead of time, and the loop: save every `save_steps` steps and
at each epoch end (`save_strategy: steps`; `save_on_epoch_end: false` gives HF's steps-only behaviour) or at each
epoch end only (`save_strategy: epoch`), and always at the last step and on SIGTERM (then exit 143); resume from
the latest complete checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from train_jax.train_config import TrainConfig, TrainConfigError, resolved_target_capacity

PREEMPTED_EXIT = 143  # 128 + SIGTERM: the run saved a checkpoint and stopped early


@dataclass
class RunResult:
    exit_code: int
    step: int
    total_steps: int
    output_dir: Path
    final_loss: float | None = None


class _SigtermFlag:
    """Single process: SIGTERM sets a flag the loop checks between steps. Several processes: JAX's preemption
    sync manager (installed by jax.distributed) agrees on one step for all of them."""

    def __init__(self, multi_process: bool):
        self.multi = multi_process
        self.hit = False
        self.previous = None
        if not multi_process:
            self.previous = signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, signum, frame) -> None:
        self.hit = True

    def reached(self, step: int) -> bool:
        if self.multi:
            from jax.experimental import multihost_utils

            return bool(multihost_utils.reached_preemption_sync_point(step))
        return self.hit

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _model_config(cfg: TrainConfig):
    from train_jax.config import ConfigError, ModelConfig

    runtime = dict(param_dtype=cfg.param_dtype, dtype=cfg.compute, attention=cfg.attention, remat=cfg.remat,
                   scan_layers=cfg.scan_layers)
    if cfg.model is not None:
        section = dict(cfg.model)
        seed = int(section.pop("init_seed", 0))
        try:
            return ModelConfig(**section, **runtime), seed
        except (TypeError, ConfigError) as e:
            raise ValueError(f"{cfg.source}: model: {e}") from None
    path = Path(cfg.model_name_or_path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{cfg.source}: model_name_or_path {str(path)!r} is not a local HF directory with config.json "
            "(nothing is downloaded; point it at a directory)"
        )
    return ModelConfig.from_hf_file(path / "config.json", **runtime), None


def _tokenizer_source(cfg: TrainConfig) -> str:
    if cfg.model_name_or_path and (Path(cfg.model_name_or_path) / "tokenizer_config.json").is_file():
        return str(Path(cfg.model_name_or_path).resolve())
    return "bundled"


def build_data(cfg: TrainConfig, say=print) -> None:
    """`data_build: {raw, out, config}`: run `mnlu data build` once, when `out` does not exist yet.

    It runs as the `mnlu data` command in a child process: train_jax never imports mnlu's build code.
    """
    spec = cfg.data_build
    if not spec:
        return

    def locate(p: str) -> Path:
        path = Path(p)
        if path.is_absolute() or path.exists() or cfg.config_dir is None:
            return path
        return cfg.config_dir / path if (cfg.config_dir / path).exists() else path

    out = Path(spec["out"])
    if out.exists():
        return
    raw = locate(spec["raw"])
    if not raw.is_dir():
        raise FileNotFoundError(f"{cfg.source}: data_build.raw {spec['raw']!r} is not a directory")
    cmd = [sys.executable, "-m", "mnlu.cli", "data", "build", "--raw", str(raw), "--out", str(out), "--no-progress"]
    if spec.get("config"):
        cmd += ["--config", str(locate(spec["config"]))]
    say(f"data: building MNLU-Instruct from {raw} into {out} (mnlu data build)")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        from train_jax.data_sources import DataError

        tail = "; ".join(done.stderr.strip().splitlines()[-3:])
        raise DataError(f"{cfg.source}: data_build failed (mnlu data build exit {done.returncode}): {tail}")


def prepare_data(cfg: TrainConfig, *, show_progress: bool = True):
    """Resolve the mixer, validate and tokenise every record (no jax needed); errors name file and line."""
    from tqdm import tqdm

    from mnlu.tokenizer import get_tokenizer
    from train_jax.data import tokenize_records
    from train_jax.data_sources import iter_mixture, resolve_mixer

    sources = resolve_mixer(cfg.dataset_mixer, cfg.dataset_splits, cfg.config_dir)
    bar = tqdm(desc="tokenize", unit="rec", disable=not show_progress, dynamic_ncols=True)
    try:
        data = tokenize_records(
            iter_mixture(sources), get_tokenizer(), cfg.max_seq_length,
            assistant_only=cfg.assistant_only_loss, progress=bar,
        )
    finally:
        bar.close()
    return sources, data


def run(cfg: TrainConfig, *, log=print) -> RunResult:
    """Train to the end (or to a SIGTERM); returns the exit code and where it stopped."""
    import jax

    from train_jax import distributed

    if cfg.compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(Path(cfg.compilation_cache_dir).resolve()))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    setup = distributed.initialize(cfg.coordinator_address, cfg.num_processes, cfg.process_id)

    main = jax.process_index() == 0
    say = log if main else (lambda *a, **k: None)
    for note in cfg.notes:
        say(f"note: {note}")
    model_cfg, init_seed = _model_config(cfg)
    if cfg.data_build and setup.num_processes > 1 and not Path(cfg.data_build["out"]).exists():
        raise FileNotFoundError(f"{cfg.source}: data_build.out {cfg.data_build['out']!r} does not exist; build the "
                                "data once (mnlu data build) before a multi-process run")
    if main:
        build_data(cfg, say)
    sources, data = prepare_data(cfg, show_progress=main and not cfg.disable_tqdm)
    say(f"data: {data.num_docs} documents from {len(sources)} source(s), {len(data.ids)} tokens, "
        f"{data.truncated} truncated to {cfg.max_seq_length}, {data.dropped} dropped (no target left)")
    return _train(cfg, model_cfg, init_seed, data, setup, say)


def _train(cfg: TrainConfig, model_cfg, init_seed, data, setup, say, devices=None) -> RunResult:
    import jax
    from flax import nnx

    from train_jax import metrics as M
    from train_jax import optim
    from train_jax.checkpoint import Checkpointer
    from train_jax.loader import Loader
    from train_jax.model import Mistral, abstract_model
    from train_jax.sharding import (
        DEFAULT_RULES,
        batch_parallelism,
        make_mesh,
        rules_from_config,
    )
    from train_jax.train import (
        abstract_state,
        init_state,
        split_model,
        state_shardings,
    )

    out = Path(cfg.output_dir)
    main = jax.process_index() == 0
    if main:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".train_config.json.tmp"
        tmp.write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, out / "train_config.json")
    rules = DEFAULT_RULES if cfg.logical_axis_rules is None else rules_from_config(cfg.logical_axis_rules)
    mesh = make_mesh(cfg.mesh, devices=devices)
    rows_micro = cfg.per_device_train_batch_size * batch_parallelism(mesh, rules)
    loader = Loader(
        data, max_seq_length=cfg.max_seq_length, rows_per_micro_batch=rows_micro,
        accumulation=cfg.gradient_accumulation_steps, seed=cfg.seed, packing=cfg.packing,
        drop_last=cfg.dataloader_drop_last, num_epochs=cfg.num_train_epochs, max_steps=cfg.max_steps,
    )
    ckpt = Checkpointer(out, max_to_keep=cfg.save_total_limit, async_save=cfg.async_checkpointing)
    latest = ckpt.latest_step() if cfg.resume == "auto" else None
    done = 0
    if latest is not None:
        import orbax.checkpoint as ocp

        data_state = ckpt.manager.restore(latest, args=ocp.args.Composite(data=ocp.args.JsonRestore()))["data"]
        loader.load_state_dict(dict(data_state))
        done = latest
    total = loader.total_steps(done)
    warm = optim.warmup_steps(total, cfg.warmup_ratio, cfg.warmup_steps)
    schedule = optim.lr_schedule(cfg.lr_scheduler_type, cfg.learning_rate, total, warm)
    tx = optim.make_optimizer(
        schedule, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
        b1=cfg.adam_beta1, b2=cfg.adam_beta2, eps=cfg.adam_epsilon,
    )
    graphdef, abstract_params = nnx.split(abstract_model(model_cfg), nnx.Param)
    shardings = state_shardings(abstract_params, tx, mesh, rules)
    t0 = time.perf_counter()
    if latest is not None:
        state, _, _ = ckpt.restore(abstract_state(abstract_params, tx, shardings), latest)
        say(f"resumed from {ckpt.directory / str(latest)} (step {latest}, epoch {loader.position.epoch}, "
            f"row {loader.position.row})")
    else:
        if init_seed is not None:  # parameters and AdamW state born sharded, in one compiled function
            state = jax.jit(
                lambda: init_state(split_model(Mistral(model_cfg, rngs=nnx.Rngs(params=init_seed)))[2], tx, cfg.seed),
                out_shardings=shardings,
            )()
        else:
            from train_jax.hf import load_hf

            model = load_hf(cfg.model_name_or_path, dtype=cfg.param_dtype, mesh=mesh, rules=rules,
                            compute_dtype=cfg.compute, attention=cfg.attention, remat=cfg.remat,
                            scan_layers=cfg.scan_layers)
            params = split_model(model)[2]
            del model
            state = jax.jit(lambda p: init_state(p, tx, cfg.seed), out_shardings=shardings)(params)
            del params
    say(f"model: {model_cfg.num_params() / 1e6:.1f}M parameters, mesh {dict(mesh.shape)}, "
        f"{setup.num_processes} process(es); {rows_micro} rows × {cfg.gradient_accumulation_steps} micro-batches × "
        f"{cfg.max_seq_length} tokens per step; {total} steps (warmup {warm})")

    group = cfg.loss_target_group_rows
    most = loader.max_row_targets(group) if cfg.loss_target_capacity == "auto" else None
    capacity = resolved_target_capacity(cfg, most)
    if most is not None:
        unit, units = ("row", "rows") if group == 1 else (f"group of {group} rows", f"groups of {group} rows")
        where = f"at {capacity} positions per {unit}" if capacity else "at every position"
        say(f"loss_target_capacity auto: the output head {where} (the data's {units} hold at most {most} targets; "
            "rounded up to 64)")
    b_shard, step_fn, abstract_args = build_step(cfg, graphdef, abstract_params, tx, schedule, mesh, rules, rows_micro,
                                                 shardings, target_capacity=capacity)
    compiled = step_fn.lower(*abstract_args).compile()
    say(f"compiled the train step in {time.perf_counter() - t0:.1f}s")

    peak, peak_src = M.peak_flops_per_device(cfg.compute, cfg.peak_tflops_per_device)
    flops_step = M.train_flops_per_step(model_cfg, loader.rows_per_step, cfg.max_seq_length)
    n_dev = mesh.size
    log_every = max(1, math.ceil(cfg.logging_steps * total)) if cfg.logging_steps < 1 else int(cfg.logging_steps)
    logger = M.MetricsLogger(out, total_steps=total, start_step=done, reporters=cfg.reporters, enabled=main,
                             show_bar=not cfg.disable_tqdm)
    logger.event({"event": "start" if latest is None else "resume", "step": done, "total_steps": total,
                  "peak_flops_per_device": peak, "peak_source": peak_src, "devices": n_dev,
                  "processes": setup.num_processes})
    meta = {
        "model_config": {**model_cfg.to_hf_dict(cfg.export_dtype), "init_seed": init_seed},
        "runtime": {"param_dtype": cfg.param_dtype, "dtype": cfg.compute, "attention": cfg.attention,
                    "remat": cfg.remat, "scan_layers": cfg.scan_layers},
        "export_dtype": cfg.export_dtype,
        "tokenizer": _tokenizer_source(cfg),
        "total_steps": total,
    }
    sigterm = _SigtermFlag(setup.num_processes > 1)
    step = done
    exit_code = 0
    last_loss = None
    t_last, step_last = time.perf_counter(), step
    train_t0 = time.perf_counter()
    try:
        while step < total:
            if sigterm.reached(step):
                ckpt.save(state, loader.state_dict(), meta)
                ckpt.wait()
                say(f"SIGTERM: saved a checkpoint at step {step}; exiting with {PREEMPTED_EXIT} (rerun to resume)")
                logger.event({"event": "preempted", "step": step})
                exit_code = PREEMPTED_EXIT
                break
            batch = loader.device_batch(b_shard)
            state, metrics = compiled(state, batch)
            if capacity > 0 and int(metrics["targets_dropped"]) > 0:
                raise TrainConfigError(
                    f"{cfg.source}: loss_target_capacity {capacity}: step {step + 1} has "
                    f"{int(metrics['targets_dropped'])} target token(s) past it in their rows; raise "
                    f"loss_target_capacity (at most max_seq_length), or set it to auto or 0 (the head at every "
                    f"position)")
            epoch_end = loader.advance()
            step += 1
            logger.advance()
            if step % log_every == 0 or step == total or (cfg.logging_first_step and step == 1):
                values = {k: float(v) for k, v in jax.device_get(metrics).items()}
                now = time.perf_counter()
                dt = (now - t_last) / max(1, step - step_last)
                values["tokens_per_s"] = loader.rows_per_step * cfg.max_seq_length / dt
                values["mfu"] = flops_step / dt / (peak * n_dev)
                values["epoch"] = loader.epoch_progress()
                values["step_time_s"] = dt
                logger.log(step, values)
                last_loss = values["loss"]
                t_last, step_last = now, step
            by_steps = cfg.save_strategy == "steps" and step % cfg.save_steps == 0
            by_epoch = epoch_end and (cfg.save_strategy == "epoch"
                                      or (cfg.save_strategy == "steps" and cfg.save_on_epoch_end))
            if step == total or by_steps or by_epoch:
                ckpt.save(state, loader.state_dict(), meta)
        ckpt.wait()
    finally:
        sigterm.restore()
        ckpt.close()
        logger.close()
    elapsed = time.perf_counter() - train_t0
    if exit_code == 0:
        summary = {"event": "summary", "step": step, "total_steps": total, "seconds": round(elapsed, 2),
                   "final_loss": last_loss, "documents": data.num_docs, "truncated": data.truncated,
                   "dropped": data.dropped, "checkpoint": str(ckpt.directory / str(step))}
        logger.event(summary)
        say(f"done: {step} steps in {elapsed:.1f}s, final loss {last_loss}, checkpoint {summary['checkpoint']}")
    return RunResult(exit_code, step, total, out, last_loss)


def build_step(cfg: TrainConfig, graphdef, abstract_params, tx, schedule, mesh, rules, rows_micro: int, shardings,
               target_capacity: int | None = None):
    """(batch sharding, the jitted train step, its abstract (state, batch) arguments): the one place the step is
    built, shared by the real run and the compile-only planner (train_jax.plan), so both compile the same program.
    `target_capacity`: the resolved `loss_target_capacity` (None: resolved without data, see
    `resolved_target_capacity`)."""
    import jax
    import numpy as np

    from train_jax.sharding import batch_sharding
    from train_jax.train import abstract_state, jit_train_step, make_train_step

    shape = (cfg.gradient_accumulation_steps, rows_micro, cfg.max_seq_length)
    b_shard = batch_sharding(mesh, shape, rules)
    capacity = resolved_target_capacity(cfg) if target_capacity is None else target_capacity
    step_fn = jit_train_step(
        make_train_step(graphdef, tx, schedule, mesh=mesh, rules=rules, grad_shardings=shardings.params,
                        loss_block_size=cfg.loss_block_size, loss_target_capacity=capacity,
                        loss_target_group_rows=cfg.loss_target_group_rows,
                        attention_query_block=cfg.attention_query_block,
                        mlp_block_size=cfg.mlp_block_size),
        shardings, b_shard, mesh,
    )
    abstract_batch = {k: jax.ShapeDtypeStruct(shape, np.float32 if k == "weights" else np.int32, sharding=b_shard)
                      for k in ("input_ids", "targets", "weights", "segment_ids", "positions")}
    return b_shard, step_fn, (abstract_state(abstract_params, tx, shardings), abstract_batch)


__all__ = ["run", "build_step", "prepare_data", "RunResult", "PREEMPTED_EXIT"]
