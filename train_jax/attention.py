"""Which attention kernel runs, chosen from the devices the program is compiled for.

`attention: fused` means: on a TPU target the Pallas splash-attention kernel JAX ships
(`jax.experimental.pallas.ops.tpu.splash_attention`, wrapped in `shard_map` over the mesh as MaxText does), which
never materialises the [T, S] scores; on a GPU target cuDNN flash attention through
`jax.nn.dot_product_attention` (bf16/fp16); elsewhere XLA. The target is the active mesh's platform
(`mesh.devices.flat[0].platform`, so compiling for a TPU topology from a CPU host picks the TPU kernel); with no
mesh the program runs on the first local device, so that device's platform decides.

Splash applies causality and the window by *index* and separates documents by segment id. That is the
project's position-based mask whenever positions count up by one inside each segment (packing and left-padded
prompts both do); padding goes in as its own segment (0), so padded queries see only padding, and their outputs,
which the loss and the prompt's last position never read, differ from the XLA path's.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from train_jax import sharding

SPLASH_BLOCKS = (512, 256, 128)  # the first that divides the sequence is used


class AttentionMask(NamedTuple):
    """The dense boolean mask [B, 1, T, S] for the XLA path and segment ids [B, T] (0 = padding) for kernels
    that build the mask themselves. XLA drops whichever one the chosen path does not read."""

    dense: jax.Array
    segment_ids: jax.Array


def folded_segment_ids(segment_ids: jax.Array, valid: jax.Array) -> jax.Array:
    """Segment ids with padding as its own segment 0 (real segments shifted to start at 1)."""
    return jnp.where(valid.astype(bool), segment_ids.astype(jnp.int32) + 1, 0)


def target_platform() -> str:
    """The platform the program being traced is compiled for: the active mesh's, else the first device's."""
    active = sharding.active_mesh()
    if active is not None:
        return active.devices.flat[0].platform
    return jax.local_devices()[0].platform


def splash_block(length: int) -> int | None:
    return next((b for b in SPLASH_BLOCKS if length % b == 0), None)


def _splash_local(q, k, v, seg, *, sliding_window: int | None, block: int, interpret: bool):
    """Splash on one shard: q [B, T, N, D], k/v [B, T, K, D], seg [B, T] → [B, T, N, D]."""
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as sk
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_mask as sm

    b, t, n, d = q.shape
    if sliding_window is None or sliding_window >= t:
        head_mask = sm.CausalMask((t, t))
    else:  # HF's window counts the query itself: keys q-(w-1) .. q
        head_mask = sm.LocalMask((t, t), window_size=(sliding_window - 1, 0), offset=0)
    blocks = sk.BlockSizes(
        block_q=block, block_kv=block, block_kv_compute=block,
        block_q_dkv=block, block_kv_dkv=block, block_kv_dkv_compute=block,
        block_q_dq=block, block_kv_dq=block,
    )
    kernel = sk.make_splash_mha(
        sm.MultiHeadMask([head_mask] * n), block_sizes=blocks, head_shards=1, q_seq_shards=1, interpret=interpret
    )
    scale = 1.0 / np.sqrt(d)
    # heads first, then the scale in float32 on the transposed array: one elementwise fusion each way (scaling
    # before the transpose left float32 [B, N, T, D] copies between fusions in the compiled TPU step)
    qh = (q.transpose(0, 2, 1, 3).astype(jnp.float32) * scale).astype(q.dtype)  # [B, N, T, D]
    kh, vh = k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)

    def one(qr, kr, vr, sr):
        return kernel(qr, kr, vr, segment_ids=sk.SegmentIds(q=sr, kv=sr))

    out = jax.vmap(one)(qh, kh, vh, seg.astype(jnp.int32))
    return out.transpose(0, 2, 1, 3).astype(q.dtype)


def splash_attention(
    q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array, sliding_window: int | None,
    *, interpret: bool = False, block: int | None = None,
) -> jax.Array:
    """Causal (optionally windowed) grouped-query self-attention with the TPU splash kernel.

    q [B, T, N, D], k/v [B, T, K, D], segment_ids [B, T] → [B, T, N, D]. Under an active mesh the kernel runs
    per shard in `shard_map`: rows split as the `batch` rule says, heads as `heads`/`kv_heads` (only when both
    split alike, so each shard keeps whole KV groups); the sequence must not be split.
    """
    t = q.shape[1]
    block = block or splash_block(t)
    if block is None or t % block:
        raise ValueError(f"splash attention needs the sequence ({t}) to be a multiple of a block {SPLASH_BLOCKS}")
    local = functools.partial(_splash_local, sliding_window=sliding_window, block=block, interpret=interpret)
    active = sharding.active_rules()
    if active is None:
        return local(q, k, v, segment_ids)
    mesh, rules = active
    qs = sharding.logical_to_spec(("batch", "length", "heads", "head_dim"), rules, mesh, q.shape)
    ks = sharding.logical_to_spec(("batch", "length", "kv_heads", "head_dim"), rules, mesh, k.shape)
    if qs[1] is not None:
        raise ValueError(f"splash attention cannot split the sequence axis (rule gives {qs[1]!r})")
    spec = PartitionSpec(qs[0], None, qs[2] if qs[2] == ks[2] else None, None)
    return jax.shard_map(
        local, mesh=mesh, in_specs=(spec, spec, spec, PartitionSpec(qs[0], None)), out_specs=spec, check_vma=False
    )(q, k, v, segment_ids)


def fused_attention(
    q: jax.Array, k: jax.Array, v: jax.Array, mask: AttentionMask, sliding_window: int | None
) -> jax.Array:
    """The kernel for the target platform (see the module docstring); XLA when none applies."""
    platform = target_platform()
    if platform == "tpu" and q.shape[1] == k.shape[1] and splash_block(q.shape[1]) is not None:
        return splash_attention(q, k, v, mask.segment_ids, sliding_window)
    impl = "cudnn" if platform == "gpu" and q.dtype in (jnp.bfloat16, jnp.float16) else None
    window = None if sliding_window is None else (sliding_window - 1, 0)
    return jax.nn.dot_product_attention(
        q, k, v, mask=mask.dense, is_causal=True, local_window_size=window, implementation=impl
    )
