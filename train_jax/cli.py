"""`mnlu train` and `mnlu export`.

    mnlu train --config configs/tiny.yaml [--key value ...]     any config key, e.g. --max_steps 50 --mesh.tensor 2
    mnlu export --checkpoint OUTPUT_DIR --out HF_DIR [--step N] [--dtype bfloat16] [--max-shard-size 5GB]

`export` reads the checkpoint tensor by tensor with tensorstore (no jax devices, never the whole model in memory)
and writes an HF directory through `save_hf`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TRAIN_USAGE = """usage: mnlu train --config FILE [--key value ...]

Trains with the recipe in FILE; any key can be overridden on the command line (`--learning_rate 1e-5`,
`--mesh.tensor 2`, `--report_to tensorboard`). Keys: the paper's alignment-handbook keys (model_name_or_path,
dataset_mixer, learning_rate, ...) and the JAX keys (mesh, param_dtype, attention, remat_policy, scan_layers, ...).
`mnlu train --keys` lists them all.
Plan without training: `--compile-only --topology NAME [--num-slices N] [--json FILE]` (NAME: cpu:8, v5p-8,
v5p-64, v5e-16, v6e-8, v6e-256, ...; TPU names need libtpu: `make tpu-venv`) compiles the real train step for
that topology and prints per-device memory, fits / does not fit, and FLOPs per step (train_jax.plan);
`--find-max-batch` the largest per-device batch that fits, `--no-flops` memory only, `--hbm-gib X` another HBM
size, `--generation --batch-size B --prompt-tokens P --new-tokens N` the eval's generation step instead. Exit codes: 0 done, 2 bad config or data, 143 stopped by SIGTERM after saving.
"""


def train_main(argv: Sequence[str] | None = None) -> int:
    from train_jax.host_memory import tune_from_env

    tune_from_env()  # opt-in (MNLU_HOST_MALLOC=tuned|keep), before jax starts its threads: see train_jax/host_memory.py
    _simulated_cpu_devices(list(sys.argv[1:] if argv is None else argv))
    from train_jax.data_sources import DataError
    from train_jax.loader import DataStateError
    from train_jax.train_config import HF_ONLY_KEYS, KEYS, TrainConfigError, load_config

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(TRAIN_USAGE)
        return 0
    if args[0] == "--keys":
        print("keys:", " ".join(sorted(KEYS)))
        print("accepted and ignored:", " ".join(sorted(HF_ONLY_KEYS)))
        return 0
    config = None
    rest: list[str] = []
    planning: dict[str, str] = {}
    i = 0
    while i < len(args):
        if args[i] == "--compile-only":
            planning["compile_only"] = "1"
            i += 1
        elif args[i] in ("--find-max-batch", "--generation", "--no-flops"):
            planning[args[i][2:]] = "1"
            i += 1
        elif args[i] in PLAN_VALUE_FLAGS and i + 1 < len(args):
            planning[args[i][2:]] = args[i + 1]
            i += 2
        elif args[i] == "--config" and i + 1 < len(args):
            config = args[i + 1]
            i += 2
        elif args[i].startswith("--config="):
            config = args[i].split("=", 1)[1]
            i += 1
        else:
            rest.append(args[i])
            i += 1
    if planning:
        return _plan_main(config, rest, planning)
    try:
        cfg = load_config(config, rest)
        from train_jax.trainer import run

        result = run(cfg)
    except (TrainConfigError, DataError, DataStateError, FileNotFoundError) as e:
        print(f"mnlu train: {e}", file=sys.stderr)
        return 2
    return result.exit_code


def _simulated_cpu_devices(args: list[str]) -> None:
    """`--topology cpu:N`: ask XLA for N host devices; this must happen before jax is first imported."""
    import os
    import re
    from itertools import pairwise

    for flag, value in pairwise(args):
        m = re.fullmatch(r"cpu:(\d+)", value) if flag == "--topology" else None
        if m and "jax" not in sys.modules:
            extra = f"--xla_force_host_platform_device_count={m.group(1)}"
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + extra).strip()


PLAN_VALUE_FLAGS = ("--topology", "--num-slices", "--json", "--hbm-gib", "--batch-size", "--prompt-tokens",
                    "--new-tokens")


def _plan_main(config: str | None, rest: list[str], planning: dict[str, str]) -> int:
    """`--compile-only --topology NAME`: compile the step for NAME's devices and print (and --json) the plan.

    `--find-max-batch` searches the largest per-device batch that fits; `--generation --batch-size B
    --prompt-tokens P --new-tokens N` plans the eval's generation step instead; `--hbm-gib X` overrides the HBM."""

    from train_jax.topology import GIB, TopologyError, parse_topology
    from train_jax.train_config import TrainConfigError, load_config

    if "compile_only" not in planning or "topology" not in planning:
        print("mnlu train: --topology, --num-slices, --json, --find-max-batch, --generation and --hbm-gib go with "
              "--compile-only --topology NAME", file=sys.stderr)
        return 2
    try:
        topo = parse_topology(planning["topology"], int(planning.get("num-slices", "1")))
        cfg = load_config(config, rest)
        hbm = float(planning["hbm-gib"]) * GIB if "hbm-gib" in planning else None
        gen = {k: int(planning.get(k, d)) for k, d in (("batch-size", "8"), ("prompt-tokens", "2048"),
                                                        ("new-tokens", "2048"))}
    except (TopologyError, TrainConfigError, ValueError) as e:
        print(f"mnlu train: {e}", file=sys.stderr)
        return 2
    from train_jax.plan import find_max_batch, format_max_batch, format_plan, plan, write_json

    try:
        if "generation" in planning:
            from train_jax.plan_generate import format_generation_plan, plan_generation

            result = plan_generation(cfg, topo, batch=gen["batch-size"], prompt_tokens=gen["prompt-tokens"],
                                     new_tokens=gen["new-tokens"], hbm_bytes=hbm)
            text = format_generation_plan(result)
        elif "find-max-batch" in planning:
            result = find_max_batch(cfg, topo, hbm_bytes=hbm)
            text = format_max_batch(result)
        else:
            result = plan(cfg, topo, flops="no-flops" not in planning, hbm_bytes=hbm)
            text = format_plan(result)
    except (TopologyError, ValueError) as e:
        print(f"mnlu train: {e}", file=sys.stderr)
        return 2
    print(text)
    if planning.get("json"):
        write_json(result, planning["json"])
    return 0


