"""Mistral (the BioMistral-7B architecture) in Flax NNX.

RMSNorm, RoPE, grouped-query attention with a sliding-window causal mask, SwiGLU MLP, tied or untied embeddings.
The forward pass takes optional `positions` and `segment_ids` (packed rows never attend across documents) and an
`attention_mask` for padding. Parameters are stored in `param_dtype` and computed in `dtype`; RMSNorm statistics,
softmax and logits are float32. Every parameter carries `logical_axes` metadata (embed, heads, kv_heads, mlp,
vocab, norm) that `train_jax.sharding` maps to mesh axes.

Parameter tree (stable: `merge.orbax_names` and `train_jax.hf` rely on it): `embed_tokens/embedding` [vocab, embed],
`layers/{i}/self_attn/{q,k,v,o}_proj/kernel` [in, out], `layers/{i}/mlp/{gate,up,down}_proj/kernel` [in, out],
`layers/{i}/{input,post_attention}_layernorm/scale`, `norm/scale`, `lm_head/kernel` [embed, vocab] (absent when tied).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.ad_checkpoint import checkpoint_name

from train_jax.attention import AttentionMask, folded_segment_ids, fused_attention
from train_jax.attention_chunks import by_query_chunks
from train_jax.config import ModelConfig
from train_jax.mlp_chunks import by_position_chunks, chunks_for
from train_jax.sharding import constrain

# Logical axes of the activations (their own names, so the rules can shard them apart from the parameters).
ACT_EMBED = ("activation_batch", "activation_length", "activation_embed")
ACT_MLP = ("activation_batch", "activation_length", "activation_mlp")
ACT_VOCAB = ("activation_batch", "activation_length", "activation_vocab")
ACT_Q = ("activation_batch", "activation_length", "activation_heads", "activation_head_dim")
ACT_KV = ("activation_batch", "activation_length", "activation_kv_heads", "activation_head_dim")

# Named rematerialisation policies (gradient checkpointing), chosen by config.
REMAT_POLICIES: dict[str, Any] = {
    "none": None,  # keep every activation
    "full": jax.checkpoint_policies.nothing_saveable,  # recompute the whole layer
    "dots": jax.checkpoint_policies.checkpoint_dots,  # keep matmul outputs
    "dots_no_batch": jax.checkpoint_policies.checkpoint_dots_with_no_batch_dims,  # keep weight matmuls only
    # recompute the whole layer, and keep each layer's input in host memory (pinned_host) instead of HBM until
    # the backward pass needs it: the saved residual stream leaves the accelerator (MaxText's offloaded remat)
    "full_offload": jax.checkpoint_policies.save_and_offload_only_these_names(
        names_which_can_be_saved=[], names_which_can_be_offloaded=["layer_input"],
        offload_src="device", offload_dst="pinned_host"),
}

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def to_jnp_dtype(name: str) -> Any:
    return _DTYPES[name]


def token_matmul(x: jax.Array, w: jax.Array, contract_w: int = 0, out_dtype: Any = None) -> jax.Array:
    """x [..., d] times w over w's axis `contract_w`, with the leading (batch, length) axes flattened into one.

    One token axis keeps every matmul and its two gradient matmuls plain 2-D GEMMs: with [B, T] kept apart,
    XLA:CPU contracts the weight gradient over two axes and materialises transposed copies of activations and
    weights (about 40% slower fwd+bwd on the MLP of a 1024-wide Mistral). The reshapes are free (contiguous)."""
    lead = x.shape[:-1]
    y = jax.lax.dot_general(x.reshape(-1, x.shape[-1]), w, (((1,), (contract_w,)), ((), ())),
                            preferred_element_type=out_dtype)
    return y.reshape(*lead, y.shape[-1])


class Linear(nnx.Module):
    """y = x @ kernel, kernel [in, out] in param dtype, computed in the compute dtype."""

    def __init__(self, din: int, dout: int, axes: tuple[str, str], cfg: ModelConfig, *, rngs: nnx.Rngs):
        init = nnx.initializers.normal(cfg.initializer_range)
        self.kernel = nnx.Param(init(rngs.params(), (din, dout), to_jnp_dtype(cfg.param_dtype)), logical_axes=axes)
        self.dtype = to_jnp_dtype(cfg.dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        return token_matmul(x.astype(self.dtype), self.kernel[...].astype(self.dtype))


class RMSNorm(nnx.Module):
    """HF Mistral RMSNorm: statistics in float32, scale applied after casting back to the compute dtype."""

    def __init__(self, dim: int, cfg: ModelConfig):
        self.scale = nnx.Param(jnp.ones((dim,), to_jnp_dtype(cfg.param_dtype)), logical_axes=("norm",))
        self.eps = cfg.rms_norm_eps
        self.dtype = to_jnp_dtype(cfg.dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        return rms_norm(x, self.scale[...], self.eps, self.dtype)


def rms_norm(x: jax.Array, scale: jax.Array, eps: float, dtype: Any) -> jax.Array:
    x32 = x.astype(jnp.float32)
    x32 = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + eps)
    return scale.astype(dtype) * x32.astype(dtype)


def swiglu(x: jax.Array, w_gate: jax.Array, w_up: jax.Array, w_down: jax.Array, dtype: Any) -> jax.Array:
    """down(silu(x @ w_gate) * (x @ w_up)) in the compute dtype."""
    x = x.astype(dtype)
    h = jax.nn.silu(token_matmul(x, w_gate.astype(dtype))) * token_matmul(x, w_up.astype(dtype))
    return token_matmul(constrain(h, ACT_MLP), w_down.astype(dtype))


def rope_tables(positions: jax.Array, head_dim: int, theta: float) -> tuple[jax.Array, jax.Array]:
    """cos/sin [B, T, head_dim] in float32 for the HF "rotate half" layout."""
    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    freqs = positions.astype(jnp.float32)[..., None] * jnp.asarray(inv_freq)
    emb = jnp.concatenate([freqs, freqs], axis=-1)
    return jnp.cos(emb), jnp.sin(emb)


def _rotate(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """x·cos + rotate_half(x)·sin in float32 (cos/sin [B, T, D] broadcast over heads), result in x's dtype.

    Written per half (the tables repeat their D/2 frequencies): [x1·c − x2·s, x2·c + x1·s], the same float32
    operations as with rotate_half = [−x2, x1], but with no float32 [.., D] or negated-half tensor for XLA to
    materialise between fusions: each half is one elementwise expression whose result is cast before joining."""
    half = x.shape[-1] // 2
    c, s = cos[:, :, None, :half], sin[:, :, None, :half]
    x1, x2 = x[..., :half].astype(jnp.float32), x[..., half:].astype(jnp.float32)
    return jnp.concatenate([(x1 * c - x2 * s).astype(x.dtype), (x2 * c + x1 * s).astype(x.dtype)], axis=-1)


@jax.custom_vjp
def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """x [B, T, H, D]; rotation in float32, result in x's dtype.

    The gradient is the inverse rotation (by −θ) written the same way, one elementwise expression per half:
    autodiff's transpose of the slices and the concatenation leaves float32 [B, T, H, D/2] pieces in memory (at
    7B, 16 rows × 2048 × 32 heads: 512 MiB each on the backward pass of every layer)."""
    return _rotate(x, cos, sin)


def _rope_fwd(x, cos, sin):
    return _rotate(x, cos, sin), (cos, sin)


def _rope_bwd(res, g):
    cos, sin = res
    return _rotate(g, cos, -sin), jnp.zeros_like(cos), jnp.zeros_like(sin)


apply_rope.defvjp(_rope_fwd, _rope_bwd)


def attention_mask_from(
    q_pos: jax.Array,
    k_pos: jax.Array,
    q_seg: jax.Array,
    k_seg: jax.Array,
    k_valid: jax.Array,
    sliding_window: int | None,
) -> jax.Array:
    """Boolean [B, 1, T, S]: causal by position, same segment, valid key, inside the sliding window.

    A key is visible to a query when k_pos <= q_pos and q_pos - k_pos < sliding_window (HF Mistral's window
    counts the query itself).
    """
    qp, kp = q_pos[:, :, None], k_pos[:, None, :]
    mask = (kp <= qp) & (q_seg[:, :, None] == k_seg[:, None, :]) & k_valid[:, None, :]
    if sliding_window is not None:
        mask &= (qp - kp) < sliding_window
    return mask[:, None, :, :]


def reference_attention(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array) -> jax.Array:
    """Plain XLA attention. q [B, T, N, D], k/v [B, S, K, D], mask [B, 1, T, S] → [B, T, N, D].

    Grouped-query attention without repeating K/V; scores and softmax in float32. Heads go first and a KV
    group's queries are merged into one axis ([B, K, G·T, D]), so both products are plain batched GEMMs with
    the batch axes leading (about 15% faster fwd+bwd on XLA:CPU than contracting the [B, T, K, G, D] layout).
    """
    b, t, n, d = q.shape
    kv, s = k.shape[2], k.shape[1]
    g = n // kv
    qh = q.reshape(b, t, kv, g, d).transpose(0, 2, 3, 1, 4).reshape(b, kv, g * t, d)
    kh, vh = k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)
    scores = jnp.einsum("bkmd,bksd->bkms", qh, kh, preferred_element_type=jnp.float32) / np.sqrt(d)
    visible = jnp.broadcast_to(mask[:, :, None, :, :], (b, 1, g, t, s)).reshape(b, 1, g * t, s)
    scores = jnp.where(visible, scores, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    out = jnp.einsum("bkms,bksd->bkmd", probs, vh)
    return out.reshape(b, kv, g, t, d).transpose(0, 3, 1, 2, 4).reshape(b, t, n, d)


class Attention(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        e, n, kv, d = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = Linear(e, n * d, ("embed", "heads"), cfg, rngs=rngs)
        self.k_proj = Linear(e, kv * d, ("embed", "kv_heads"), cfg, rngs=rngs)
        self.v_proj = Linear(e, kv * d, ("embed", "kv_heads"), cfg, rngs=rngs)
        self.o_proj = Linear(n * d, e, ("heads", "embed"), cfg, rngs=rngs)
        self.cfg = cfg

    def __call__(self, x, cos, sin, mask, *, cache=None, fused_ok=True):
        cfg = self.cfg
        b, t, _ = x.shape
        q = self.q_proj(x).reshape(b, t, cfg.num_attention_heads, cfg.head_dim)
        k = self.k_proj(x).reshape(b, t, cfg.num_key_value_heads, cfg.head_dim)
        v = self.v_proj(x).reshape(b, t, cfg.num_key_value_heads, cfg.head_dim)
        q = constrain(apply_rope(q, cos, sin), ACT_Q)
        k = constrain(apply_rope(k, cos, sin), ACT_KV)
        v = constrain(v, ACT_KV)
        new_cache, index = None, None
        if cache is not None:  # decode: write this step's keys/values, attend over the whole cache
            k_cache, v_cache, index = cache
            k = jax.lax.dynamic_update_slice_in_dim(k_cache, k.astype(k_cache.dtype), index, axis=1)
            v = jax.lax.dynamic_update_slice_in_dim(v_cache, v.astype(v_cache.dtype), index, axis=1)
            new_cache = (k, v)
        if cfg.attention == "fused" and fused_ok and cache is None:
            out = fused_attention(q, k, v, mask, cfg.sliding_window)
        elif cfg.attention == "fused" and fused_ok and isinstance(index, int) and index == 0 and t > 1:
            # prefill from an empty cache: the chunk attends only to itself, so the kernel sees fresh keys
            fresh = mask._replace(dense=mask.dense[..., :t])
            out = fused_attention(q, k[:, :t], v[:, :t], fresh, cfg.sliding_window)
        else:
            out = by_query_chunks(reference_attention, q, k, v, mask.dense)  # whole unless a train step chunks
        out = constrain(out, ACT_Q)
        return self.o_proj(out.reshape(b, t, cfg.num_attention_heads * cfg.head_dim)), new_cache


class MLP(nnx.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        e, m = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = Linear(e, m, ("embed", "mlp"), cfg, rngs=rngs)
        self.up_proj = Linear(e, m, ("embed", "mlp"), cfg, rngs=rngs)
        self.down_proj = Linear(m, e, ("mlp", "embed"), cfg, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return swiglu(x, self.gate_proj.kernel[...], self.up_proj.kernel[...], self.down_proj.kernel[...],
                      self.gate_proj.dtype)


class DecoderLayer(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg)
        self.self_attn = Attention(cfg, rngs=rngs)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg)
        self.mlp = MLP(cfg, rngs=rngs)

    def __call__(self, x, cos, sin, mask, cache=None):
        h, new_cache = self.self_attn(self.input_layernorm(x), cos, sin, mask, cache=cache)
        x = constrain(x + h, ACT_EMBED)
        x = constrain(x + self._norm_mlp(x), ACT_EMBED)
        return x, new_cache

    def _norm_mlp(self, x: jax.Array) -> jax.Array:
        """mlp(post_attention_layernorm(x)), `mlp_block_size` positions at a time in training (mlp_chunks)."""
        if chunks_for(x.shape[1]) == 1:
            return self.mlp(self.post_attention_layernorm(x))
        norm, mlp = self.post_attention_layernorm, self.mlp
        weights = [  # joined across FSDP shards once per layer (tensor-parallel shards stay split)
            constrain(norm.scale[...], ("norm",)),
            constrain(mlp.gate_proj.kernel[...], (None, "mlp")),
            constrain(mlp.up_proj.kernel[...], (None, "mlp")),
            constrain(mlp.down_proj.kernel[...], ("mlp", None)),
        ]

        def block(xb, scale, wg, wu, wd):
            return swiglu(rms_norm(xb, scale, norm.eps, norm.dtype), wg, wu, wd, norm.dtype)

        return by_position_chunks(block, x, weights)


class Embed(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        init = nnx.initializers.normal(cfg.initializer_range)
        shape = (cfg.vocab_size, cfg.hidden_size)
        self.embedding = nnx.Param(
            init(rngs.params(), shape, to_jnp_dtype(cfg.param_dtype)), logical_axes=("vocab", "embed")
        )
        self.dtype = to_jnp_dtype(cfg.dtype)

    def __call__(self, ids: jax.Array) -> jax.Array:
        return jnp.take(self.embedding[...], ids, axis=0).astype(self.dtype)

    def attend(self, x: jax.Array) -> jax.Array:
        """Tied output projection: x @ embeddingᵀ with float32 accumulation."""
        return token_matmul(x, self.embedding[...].astype(x.dtype), contract_w=1, out_dtype=jnp.float32)


class Mistral(nnx.Module):
    """`model(input_ids, positions=None, segment_ids=None, attention_mask=None) -> logits` [B, T, vocab], fp32."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.config = cfg
        self.embed_tokens = Embed(cfg, rngs=rngs)
        self.layers = nnx.List([DecoderLayer(cfg, rngs=rngs) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg)
        if not cfg.tie_word_embeddings:
            self.lm_head = Linear(cfg.hidden_size, cfg.vocab_size, ("embed", "vocab"), cfg, rngs=rngs)

    def hidden_states(self, input_ids, positions=None, segment_ids=None, attention_mask=None):
        ids = jnp.asarray(input_ids)
        if ids.ndim != 2 or not jnp.issubdtype(ids.dtype, jnp.integer):
            raise ValueError(f"input_ids must be an integer array [batch, seq]; got {ids.dtype} {ids.shape}")
        b, t = ids.shape
        pos = jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32), (b, t)) if positions is None else jnp.asarray(positions)
        seg = jnp.zeros((b, t), jnp.int32) if segment_ids is None else jnp.asarray(segment_ids)
        valid = jnp.ones((b, t), bool) if attention_mask is None else jnp.asarray(attention_mask).astype(bool)
        dense = attention_mask_from(pos, pos, seg, seg, valid, self.config.sliding_window)
        mask = AttentionMask(dense, folded_segment_ids(seg, valid))
        cos, sin = rope_tables(pos, self.config.head_dim, self.config.rope_theta)
        x = constrain(self.embed_tokens(ids), ACT_EMBED)
        policy = self.config.remat
        if self.config.scan_layers and len(self.layers) > 1:
            x = _scan_layers(list(self.layers), x, cos, sin, mask, policy, to_jnp_dtype(self.config.dtype))
        else:
            for layer in self.layers:
                if policy == "none":
                    x, _ = layer(x, cos, sin, mask)
                else:
                    x, _ = _remat_layer(layer, x, cos, sin, mask, policy)
        return self.norm(x)

    def logits_from_hidden(self, x: jax.Array) -> jax.Array:
        if self.config.tie_word_embeddings:
            logits = self.embed_tokens.attend(x)
        else:
            w = self.lm_head.kernel[...].astype(x.dtype)
            logits = token_matmul(x, w, out_dtype=jnp.float32)
        return constrain(logits, ACT_VOCAB)

    def __call__(self, input_ids, positions=None, segment_ids=None, attention_mask=None) -> jax.Array:
        return self.logits_from_hidden(self.hidden_states(input_ids, positions, segment_ids, attention_mask))

    def decode(self, input_ids, positions, cache, cache_index, key_positions, key_valid, last_only=False):
        """One cached step (or a prefill chunk) over a KV cache.

        `cache` is a list of (k, v) per layer, each [B, S, K, D]; the new tokens are written at `cache_index`.
        `key_positions`/`key_valid` [B, S] describe every cache slot *after* this write. Returns (logits, cache);
        with `last_only` the logits are for the last position only.
        """
        ids = jnp.asarray(input_ids)
        b, t = ids.shape
        seg_q = jnp.zeros((b, t), jnp.int32)
        seg_k = jnp.zeros(key_positions.shape, jnp.int32)
        dense = attention_mask_from(positions, key_positions, seg_q, seg_k, key_valid, self.config.sliding_window)
        # segment ids of the chunk's own slots (a prefill written at slot 0): the prompt's left padding is 0
        mask = AttentionMask(dense, folded_segment_ids(seg_q, key_valid[:, :t]))
        cos, sin = rope_tables(positions, self.config.head_dim, self.config.rope_theta)
        x = self.embed_tokens(ids)
        new_cache = []
        for layer, (k_c, v_c) in zip(self.layers, cache, strict=True):
            x, kv = layer(x, cos, sin, mask, cache=(k_c, v_c, cache_index))
            new_cache.append(kv)
        if last_only:  # a prefill needs only the next token's logits: skip the vocab matmul elsewhere
            x = x[:, -1:, :]
        return self.logits_from_hidden(self.norm(x)), new_cache


