"""The training recipe: the paper's alignment-handbook keys as written, plus the JAX keys, as one typed dataclass.

Why one flat dataclass: the paper's `config_full.yaml` is flat, and `mnlu train --config FILE --key value` must be
able to override any key. Loading never imports jax, so a bad key fails in milliseconds, before any compilation.

- HF/TRL keys keep their HF meaning and HF Trainer defaults (learning_rate 5e-5, weight_decay 0, max_grad_norm 1,
  Adam betas 0.9/0.999, eps 1e-8, linear schedule, no warmup).
- Keys that mean nothing here (hub pushes, torch kernels, dataloader workers, ...) are accepted with a one-line note.
- Unknown keys are an error that lists the valid ones.
- `bf16: true` means bf16 *compute*: parameters and AdamW state stay float32 (`param_dtype`), logits and loss are
  float32. `torch_dtype` is the dtype `mnlu export` writes by default.
- `gradient_checkpointing: true` selects `remat_policy: full` unless `remat_policy` is given.
- `assistant_only_loss` (TRL's key) defaults to true here: loss on assistant tokens only; false gives whole-sequence
  loss. `packing` (TRL's key) defaults to true.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mnlu.prompts import CHAT_TEMPLATE

SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
SAVE_STRATEGIES = ("no", "steps", "epoch")
REMAT_CHOICES = ("none", "full", "dots", "dots_no_batch", "full_offload")
REPORTERS = ("tensorboard", "none", "all")
MESH_KEYS = ("data", "fsdp", "tensor")

# Keys of HF TrainingArguments / TRL SFTConfig / alignment-handbook that have no meaning here: accepted, noted.
HF_ONLY_KEYS: dict[str, str] = {
    "model_revision": "weights come from a local directory",
    "use_flash_attention_2": "attention is chosen by `attention` (xla or fused)",
    "attn_implementation": "attention is chosen by `attention` (xla or fused)",
    "hub_model_id": "nothing is pushed to the Hub",
    "hub_strategy": "nothing is pushed to the Hub",
    "hub_private_repo": "nothing is pushed to the Hub",
    "push_to_hub": "nothing is pushed to the Hub",
    "preprocessing_num_workers": "tokenization runs in one process",
    "dataset_num_proc": "tokenization runs in one process",
    "dataloader_num_workers": "batches are built in the training process",
    "remove_unused_columns": "records follow mnlu.schema",
    "overwrite_output_dir": "resuming is controlled by `resume` (auto resumes from the latest checkpoint)",
    "do_train": "`mnlu train` always trains",
    "do_eval": "evaluation is `mnlu eval`",
    "evaluation_strategy": "evaluation is `mnlu eval`",
    "eval_strategy": "evaluation is `mnlu eval`",
    "eval_steps": "evaluation is `mnlu eval`",
    "per_device_eval_batch_size": "evaluation is `mnlu eval`",
    "log_level": "process 0 logs at info level",
    "logging_strategy": "logs go out every `logging_steps` steps",
    "gradient_checkpointing_kwargs": "rematerialisation is chosen by `remat_policy`",
    "ddp_timeout": "jax.distributed has its own timeouts",
    "tf32": "matmul precision follows the compute dtype",
    "torch_compile": "every step is jitted by XLA",
    "run_name": "runs are named by `output_dir`",
    "dataset_text_field": "records are chat messages (mnlu.schema)",
    "dataset_kwargs": "records are chat messages (mnlu.schema)",
    "use_liger_kernel": "kernels are XLA's",
    "logging_dir": "tensorboard events go to <output_dir>/runs",
    "save_only_model": "checkpoints always hold everything needed to resume",
}


class TrainConfigError(ValueError):
    """A recipe that cannot be run; the message names the file and key and says what was expected."""


@dataclass
class TrainConfig:
    # --- model (alignment-handbook ModelArguments) ---
    model_name_or_path: str | None = None  # a local HF directory
    model: dict[str, Any] | None = None  # or: ModelConfig fields (+ init_seed) of a model initialised from a seed
    torch_dtype: str = "auto"  # dtype `mnlu export` writes ("auto": bfloat16 when bf16, else float32)
    chat_template: str | None = None  # must be the paper's template (mnlu.prompts.CHAT_TEMPLATE) when given
    # --- data (DataArguments / SFTConfig) ---
    dataset_mixer: dict[str, float] = field(default_factory=dict)  # path → fraction of its rows (first int(f·N))
    dataset_splits: list[str] = field(default_factory=lambda: ["train"])
    data_build: dict[str, Any] | None = None  # {raw, out, config?}: run `mnlu data build` first if `out` is absent
    max_seq_length: int = 1024
    packing: bool = True
    assistant_only_loss: bool = True
    # --- optimisation (TrainingArguments) ---
    learning_rate: float = 5e-5
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    optim: str = "adamw_torch"
    num_train_epochs: float = 3.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    dataloader_drop_last: bool = False
    bf16: bool = False
    fp16: bool = False
    seed: int = 42
    # --- output, checkpoints, logging ---
    output_dir: str = ""
    save_strategy: str = "steps"
    save_steps: int = 500
    save_total_limit: int | None = None
    save_on_epoch_end: bool = True  # JAX key: with save_strategy steps, also save when an epoch ends
    logging_steps: float = 500
    logging_first_step: bool = False
    report_to: list[str] = field(default_factory=lambda: ["none"])
    disable_tqdm: bool = False
    # --- JAX keys ---
    mesh: dict[str, int] = field(default_factory=lambda: {"data": 1, "fsdp": -1, "tensor": 1})
    param_dtype: str = "float32"  # master weights and AdamW state
    compute_dtype: str | None = None  # default: bfloat16 when bf16, else float32
    attention: str = "xla"  # xla | fused (TPU splash / GPU cuDNN flash attention, from the mesh's platform)
    # MaxText-style [[logical_name, mesh_axes], ...]; several rules per name are tried in order (default: sharding.py)
    logical_axis_rules: list | None = None
    remat_policy: str | None = None  # none | full | dots | dots_no_batch | full_offload; default from gradient_checkpointing
    scan_layers: bool = False
    loss_block_size: int = 512  # sequence positions per cross-entropy block (train_jax.loss): logits never whole
    # >0: the output head only at up to this many target positions per row; auto: the data's most per row
    loss_target_capacity: int | str = 0
    # rows that share one capacity: 1 (each row), or a divisor of per_device_train_batch_size (a device's rows)
    loss_target_group_rows: int = 1
    attention_query_block: int = 0  # XLA attention this many queries at a time in training (0: whole; attention_chunks)
    mlp_block_size: int = 0  # the layers' MLPs this many positions at a time in training (0: whole; mlp_chunks)
    resume: str = "auto"  # auto (latest complete checkpoint in output_dir) | never
    async_checkpointing: bool = True
    compilation_cache_dir: str | None = None  # persistent XLA cache: a resumed run skips recompiling
    peak_tflops_per_device: float | None = None  # for MFU; default: known accelerators, or measured on CPU
    coordinator_address: str | None = None  # multi-process (GPU clusters); TPU pods are detected
    num_processes: int | None = None
    process_id: int | None = None
    # Bookkeeping (not a key): the file this came from, notes about ignored keys.
    source: str = field(default="<config>", repr=False, compare=False)
    notes: list[str] = field(default_factory=list, repr=False, compare=False)

    # ------------------------------------------------------------------------------------- derived values

    @property
    def compute(self) -> str:
        return self.compute_dtype or ("bfloat16" if self.bf16 else "float32")

    @property
    def remat(self) -> str:
        return self.remat_policy or ("full" if self.gradient_checkpointing else "none")

    @property
    def export_dtype(self) -> str:
        if self.torch_dtype in ("auto", None):
            return "bfloat16" if self.bf16 else "float32"
        return self.torch_dtype

    @property
    def config_dir(self) -> Path | None:
        """The directory of the config file (relative data paths are also looked up there)."""
        first = self.source.split(" + ")[0]
        return None if first.startswith("<") else Path(first).parent

    @property
    def reporters(self) -> list[str]:
        return ["tensorboard"] if "all" in self.report_to else [r for r in self.report_to if r != "none"]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("source", "notes")}


KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("source", "notes"))
_HINTS = typing.get_type_hints(TrainConfig)


def _check_type(key: str, value: Any, hint: Any, where: str) -> Any:
    """Coerce YAML scalars to the field's type (int → float) or raise naming the key."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(key, value, arg, where)
            except TrainConfigError:
                continue
        raise TrainConfigError(f"{where}: '{key}' is {value!r}; expected {_describe(hint)}")
    base = origin or hint
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads `3e-5` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif base is str:
        if isinstance(value, str):
            return value
        if value is False:  # YAML 1.1 reads HF's `save_strategy: no` (and `--save_strategy no`) as false
            return "no"
    elif base is list:
        if isinstance(value, str):  # HF accepts `report_to: tensorboard`
            value = [value]
        if isinstance(value, Sequence) and not isinstance(value, str):
            return list(value)
    elif base is dict:
        if isinstance(value, Mapping):
            return dict(value)
    raise TrainConfigError(f"{where}: '{key}' is {value!r}; expected {_describe(hint)}")


