"""Preflight and plan: open every input, check that they can be merged, and lay out the output.

Everything that can be known before reading tensor data is checked here, so a bad input fails before any output
file exists: architecture (config.json), tensor set, shapes, dtypes, the vocabulary policy, free disk space.
NaN/Inf are checked on the data itself as it streams (a full pre-scan would double the read time); a hit aborts
the merge and removes the temporary output.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .config import MergeConfig, describe_setting
from .dtypes import TORCH_NAMES, itemsize
from .errors import MergeError
from .sources import HFSource, open_source, row_length, rows

VOCAB_TENSORS = ("model.embed_tokens.weight", "lm_head.weight")
CONFIG_IGNORED = {"_name_or_path", "torch_dtype", "dtype", "transformers_version", "vocab_size", "use_cache",
                  "pad_token_id"}
_LAYER_ORDER = [
    "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
    "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
    "input_layernorm.weight", "post_attention_layernorm.weight",
]


def module_order_key(name: str) -> tuple | None:
    """Position of a tensor in MistralForCausalLM.named_parameters() (also LlamaForCausalLM's), or None."""
    if name == "model.embed_tokens.weight":
        return (0,)
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", name)
    if m and m.group(2) in _LAYER_ORDER:
        return (1, int(m.group(1)), _LAYER_ORDER.index(m.group(2)))
    if name == "model.norm.weight":
        return (2,)
    if name == "lm_head.weight":
        return (3,)
    return None


def mistral_tensor_shapes(*, layers: int, hidden: int, intermediate: int, vocab: int,
                          kv_dim: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, HF shape) of every tensor of an untied MistralForCausalLM, in module order: the layout of the
    synthetic checkpoints the merge bench and tests write."""
    shapes = {"self_attn.q_proj.weight": (hidden, hidden), "self_attn.k_proj.weight": (kv_dim, hidden),
              "self_attn.v_proj.weight": (kv_dim, hidden), "self_attn.o_proj.weight": (hidden, hidden),
              "mlp.gate_proj.weight": (intermediate, hidden), "mlp.up_proj.weight": (intermediate, hidden),
              "mlp.down_proj.weight": (hidden, intermediate), "input_layernorm.weight": (hidden,),
              "post_attention_layernorm.weight": (hidden,)}
    out = [("model.embed_tokens.weight", (vocab, hidden))]
    out += [(f"model.layers.{n}.{name}", shapes[name]) for n in range(layers) for name in _LAYER_ORDER]
    return out + [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]


@dataclass
class TensorPlan:
    name: str
    shape: tuple[int, ...]  # output shape (HF layout)
    out_dtype: str
    merged: bool
    base_rows: int
    model_rows: list[int]  # rows each fine-tuned model has (vocab policy "base" may differ)
    pad_row: bool = False
    stream_offset: int = 0  # mergelm: index of this tensor's first element in one slot's draw stream
    # The recipe's parameters resolved for this tensor (mergekit filter lists): per fine-tuned model ...
    weights: list[float] = field(default_factory=list)
    densities: list[float] = field(default_factory=list)  # as written (1 - drop_rate if given that way)
    drop_rates: list[float] = field(default_factory=list)  # as written (1 - density if given that way)
    all_weights: list[float] = field(default_factory=list)  # ... and per `models` entry, base included

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def row_len(self) -> int:
        return row_length(self.shape)

    @property
    def rows(self) -> int:
        return rows(self.shape)

    @property
    def out_bytes(self) -> int:
        return self.numel * itemsize(self.out_dtype)


@dataclass
class Plan:
    cfg: MergeConfig
    base: HFSource
    finetuned: list  # sources, one per fine-tuned model (config order, base entries left out)
    tensors: list[TensorPlan]
    stream_total: int
    slots: list[int | None] | None
    notes: list[str] = field(default_factory=list)

    @property
    def out_bytes(self) -> int:
        return sum(t.out_bytes for t in self.tensors)

    @property
    def in_bytes(self) -> int:
        total = 0
        for t in self.tensors:
            dt, _ = self.base.tensors[t.name]
            total += t.base_rows * t.row_len * itemsize(dt)
            if t.merged:
                for src, r in zip(self.finetuned, t.model_rows, strict=True):
                    total += min(r, t.rows) * t.row_len * itemsize(src.tensors[t.name][0])
        return total

    def estimate_seconds(self, threads: int) -> float:
        """Rough wall time: disk (1.5 GB/s read, 1.7 GB/s write, overlapped) vs CPU (ns per element measured
        on the development machine: mergelm ~9, native ~6 per fine-tuned model), whichever is longer."""
        elems = sum(t.numel for t in self.tensors if t.merged) * max(1, len(self.finetuned))
        ns = 9.0 if self.cfg.rng == "mergelm" else 6.0
        cpu = elems * ns * 1e-9 / max(1, threads)
        disk = self.in_bytes / 1.5e9 + self.out_bytes / 1.7e9
        return max(cpu, disk)

    def describe(self, threads: int) -> str:
        merged = [t for t in self.tensors if t.merged]
        lines = [
            f"method {self.cfg.merge_method}, rng {self.cfg.rng}, seed {self.cfg.seed}",
            f"base      {self.base.path}",
            *[f"model {j}   {src.path} ({src.kind}, weight {_setting(m.weight, self.cfg.weight, 1.0)}, "
              + (f"density {_setting(m.density, self.cfg.density, None)}" if _is_density(m, self.cfg)
                 else f"drop_rate {_setting(m.drop_rate, self.cfg.drop_rate, 0.0)}") + ")"
              for j, (src, m) in enumerate(zip(self.finetuned, self.cfg.finetuned(), strict=True))],
            f"tensors   {len(self.tensors)} ({len(merged)} merged, {len(self.tensors) - len(merged)} copied from base)",
            f"elements  {sum(t.numel for t in self.tensors):,}",
            f"read      {self.in_bytes / 1e9:.2f} GB, write {self.out_bytes / 1e9:.2f} GB "
            f"({', '.join(sorted({TORCH_NAMES[t.out_dtype] for t in self.tensors}))})",
            f"threads   {threads}, expected time ~{self.estimate_seconds(threads):.0f} s",
        ]
        if self.slots is not None:
            desc = ["base" if s is None else f"model {s}" for s in self.slots]
            lines.append(f"mergelm   slots {desc}, {self.stream_total:,} draws per slot")
        lines += [f"note      {n}" for n in self.notes]
        return "\n".join(lines)


def _setting(own, glob, default):
    """A model's parameter for the plan's text: a number, or the per-tensor list (then the global fallback)."""
    own, glob = describe_setting(own), describe_setting(glob)
    if own is None:
        return default if glob is None else glob
    return own if glob is None or not isinstance(own, list) else f"{own} else {glob}"


def _is_density(m, cfg) -> bool:
    return m.density is not None or (m.drop_rate is None and cfg.density is not None)


def _compare_configs(base: HFSource, other, label: str) -> None:
    if base.config is None or getattr(other, "config", None) is None:
        return
    a, b = base.config, other.config
    diff = sorted(k for k in (set(a) | set(b)) - CONFIG_IGNORED if a.get(k) != b.get(k))
    arch_keys = {"architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                 "num_attention_heads", "num_key_value_heads", "head_dim", "tie_word_embeddings"}
    bad = [k for k in diff if k in arch_keys]
    if bad:
        details = ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in bad)
        raise MergeError(f"{other.path}: architecture differs from the base {base.path} ({details})")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(re.search(p, name) for p in patterns)


def build_plan(cfg: MergeConfig, check_disk: Path | None = None) -> Plan:
    base = open_source(cfg.base_model, cfg.orbax_prefix)
    if not isinstance(base, HFSource):
        raise MergeError(f"{cfg.base_model}: the base must be an HF directory (its config and tokenizer are kept)")
    if base.config is None:
        raise MergeError(f"{base.path}: no config.json")
    opened: dict[str, object] = {}
    finetuned = []
    for m in cfg.finetuned():
        key = str(Path(m.path).expanduser().resolve())
        if key not in opened:
            opened[key] = open_source(m.path, cfg.orbax_prefix)
        finetuned.append(opened[key])
    notes: list[str] = []
    base_t = base.tensors
    for src in finetuned:
        _compare_configs(base, src, "model")
        names = set(src.tensors)
        missing, extra = sorted(set(base_t) - names), sorted(names - set(base_t))
        if missing:
            raise MergeError(f"{src.path}: missing tensor(s) {missing[:5]}{' ...' if len(missing) > 5 else ''} "
                             f"that the base {base.path} has")
        if extra:
            raise MergeError(f"{src.path}: tensor(s) {extra[:5]}{' ...' if len(extra) > 5 else ''} "
                             f"not in the base {base.path}")
        for name, (dtype, shape) in src.tensors.items():
            bdtype, bshape = base_t[name]
            if shape != bshape:
                if name in VOCAB_TENSORS and shape[1:] == bshape[1:]:
                    if cfg.vocab_policy == "error":
                        raise MergeError(
                            f"{src.path}: vocabulary mismatch: {name} has {shape[0]} rows, the base {bshape[0]} "
                            "(set vocab_policy: base to keep the base's vocabulary)")
                    notes.append(f"{name}: {src.path} has {shape[0]} rows, output keeps the base's {bshape[0]}")
                else:
                    raise MergeError(f"{src.path}: tensor {name} has shape {list(shape)}, the base {list(bshape)}")
            if dtype != bdtype:
                notes.append(f"{name}: {src.path} is {TORCH_NAMES[dtype]}, the base {TORCH_NAMES[bdtype]}"
                             " (merged in float32)")
    # Output order: MistralForCausalLM's module order (MergeLM's draw order), unknown names after, sorted.
    known = [n for n in base_t if module_order_key(n) is not None]
    unknown = sorted(n for n in base_t if module_order_key(n) is None)
    order = sorted(known, key=module_order_key) + unknown
    tensors = []
    offset = 0
    for name in order:
        bdtype, bshape = base_t[name]
        merged = (not cfg.include or _matches(name, cfg.include)) and not _matches(name, cfg.exclude)
        if cfg.rng == "mergelm" and merged and module_order_key(name) is None:
            raise MergeError(f"{base.path}: tensor {name} has no place in MistralForCausalLM's module order, "
                             "so MergeLM's draw order is unknown (exclude it or use rng native)")
        pad = cfg.add_pad_token and name in VOCAB_TENSORS
        shape = (bshape[0] + 1, *bshape[1:]) if pad else bshape
        t = TensorPlan(name, shape, cfg.output_dtype or bdtype, merged, bshape[0] if bshape else 1,
                       [src.tensors[name][1][0] if bshape else 1 for src in finetuned], pad,
                       weights=[cfg.model_weight(m, name) for m in cfg.finetuned()],
                       densities=[cfg.model_density(m, name) for m in cfg.finetuned()],
                       drop_rates=[cfg.model_drop_rate(m, name) for m in cfg.finetuned()],
                       all_weights=[cfg.model_weight(m, name) for m in cfg.models])
        if merged:
            t.stream_offset = offset
            offset += t.numel
        tensors.append(t)
    if len(notes) > 12:
        notes = notes[:12] + [f"... {len(notes) - 12} more"]
    plan = Plan(cfg, base, finetuned, tensors, offset, cfg.mergelm_slots() if cfg.rng == "mergelm" else None, notes)
    if check_disk is not None:
        probe = Path(check_disk).resolve()
        while not probe.exists():
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        need = plan.out_bytes + (64 << 20)
        if free < need:
            raise MergeError(f"{probe}: {free / 1e9:.2f} GB free, the output needs {need / 1e9:.2f} GB")
    return plan
