"""The one place that maps train_jax's Flax parameter paths to HF MistralForCausalLM tensor names.

Assumed param tree (relative to the model root, e.g. under `model/` in an nnx state dict):

    embed_tokens/embedding                          [vocab, embed]   -> model.embed_tokens.weight
    layers/{i}/self_attn/{q,k,v,o}_proj/kernel      [in, out]        -> model.layers.{i}.self_attn.*.weight (transposed)
    layers/{i}/mlp/{gate,up,down}_proj/kernel       [in, out]        -> model.layers.{i}.mlp.*.weight (transposed)
    layers/{i}/{input,post_attention}_layernorm/scale [embed]        -> model.layers.{i}.*.weight
    norm/scale                                      [embed]          -> model.norm.weight
    lm_head/kernel                                  [embed, vocab]   -> lm_head.weight (transposed)

With scan over layers the per-layer leaves are stacked instead: `layers/self_attn/q_proj/kernel` has a leading
`layers` axis [n_layers, in, out]. An nnx leaf may end in an extra `value` key; it is ignored. Kernels are stored
[in, out] (Flax) and HF stores [out, in], hence the transposes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOTS = ("embed_tokens", "layers", "norm", "lm_head")

_LAYER_LEAVES = {
    ("self_attn", "q_proj", "kernel"): ("self_attn.q_proj.weight", True),
    ("self_attn", "k_proj", "kernel"): ("self_attn.k_proj.weight", True),
    ("self_attn", "v_proj", "kernel"): ("self_attn.v_proj.weight", True),
    ("self_attn", "o_proj", "kernel"): ("self_attn.o_proj.weight", True),
    ("mlp", "gate_proj", "kernel"): ("mlp.gate_proj.weight", True),
    ("mlp", "up_proj", "kernel"): ("mlp.up_proj.weight", True),
    ("mlp", "down_proj", "kernel"): ("mlp.down_proj.weight", True),
    ("input_layernorm", "scale"): ("input_layernorm.weight", False),
    ("post_attention_layernorm", "scale"): ("post_attention_layernorm.weight", False),
}
_TOP_LEAVES = {
    ("embed_tokens", "embedding"): ("model.embed_tokens.weight", False),
    ("norm", "scale"): ("model.norm.weight", False),
    ("lm_head", "kernel"): ("lm_head.weight", True),
}


@dataclass(frozen=True)
class LeafMapping:
    """How one checkpoint leaf becomes HF tensors: a single tensor, or one per layer of a stacked leaf."""

    hf_names: tuple[str, ...]  # one name, or n_layers names for a stacked leaf (index = leading axis)
    transpose: bool
    stacked: bool


def map_leaf(path: tuple[str, ...], shape: tuple[int, ...]) -> LeafMapping | None:
    """The HF tensor(s) for a param path relative to the model root, or None if it is not a model weight."""
    if path and path[-1] == "value":
        path = path[:-1]
    if path in _TOP_LEAVES:
        name, transpose = _TOP_LEAVES[path]
        return LeafMapping((name,), transpose, False)
    if len(path) >= 2 and path[0] == "layers":
        if re.fullmatch(r"\d+", path[1]) and tuple(path[2:]) in _LAYER_LEAVES:
            suffix, transpose = _LAYER_LEAVES[tuple(path[2:])]
            return LeafMapping((f"model.layers.{int(path[1])}.{suffix}",), transpose, False)
        if tuple(path[1:]) in _LAYER_LEAVES and shape:
            suffix, transpose = _LAYER_LEAVES[tuple(path[1:])]
            return LeafMapping(tuple(f"model.layers.{i}.{suffix}" for i in range(shape[0])), transpose, True)
    return None