def resolved_target_capacity(cfg: TrainConfig, max_row_targets: int | None = None) -> int:
    """`loss_target_capacity` as a number: `auto` is the run's most targets per row, or per group of
    `loss_target_group_rows` rows (`Loader.max_row_targets`)
    rounded up to a multiple of 64 (so small data changes keep the compiled shape), or 0 (the dense head, the same
    loss without the gather) where that reaches max_seq_length; without data (the compile-only planner) `auto`
    plans for the worst case, every position a target: 0."""
    if cfg.loss_target_capacity != "auto":
        return int(cfg.loss_target_capacity)
    if max_row_targets is None:
        return 0
    rounded = max(64, -(-max_row_targets // 64) * 64)
    return 0 if rounded >= cfg.max_seq_length * cfg.loss_target_group_rows else rounded


def _describe(hint: Any) -> str:
    args = typing.get_args(hint)
    if args and typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if hint is type(None):
        return "null"
    return getattr(typing.get_origin(hint) or hint, "__name__", str(hint))


def _validate(cfg: TrainConfig) -> None:
    where = cfg.source

    def bad(key: str, what: str) -> TrainConfigError:
        return TrainConfigError(f"{where}: '{key}' is {getattr(cfg, key)!r}; {what}")

    if (cfg.model_name_or_path is None) == (cfg.model is None):
        raise TrainConfigError(
            f"{where}: give exactly one of 'model_name_or_path' (an HF directory) or 'model' (a model initialised "
            "from a seed, as in configs/tiny.yaml)"
        )
    if not cfg.output_dir:
        raise TrainConfigError(f"{where}: 'output_dir' is required (checkpoints, metrics and logs go there)")
    if not cfg.dataset_mixer:
        raise TrainConfigError(f"{where}: 'dataset_mixer' is empty; map each dataset path to a fraction in (0, 1]")
    for path, frac in cfg.dataset_mixer.items():
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0.0 < float(frac) <= 1.0:
            raise TrainConfigError(f"{where}: dataset_mixer[{path!r}] is {frac!r}; expected a fraction in (0, 1]")
    if cfg.chat_template is not None and cfg.chat_template != CHAT_TEMPLATE:
        raise TrainConfigError(
            f"{where}: 'chat_template' differs from the paper's Zephyr template (mnlu.prompts.CHAT_TEMPLATE); "
            "loss masks are computed from that template's character spans, so only it is supported"
        )
    if cfg.lr_scheduler_type not in SCHEDULERS:
        raise bad("lr_scheduler_type", f"expected one of {list(SCHEDULERS)}")
    if cfg.save_strategy not in SAVE_STRATEGIES:
        raise bad("save_strategy", f"expected one of {list(SAVE_STRATEGIES)}")
    if not cfg.optim.startswith("adamw"):
        raise bad("optim", "only AdamW (adamw_torch, adamw_hf, ...) is implemented")
    if cfg.fp16:
        raise bad("fp16", "float16 mixed precision is not supported; use bf16: true")
    if cfg.remat_policy is not None and cfg.remat_policy not in REMAT_CHOICES:
        raise bad("remat_policy", f"expected one of {list(REMAT_CHOICES)}")
    if cfg.attention not in ("xla", "fused"):
        raise bad("attention", "expected 'xla' or 'fused'")
    for key in ("param_dtype", "compute_dtype"):
        if getattr(cfg, key) not in (None, "float32", "bfloat16") or cfg.param_dtype is None:
            raise bad(key, "expected float32 or bfloat16")
    if cfg.torch_dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise bad("torch_dtype", "expected auto, float32, bfloat16 or float16")
    if cfg.resume not in ("auto", "never"):
        raise bad("resume", "expected 'auto' or 'never'")
    for key in ("per_device_train_batch_size", "gradient_accumulation_steps", "save_steps", "loss_block_size"):
        if getattr(cfg, key) < 1:
            raise bad(key, "expected an integer ≥ 1")
    if cfg.max_seq_length < 8:
        raise bad("max_seq_length", "expected an integer ≥ 8")
    cap = cfg.loss_target_capacity
    if (isinstance(cap, str) and cap != "auto") or (isinstance(cap, int) and cap < 0):
        raise bad("loss_target_capacity", "expected 0 (the head at every position), a positive number of targets "
                  "per row, or auto (the most targets any row of this run's data holds)")
    group = cfg.loss_target_group_rows
    if group < 1 or cfg.per_device_train_batch_size % group:
        raise bad("loss_target_group_rows", f"expected a divisor of per_device_train_batch_size "
                  f"({cfg.per_device_train_batch_size}), so that a group's rows lie on one device")
    if cfg.attention_query_block < 0:
        raise bad("attention_query_block", "expected 0 (whole) or a positive number of queries per block")
    if cfg.mlp_block_size < 0:
        raise bad("mlp_block_size", "expected 0 (whole) or a positive number of positions per block")
    if cfg.logging_steps <= 0:
        raise bad("logging_steps", "expected a positive number (a float below 1 is a fraction of all steps)")
    if cfg.max_steps == 0 or (cfg.max_steps < 0 and cfg.num_train_epochs <= 0):
        raise TrainConfigError(f"{where}: set 'max_steps' > 0 or 'num_train_epochs' > 0")
    if not 0.0 <= cfg.warmup_ratio < 1.0:
        raise bad("warmup_ratio", "expected a number in [0, 1)")
    unknown_reporters = [r for r in cfg.report_to if r not in REPORTERS]
    if unknown_reporters:
        cfg.notes.append(f"report_to {unknown_reporters}: not available here; metrics go to metrics.jsonl")
        cfg.report_to = [r for r in cfg.report_to if r in REPORTERS] or ["none"]
    given = dict(cfg.mesh)
    cfg.mesh = {"data": 1, "fsdp": 1 if -1 in given.values() else -1, "tensor": 1, **given}
    bad_mesh = set(cfg.mesh) - set(MESH_KEYS)
    if bad_mesh:
        raise TrainConfigError(f"{where}: mesh has unknown axes {sorted(bad_mesh)}; expected {list(MESH_KEYS)}")
    for axis, size in cfg.mesh.items():
        if isinstance(size, bool) or not isinstance(size, int) or (size < 1 and size != -1):
            raise TrainConfigError(f"{where}: mesh.{axis} is {size!r}; expected a positive integer or -1")
    if cfg.logical_axis_rules is not None:
        from train_jax.sharding import rules_from_config

        try:
            rules_from_config(cfg.logical_axis_rules)
        except ValueError as e:
            raise TrainConfigError(f"{where}: {e}") from None
    if list(cfg.mesh.values()).count(-1) > 1:
        raise TrainConfigError(f"{where}: at most one mesh axis may be -1 (the rest of the devices)")
    if cfg.data_build is not None:
        bad_keys = sorted(set(cfg.data_build) - {"raw", "out", "config"})
        if bad_keys or not cfg.data_build.get("raw") or not cfg.data_build.get("out"):
            raise TrainConfigError(
                f"{where}: data_build is {cfg.data_build!r}; expected {{raw: DIR, out: DIR, config: FILE (optional)}}"
            )
    if cfg.model is not None:
        from train_jax.config import ModelConfig

        valid = {f.name for f in dataclasses.fields(ModelConfig)} - {"extra", "param_dtype", "dtype", "attention", "remat"}
        unknown = sorted(set(cfg.model) - valid - {"init_seed"})
        if unknown:
            raise TrainConfigError(f"{where}: model has unknown key(s) {unknown}; valid: {sorted(valid | {'init_seed'})}")


def from_dict(data: Mapping[str, Any], source: str = "<config>") -> TrainConfig:
    """Build and validate a TrainConfig; unknown keys list the valid ones, HF-only keys become notes."""
    if not isinstance(data, Mapping):
        raise TrainConfigError(f"{source}: expected a mapping of keys to values at the top level")
    kwargs: dict[str, Any] = {}
    notes: list[str] = []
    unknown = []
    for key, value in data.items():
        if key in HF_ONLY_KEYS:
            notes.append(f"'{key}' is accepted and ignored: {HF_ONLY_KEYS[key]}")
        elif key in KEYS:
            kwargs[key] = _check_type(key, value, _HINTS[key], source)
        else:
            unknown.append(key)
    if unknown:
        raise TrainConfigError(
            f"{source}: unknown key(s) {unknown}; valid keys are {sorted(KEYS)} "
            f"(also accepted and ignored: {sorted(HF_ONLY_KEYS)})"
        )
    cfg = TrainConfig(**kwargs, source=source, notes=notes)
    _validate(cfg)
    return cfg


def parse_overrides(argv: Sequence[str]) -> dict[str, Any]:
    """`--key value`, `--key=value`, `--mesh.fsdp 4` → a dict; values are parsed as YAML (numbers, bools, lists)."""
    out: dict[str, Any] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise TrainConfigError(f"command line: expected --key value, got {arg!r}")
        key, eq, raw = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise TrainConfigError(f"command line: --{key} needs a value")
            raw = args[i + 1]
            i += 1
        i += 1
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        key = key.replace("-", "_")
        parts = key.split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise TrainConfigError(f"command line: --{key} sets a field inside a non-mapping key")
        target[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key != "dataset_mixer":
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise TrainConfigError(f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return data


def load_config(path: str | Path | None, overrides: Mapping[str, Any] | Sequence[str] = ()) -> TrainConfig:
    """The recipe at `path` with command-line overrides applied (either parsed or raw `--key value` strings)."""
    data = read_yaml(path) if path is not None else {}
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    source = str(path) if path is not None else "<command line>"
    if overrides:
        source += " + command line"
    return from_dict(_merge(data, overrides), source)
