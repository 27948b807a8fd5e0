"""The merge recipe: a mergekit-like YAML (or CLI flags) loaded into typed dataclasses, validated up front.

mergekit users know `merge_method`, `base_model`, `models: [{model, parameters: {weight, density}}]`, global
`parameters` (`rescale`, `normalize`, `lambda`), `dtype` (compute precision), `out_dtype` (output) and
`tokenizer_source`; we add `drop_rate` (= 1 - density, the paper's and MergeLM's word), `rng`, `seed`,
`add_pad_token`, `vocab_policy`, include/exclude patterns and execution knobs. Unknown keys are errors that list
the valid ones.

`weight`, `density` and `drop_rate` may be mergekit per-tensor lists, `[{filter: mlp, value: 0.5}, {value: 1}]`:
the first entry whose filter is absent, `*`, or a substring of the tensor name gives the value (which may itself
be such a list); no match falls back to the global parameter, then to the default. A density stays exactly as
written (TIES keeps int(density * n) deltas), a drop_rate too (DARE drops with probability float32(drop_rate)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .dtypes import canonical
from .errors import MergeError
from .methods import METHODS

# A parameter value: a number, or mergekit's per-tensor list as ((filter or None, value), ...).
Setting = float | tuple

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
    weight: Setting | None = None
    drop_rate: Setting | None = None  # give one of drop_rate / density; each is kept exactly as given
    density: Setting | None = None


def resolve(setting: Setting | None, tensor: str | None, where: str = "parameter") -> float | None:
    """mergekit's evaluate_setting for numbers and filter lists: the value for `tensor`, or None if no entry
    matches. With tensor None a filter list is an error (the caller needs one number for the whole model)."""
    if setting is None or isinstance(setting, float):
        return setting
    if tensor is None:
        raise MergeError(f"{where}: a per-tensor filter list is not supported here; give one number")
    for flt, value in setting:
        if flt is None or flt == "*" or flt in tensor:
            return resolve(value, tensor, where)
    return None


def setting_leaves(setting: Setting | None) -> list[float]:
    if setting is None:
        return []
    if isinstance(setting, float):
        return [setting]
    return [x for _, v in setting for x in setting_leaves(v)]


def describe_setting(setting: Setting | None):
    """JSON-friendly form for the plan, the recipe and the model card."""
    if setting is None or isinstance(setting, float):
        return setting
    return [{"filter": f, "value": describe_setting(v)} if f is not None else {"value": describe_setting(v)}
            for f, v in setting]


def parse_setting(value, where: str) -> Setting | None:
    """A number or a list of {filter, value} mappings; gradients (lists of numbers) get one clear error."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MergeError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        if value and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in value):
            raise MergeError(f"{where}: gradients (a list of numbers interpolated across layers) are not "
                             "supported; give one number or a list of {filter, value} entries")
        out = []
        for i, e in enumerate(value):
            if not isinstance(e, dict) or "value" not in e or set(e) - {"filter", "value"}:
                raise MergeError(f"{where}[{i}]: expected a mapping with 'value' and an optional 'filter' "
                                 f"(mergekit's per-tensor list), got {e!r}")
            flt = e.get("filter")
            if flt is not None and not isinstance(flt, str):
                raise MergeError(f"{where}[{i}].filter: expected a string (a substring of tensor names)")
            out.append((flt, parse_setting(e["value"], f"{where}[{i}].value")))
        return tuple(out)
    raise MergeError(f"{where}: expected a number or a list of {{filter, value}} entries, got {value!r}")


