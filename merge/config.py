"""The merge recipe: a mergekit-like YAML (or CLI flags) loaded into typed dataclasses, validated up front.

mergekit users know `merge_method`, `base_model`, `models: [{model, parameters: {weight, density}}]`, global
`parameters` (`rescale`, `normalize`, `lambda`), `dtype` and `tokenizer_source`; we add `drop_rate` (= 1 -
density, the paper's and MergeLM's word), `rng`, `seed`, `add_pad_token`, `vocab_policy`, include/exclude
patterns and execution knobs. Unknown keys are errors that list the valid ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .dtypes import canonical
from .errors import MergeError
from .methods import METHODS

TOP_KEYS = {
    "merge_method", "base_model", "models", "parameters", "dtype", "out_dtype", "tokenizer_source", "out", "rng",
    "seed", "add_pad_token", "vocab_policy", "include", "exclude", "threads", "chunk_elements", "max_shard_size",
    "orbax_prefix", "fsync",
}
MODEL_KEYS = {"model", "parameters"}
MODEL_PARAMS = {"weight", "density", "drop_rate"}
GLOBAL_PARAMS = MODEL_PARAMS | {"rescale", "normalize", "lambda"}
RNG_MODES = ("mergelm", "native")
VOCAB_POLICIES = ("error", "base")


@dataclass(frozen=True)
class ModelSpec:
    path: str
    weight: float | None = None
    drop_rate: float | None = None  # canonical; mergekit's density is 1 - drop_rate


@dataclass(frozen=True)
class MergeConfig:
    merge_method: str
    base_model: str | None
    models: tuple[ModelSpec, ...]
    out: str | None = None
    rng: str = "native"
    seed: int = 0
    dtype: str | None = None  # output dtype; None: each tensor keeps the base's dtype
    weight: float | None = None  # global defaults for the per-model parameters
    drop_rate: float | None = None
    rescale: bool | None = None
    normalize: bool | None = None
    lambda_: float = 1.0
    add_pad_token: bool = False
    tokenizer_source: str = "base"
    vocab_policy: str = "error"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    threads: int | None = None
    chunk_elements: int = 1 << 20
    max_shard_size: int = 5 * 10**9
    orbax_prefix: str | None = None
    fsync: bool = False
    extra: dict = field(default_factory=dict)

    # Resolved per-model parameters -------------------------------------------------------------
    def model_weight(self, m: ModelSpec) -> float:
        w = m.weight if m.weight is not None else self.weight
        return 1.0 if w is None else float(w)

    def model_drop_rate(self, m: ModelSpec) -> float:
        p = m.drop_rate if m.drop_rate is not None else self.drop_rate
        return 0.0 if p is None else float(p)

    @property
    def method(self):
        return METHODS[self.merge_method]

    @property
    def effective_rescale(self) -> bool:
        return self.method.default_rescale if self.rescale is None else self.rescale

    @property
    def effective_normalize(self) -> bool:
        return self.method.default_normalize if self.normalize is None else self.normalize

    def is_base(self, m: ModelSpec) -> bool:
        return self.base_model is not None and _same_path(m.path, self.base_model)

    def finetuned(self) -> list[ModelSpec]:
        return [m for m in self.models if not self.is_base(m)]

    def mergelm_slots(self) -> list[int | None]:
        """MergeLM's models_to_merge order: None for the base (zero delta) slot, j for fine-tuned model j."""
        fts = self.finetuned()
        slots: list[int | None] = []
        j = 0
        for m in self.models:
            if self.is_base(m):
                slots.append(None)
            else:
                slots.append(j)
                j += 1
        weights = {self.model_weight(m) for m in self.models}
        if len(weights) != 1:
            raise MergeError(f"rng mergelm averages its slots equally; got different weights {sorted(weights)}")
        w = weights.pop()
        n = round(1.0 / w) if w > 0 else 0
        if n == len(fts) + 1 and None not in slots:
            slots.insert(0, None)  # the paper's recipe: the base in the first ("instruct") slot draws first
        if n != len(slots):
            raise MergeError(
                f"rng mergelm averages {len(slots)} slot(s) equally, so every weight must be 1/{len(slots)} "
                f"(or 1/{len(slots) + 1} to put the base in the first slot); got weight {w}"
            )
        return slots


