"""The pipeline config (`configs/demo.yaml`) as typed, frozen dataclasses.

Parsed once, with `yaml.safe_load`, into `PipelineConfig`; every unknown key and every value of the wrong type is an
error that names the file and the dotted key (`configs/demo.yaml: 'merge.drop_rate' must be a number, got 'x'`), so
a typo never silently falls back to a default. Stage fingerprints hash these dataclasses (defaults included), so
changing a default reruns the stages it affects.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class PipelineError(RuntimeError):
    """A stage failed or the pipeline config is wrong; the message names the stage or key."""


@dataclass(frozen=True)
class DataConfig:
    """`mnlu data build` settings. `raw`: a folder, or `demo` for the project's made-up corpora, built into
    `data/main`; `extra`: more training corpora, name → folder, each built separately into `data/<name>` when its
    folder exists (skipped with a note otherwise). Every built train split goes into the training mixture."""

    raw: str = "demo"
    extra: dict[str, str] = field(default_factory=dict)
    config: str | None = None
    max_seq_length: int | None = None
    workers: int | None = None
    corpora: tuple[str, ...] | None = None
    max_train_rows: int | None = None
    rename_types: float | None = None
    split_sentences: bool | None = None
    negative_types: int | None = None


@dataclass(frozen=True)
class BaseConfig:
    """The base model: `tiny` (the `model:` shape and seed of the YAML file `config`, configs/tiny.yaml by
    default, initialised from that seed) or an HF directory."""

    model: str = "tiny"
    config: str = "configs/tiny.yaml"


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe, simulated CPU devices, and any training key to override."""

    config: str = "configs/tiny.yaml"
    devices: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportConfig:
    dtype: str | None = None


@dataclass(frozen=True)
class MergeConfig:
    """`mnlu merge` settings; the defaults are the paper's DARE recipe (configs/merge_dare.yaml)."""

    method: str = "dare_linear"
    drop_rate: float = 0.2
    weight: float = 0.5
    rescale: bool = True
    rng: str = "mergelm"
    seed: int = 0
    add_pad_token: bool = False
    dtype: str | None = None
    threads: int | None = None


@dataclass(frozen=True)
class EvalSetConfig:
    """One group of evaluation sets: `data_dir` (`demo` = eval/demo_data), the benchmarks, a per-set limit."""

    data_dir: str = "demo"
    benchmarks: str = "blurb"
    limit: int | None = None
    split: str | None = None


MODELS = ("base", "finetuned", "merged")


@dataclass(frozen=True)
class EvalConfig:
    """Which models (of `MODELS`) are evaluated, side by side, on which groups of sets."""

    models: tuple[str, ...] = MODELS
    backend: str = "jax"
    max_new_tokens: int = 64
    batch_size: int = 8
    demo: EvalSetConfig | None = None
    shared: EvalSetConfig | None = None


@dataclass(frozen=True)
class PipelineConfig:
    run_dir: str
    data: DataConfig = field(default_factory=DataConfig)
    base: BaseConfig = field(default_factory=BaseConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def section(self, name: str) -> dict[str, Any]:
        """A section as plain JSON-able data (for fingerprints)."""
        return dataclasses.asdict(getattr(self, name))

    def with_run_dir(self, run_dir: str) -> PipelineConfig:
        return dataclasses.replace(self, run_dir=run_dir)


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _convert(value: Any, hint: Any, source: str, key: str) -> Any:
    """`value` checked against the type hint `hint`; `source` and the dotted `key` name it in errors."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _convert(value, next(a for a in typing.get_args(hint) if a is not type(None)), source, key)
    if dataclasses.is_dataclass(hint):
        return _parse(hint, value, source, key)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PipelineError(f"{source}: '{key}' must be a list of strings (or one comma-separated string), "
                                f"got {value!r}")
        return tuple(value)
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise PipelineError(f"{source}: '{key}' must be a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is str:
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
    else:  # pragma: no cover - a field type this parser does not know is a programming error
        raise TypeError(f"unsupported field type {hint!r} for {key}")
    if not ok:
        raise PipelineError(f"{source}: '{key}' must be {_TYPE_NAMES[hint]}, got {value!r}")
    return hint(value)


def _parse(cls: type, data: Any, source: str, key: str = "") -> Any:
    """A dataclass of type `cls` from a YAML mapping; unknown keys are errors that list the valid ones."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PipelineError(f"{source}: '{key}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    valid = sorted(f.name for f in dataclasses.fields(cls))
    unknown = sorted(set(data) - set(valid), key=str)
    if unknown:
        where = f" in '{key}'" if key else ""
        raise PipelineError(f"{source}: unknown key(s) {unknown}{where}; valid: {valid}")
    values = {}
    for f in dataclasses.fields(cls):
        dotted = f"{key}.{f.name}" if key else f.name
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise PipelineError(f"{source}: '{dotted}' is required")
            continue
        values[f.name] = _convert(data[f.name], hints[f.name], source, dotted)
    return cls(**values)


def parse_pipeline_config(data: Any, source: str = "<config>") -> PipelineConfig:
    """A `PipelineConfig` from already-loaded YAML data; `source` names it in errors."""
    if not isinstance(data, dict):
        raise PipelineError(f"{source}: expected a mapping at the top level")
    cfg = _parse(PipelineConfig, data, source)
    bad = [m for m in cfg.eval.models if m not in MODELS]
    if bad or not cfg.eval.models:
        raise PipelineError(f"{source}: 'eval.models' must list some of {list(MODELS)}, got {list(cfg.eval.models)}")
    for name, folder in cfg.data.extra.items():
        if name == "main" or not str(name).isidentifier() or not isinstance(folder, str):
            raise PipelineError(f"{source}: 'data.extra.{name}' must map a name (not 'main') to a folder, "
                                f"got {folder!r}")
    return cfg


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found") from None
    except yaml.YAMLError as e:
        raise PipelineError(f"{path}: invalid YAML ({e})") from None
    return parse_pipeline_config(data, str(path))