@dataclass(frozen=True)
class MergeConfig:
    merge_method: str
    base_model: str | None
    models: tuple[ModelSpec, ...]
    out: str | None = None
    rng: str = "native"
    seed: int = 0
    dtype: str | None = None  # mergekit's compute dtype; we always compute in float32 (see README)
    out_dtype: str | None = None  # output dtype; None: `dtype` if given, else each tensor keeps the base's
    weight: Setting | None = None  # global defaults for the per-model parameters
    drop_rate: Setting | None = None
    density: Setting | None = None
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
    def model_weight(self, m: ModelSpec, tensor: str | None = None) -> float:
        w = resolve(m.weight, tensor, f"models: {m.path}: weight")
        if w is None:
            w = resolve(self.weight, tensor, "parameters: weight")
        return 1.0 if w is None else w

    def _sparsity(self, m: ModelSpec, tensor: str | None) -> tuple[str, float] | None:
        """('density' | 'drop_rate', value as written): the model's own setting first, then the global one."""
        for owner, label in ((m, f"models: {m.path}"), (self, "parameters")):
            for key in ("density", "drop_rate"):
                v = resolve(getattr(owner, key), tensor, f"{label}: {key}")
                if v is not None:
                    return key, v
        return None

    def model_density(self, m: ModelSpec, tensor: str | None = None) -> float:
        """Keep fraction exactly as written (1 - drop_rate when the recipe gives a drop_rate)."""
        s = self._sparsity(m, tensor)
        if s is None:
            return 1.0
        return s[1] if s[0] == "density" else 1.0 - s[1]

    def model_drop_rate(self, m: ModelSpec, tensor: str | None = None) -> float:
        """Drop probability exactly as written (1 - density when the recipe gives a density)."""
        s = self._sparsity(m, tensor)
        if s is None:
            return 0.0
        return s[1] if s[0] == "drop_rate" else 1.0 - s[1]

    @property
    def output_dtype(self) -> str | None:
        return self.out_dtype or self.dtype

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
        weights = {self.model_weight(m, None) for m in self.models}
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


def _sparsity_of(params: dict, where: str) -> dict:
    if "density" in params and "drop_rate" in params:
        raise MergeError(f"{where}: give density or drop_rate, not both")
    return {k: parse_setting(params.get(k), f"{where}.{k}") for k in ("density", "drop_rate")}


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
        models.append(ModelSpec(str(entry["model"]), parse_setting(mp.get("weight"), f"{where}.parameters.weight"),
                                **_sparsity_of(mp, f"{where}.parameters")))
    dtype, out_dtype = raw.get("dtype"), raw.get("out_dtype")
    for key in ("rescale", "normalize"):
        if params.get(key) is not None and not isinstance(params[key], bool):
            raise MergeError(f"{source}: parameters.{key}: expected true or false, got {params[key]!r}")
    cfg = MergeConfig(
        merge_method=str(raw.get("merge_method", "")),
        base_model=None if raw.get("base_model") is None else str(raw["base_model"]),
        models=tuple(models),
        out=raw.get("out"),
        rng=str(raw.get("rng", "native")),
        seed=int(raw.get("seed", 0)),
        dtype=None if dtype is None else canonical(str(dtype), f"{source}: dtype"),
        out_dtype=None if out_dtype is None else canonical(str(out_dtype), f"{source}: out_dtype"),
        weight=parse_setting(params.get("weight"), f"{source}: parameters.weight"),
        **_sparsity_of(params, f"{source}: parameters"),
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
    for owner, label in [(m, f"model {m.path}") for m in cfg.models] + [(cfg, "parameters")]:
        for key in ("density", "drop_rate"):
            for v in setting_leaves(getattr(owner, key)):
                if not 0.0 <= v <= 1.0:
                    raise MergeError(f"{where}: {label}: {key} {v} outside [0, 1] (density = 1 - drop_rate)")
                if cfg.method.sparsify is None and v != (1.0 if key == "density" else 0.0):
                    raise MergeError(f"{where}: {cfg.merge_method} takes no density/drop_rate ({label})")
    cfg.method.validate(cfg, where)
    if cfg.rng == "mergelm":
        if not cfg.method.mergelm:
            raise MergeError(f"{where}: rng mergelm replays MergeLM's mask_merging + average_merging, i.e. "
                             f"dare_linear; {cfg.merge_method} has no MergeLM counterpart (use rng native)")
        if any(isinstance(x, tuple) for m in cfg.models for x in (m.weight, m.density, m.drop_rate)) or any(
                isinstance(x, tuple) for x in (cfg.weight, cfg.density, cfg.drop_rate)):
            raise MergeError(f"{where}: rng mergelm takes one weight and drop_rate per model, not per-tensor lists")
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