def _same_path(a: str, b: str) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def parse_size(value) -> int:
    """'5GB', '500MB', '2GiB' or a number of bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?)B?\s*", str(value), re.IGNORECASE)
    if not m:
        raise MergeError(f"max_shard_size: cannot parse {value!r}; expected e.g. 5GB or 2GiB")
    base = 1024 if m.group(3) else 1000
    power = " KMGT".index(m.group(2).upper() or " ")
    return int(float(m.group(1)) * base**power)


def _check_keys(d: dict, valid: set[str], where: str) -> None:
    unknown = sorted(set(d) - valid)
    if unknown:
        raise MergeError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(valid)}")


def _drop_rate_of(params: dict, where: str) -> float | None:
    if "density" in params and "drop_rate" in params:
        raise MergeError(f"{where}: give density or drop_rate, not both")
    if "drop_rate" in params:
        return float(params["drop_rate"])
    if "density" in params:
        return 1.0 - float(params["density"])
    return None


def from_dict(raw: dict, source: str = "config") -> MergeConfig:
    if not isinstance(raw, dict):
        raise MergeError(f"{source}: expected a mapping at the top level")
    _check_keys(raw, TOP_KEYS, source)
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise MergeError(f"{source}: parameters must be a mapping")
    _check_keys(params, GLOBAL_PARAMS, f"{source}: parameters")
    models = []
    for i, entry in enumerate(raw.get("models") or []):
        where = f"{source}: models[{i}]"
        if isinstance(entry, str):
            entry = {"model": entry}
        if not isinstance(entry, dict) or "model" not in entry:
            raise MergeError(f"{where}: expected a mapping with a 'model' key")
        _check_keys(entry, MODEL_KEYS, where)
        mp = entry.get("parameters") or {}
        _check_keys(mp, MODEL_PARAMS, f"{where}.parameters")
        models.append(ModelSpec(str(entry["model"]), mp.get("weight"), _drop_rate_of(mp, f"{where}.parameters")))
    dtype = raw.get("dtype", raw.get("out_dtype"))
    cfg = MergeConfig(
        merge_method=str(raw.get("merge_method", "")),
        base_model=None if raw.get("base_model") is None else str(raw["base_model"]),
        models=tuple(models),
        out=raw.get("out"),
        rng=str(raw.get("rng", "native")),
        seed=int(raw.get("seed", 0)),
        dtype=None if dtype is None else canonical(str(dtype), f"{source}: dtype"),
        weight=params.get("weight"),
        drop_rate=_drop_rate_of(params, f"{source}: parameters"),
        rescale=params.get("rescale"),
        normalize=params.get("normalize"),
        lambda_=float(params.get("lambda", 1.0)),
        add_pad_token=bool(raw.get("add_pad_token", False)),
        tokenizer_source=str(raw.get("tokenizer_source", "base")),
        vocab_policy=str(raw.get("vocab_policy", "error")),
        include=tuple(raw.get("include") or ()),
        exclude=tuple(raw.get("exclude") or ()),
        threads=raw.get("threads"),
        chunk_elements=int(raw.get("chunk_elements", 1 << 20)),
        max_shard_size=parse_size(raw.get("max_shard_size", 5 * 10**9)),
        orbax_prefix=raw.get("orbax_prefix"),
        fsync=bool(raw.get("fsync", False)),
    )
    return cfg


def load_yaml(path: str | Path) -> MergeConfig:
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise MergeError(f"{p}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise MergeError(f"{p}: invalid YAML ({exc})") from None
    return from_dict(raw or {}, str(p))


def validate(cfg: MergeConfig, where: str = "config") -> MergeConfig:
    """Reject what cannot be merged, before any file is opened."""
    if cfg.merge_method not in METHODS:
        raise MergeError(f"{where}: unknown merge_method {cfg.merge_method!r}; expected one of {sorted(METHODS)}")
    if cfg.rng not in RNG_MODES:
        raise MergeError(f"{where}: unknown rng {cfg.rng!r}; expected one of {list(RNG_MODES)}")
    if cfg.vocab_policy not in VOCAB_POLICIES:
        raise MergeError(f"{where}: unknown vocab_policy {cfg.vocab_policy!r}; expected one of {list(VOCAB_POLICIES)}")
    if not cfg.models:
        raise MergeError(f"{where}: no models to merge (give models: in the YAML or --finetuned)")
    if cfg.base_model is None:
        raise MergeError(f"{where}: base_model is required (the HF directory whose config and layout we keep)")
    if not cfg.finetuned():
        raise MergeError(f"{where}: every model is the base model; nothing to merge")
    if cfg.chunk_elements < 1:
        raise MergeError(f"{where}: chunk_elements must be positive")
    if cfg.threads is not None and int(cfg.threads) < 1:
        raise MergeError(f"{where}: threads must be >= 1")
    if not 0 <= cfg.seed < 2**32:
        raise MergeError(f"{where}: seed must be in [0, 2**32)")
    for m in cfg.models:
        p = cfg.model_drop_rate(m)
        if not 0.0 <= p <= 1.0:
            raise MergeError(f"{where}: model {m.path}: drop_rate {p} outside [0, 1] (density = 1 - drop_rate)")
        if p > 0 and cfg.method.sparsify is None:
            raise MergeError(f"{where}: {cfg.merge_method} takes no density/drop_rate (model {m.path})")
    if cfg.rng == "mergelm":
        if cfg.merge_method != "dare_linear":
            raise MergeError(f"{where}: rng mergelm replays MergeLM's mask_merging + average_merging, i.e. "
                             f"dare_linear; {cfg.merge_method} has no MergeLM counterpart (use rng native)")
        if cfg.lambda_ != 1.0 or cfg.effective_normalize:
            raise MergeError(f"{where}: rng mergelm averages the slots itself; lambda and normalize do not apply")
        if cfg.vocab_policy != "error":
            raise MergeError(f"{where}: rng mergelm needs identical tensor shapes (vocab_policy error)")
        cfg.mergelm_slots()
    elif cfg.add_pad_token:
        raise MergeError(f"{where}: add_pad_token is MergeLM's [PAD] recipe; use it with rng mergelm")
    for pat in (*cfg.include, *cfg.exclude):
        try:
            re.compile(pat)
        except re.error as exc:
            raise MergeError(f"{where}: bad include/exclude pattern {pat!r} ({exc})") from None
    return cfg


def with_overrides(cfg: MergeConfig, **kw) -> MergeConfig:
    return replace(cfg, **{k: v for k, v in kw.items() if v is not None})