class LazyTensor:
    """A checkpoint tensor read from disk only when converted to a NumPy array (one at a time in `save_hf`)."""

    def __init__(self, step_dir: Path, name: str, shape: tuple[int, ...], dtype: np.dtype):
        self.step_dir, self.name, self.shape, self.dtype = step_dir, name, tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)

    def __array__(self, dtype=None, copy=None):
        from train_jax.checkpoint import read_param

        arr = read_param(self.step_dir, self.name)
        if tuple(arr.shape) != self.shape:
            raise ValueError(f"{self.step_dir}/params: {self.name} has shape {arr.shape}; the config needs {self.shape}")
        return arr if dtype is None else arr.astype(dtype)


def lazy_model(step_dir: Path):
    """The checkpoint's model with every parameter a LazyTensor (shapes from the saved config)."""
    from flax import nnx

    from train_jax.checkpoint import param_names, read_meta
    from train_jax.config import ModelConfig
    from train_jax.model import abstract_model

    meta = read_meta(step_dir)
    cfg = ModelConfig.from_hf_dict(meta["model_config"], source=str(step_dir / "meta"))
    model = abstract_model(cfg)
    have = set(param_names(step_dir))
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        name = ".".join(str(k) for k in path)
        if name not in have:
            raise FileNotFoundError(f"{step_dir}/params: tensor {name!r} is missing")
        shape = var.get_value().shape
        var.set_value(LazyTensor(step_dir, name, shape, var.get_value().dtype))
    return model, meta


def export(checkpoint: str | Path, out: str | Path, *, step: int | None = None, dtype: str | None = None,
           max_shard_size: str = "5GB", overwrite: bool = False) -> Path:
    from train_jax.checkpoint import find_step_dir
    from train_jax.hf import save_hf

    step_dir = find_step_dir(checkpoint, step)
    model, meta = lazy_model(step_dir)
    tok = meta.get("tokenizer", "bundled")
    tokenizer = Path(tok) if tok != "bundled" and (Path(tok) / "tokenizer_config.json").is_file() else True
    return save_hf(
        model, out, tokenizer=tokenizer, max_shard_size=max_shard_size,
        dtype=dtype or meta.get("export_dtype"), overwrite=overwrite,
        metadata={"source_checkpoint": str(step_dir.resolve()), "step": str(meta.get("step", ""))},
    )


def export_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnlu export", description="A training checkpoint → an HF directory.")
    parser.add_argument("--checkpoint", required=True, help="training output_dir, its checkpoints/ or a step dir")
    parser.add_argument("--out", required=True, help="HF directory to write (written under a temporary name)")
    parser.add_argument("--step", type=int, default=None, help="a saved step (default: the latest)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None,
                        help="tensor dtype (default: the run's torch_dtype)")
    parser.add_argument("--max-shard-size", default="5GB")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    from train_jax.checkpoint import CheckpointNotFound

    try:
        path = export(args.checkpoint, args.out, step=args.step, dtype=args.dtype,
                      max_shard_size=args.max_shard_size, overwrite=args.overwrite)
    except (CheckpointNotFound, FileExistsError, FileNotFoundError) as e:
        print(f"mnlu export: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train_main())