def _remat_layer(layer: DecoderLayer, x, cos, sin, mask, policy: str):
    if policy not in REMAT_POLICIES:
        raise ValueError(f"remat={policy!r}; expected one of {list(REMAT_POLICIES)}")

    def run(layer, x, cos, sin, mask):
        return layer(checkpoint_name(x, "layer_input"), cos, sin, mask)

    return nnx.remat(run, policy=REMAT_POLICIES[policy], prevent_cse=True)(layer, x, cos, sin, mask)


def _scan_layers(layers: list[DecoderLayer], x, cos, sin, mask, policy: str, compute_dtype):
    """All layers as one `lax.scan` over their parameters stacked inside the computation.

    The parameter tree keeps its per-layer layout (checkpoints, HF export and merges never see a stacked
    tensor); the stack is built from the compute-dtype copies the layers would make anyway, so XLA compiles one
    layer body instead of one per layer.
    """
    if policy not in REMAT_POLICIES:
        raise ValueError(f"remat={policy!r}; expected one of {list(REMAT_POLICIES)}")
    graphdef, _ = nnx.split(layers[0])

    def cast(a):
        return a.astype(compute_dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a

    states = [jax.tree.map(cast, nnx.split(layer)[1]) for layer in layers]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)

    def body(x, state):
        y, _ = nnx.merge(graphdef, state)(checkpoint_name(x, "layer_input"), cos, sin, mask)
        return y, None

    if policy != "none":
        body = jax.checkpoint(body, policy=REMAT_POLICIES[policy], prevent_cse=False)
    x, _ = jax.lax.scan(body, x, stacked)
    return x


def init_model(cfg: ModelConfig, seed: int = 0) -> Mistral:
    """A randomly initialised model (normal(initializer_range) weights, unit norms), deterministic in `seed`."""
    return Mistral(cfg, rngs=nnx.Rngs(params=seed))


def abstract_model(cfg: ModelConfig) -> Mistral:
    """The model's structure with ShapeDtypeStruct leaves, allocating nothing (for streaming loads)."""
    return nnx.eval_shape(lambda: Mistral(cfg, rngs=nnx.Rngs(params=0)))
