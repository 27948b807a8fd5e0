"""The jitted train step: token-normalised loss, in-jit gradient accumulation, AdamW, sharded and donated state.

Why this shape (MaxText's): parameters and AdamW moments stay float32 and sharded by their logical axes; the
forward runs in the compute dtype with float32 logits and loss; k micro-batches are a `lax.scan` inside one jitted
step whose summed gradients are divided once by the number of target tokens of the whole global batch (across
micro-batches and devices), so k micro-batches give the same update as one batch k times larger; the old state's
buffers are donated to the new one.

The parameters are the pure-dict tree of the model's `nnx.Param` state (layout in `train_jax.model`); the model is
rebuilt from its graph definition inside the step, so the step is a plain function of arrays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding

from train_jax.attention_chunks import query_chunks
from train_jax.loss import DEFAULT_LOSS_BLOCK_SIZE, model_nll_sum, model_token_nll, targets_past_capacity
from train_jax.mlp_chunks import mlp_chunks
from train_jax.model import Mistral
from train_jax.sharding import (
    DEFAULT_RULES,
    activation_sharding,
    optimizer_shardings,
    param_shardings,
    replicated,
)


class TrainState(NamedTuple):
    step: jax.Array  # int32: updates done
    params: dict  # float32 master weights (pure dict, model layout)
    opt_state: Any  # optax state (AdamW moments float32, sharded like params)
    rng: jax.Array  # uint32 key data, carried for reproducible randomness (saved and restored)


def split_model(model: Mistral) -> tuple[nnx.GraphDef, Any, dict]:
    """(graph definition, the nnx Param state, its pure dict)."""
    graphdef, state = nnx.split(model, nnx.Param)
    return graphdef, state, nnx.to_pure_dict(state)


def token_nll(graphdef: nnx.GraphDef, params: dict, batch: dict[str, jax.Array],
              block_size: int = DEFAULT_LOSS_BLOCK_SIZE, target_capacity: int = 0,
              group_rows: int = 1) -> tuple[jax.Array, jax.Array]:
    """(Σ target-token negative log-likelihood, Σ target weights) of one micro-batch, in float32; the logits are
    computed `block_size` positions at a time, and their gradient in the same pass (train_jax.loss), never for
    the whole micro-batch at once."""
    nll = model_nll_sum(nnx.merge(graphdef, params), batch, block_size, target_capacity, group_rows)
    return nll, jnp.sum(batch["weights"].astype(jnp.float32))


def per_token_nll(graphdef: nnx.GraphDef, params: dict, batch: dict[str, jax.Array],
                  block_size: int = DEFAULT_LOSS_BLOCK_SIZE, target_capacity: int = 0,
                  group_rows: int = 1) -> jax.Array:
    """Per-position negative log-likelihood [rows, tokens] (zero where the weight is zero), blockwise;
    `target_capacity` > 0: the head only at the weighted positions (train_jax.loss.gathered_token_nll)."""
    return model_token_nll(nnx.merge(graphdef, params), batch, block_size, target_capacity, group_rows)


def make_train_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    schedule: Callable[[jax.Array], jax.Array],
    *,
    mesh: Mesh | None = None,
    rules=DEFAULT_RULES,
    grad_shardings: Any = None,
    loss_block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
    loss_target_capacity: int = 0,
    loss_target_group_rows: int = 1,
    attention_query_block: int = 0,
    mlp_block_size: int = 0,
) -> Callable[[TrainState, dict[str, jax.Array]], tuple[TrainState, dict[str, jax.Array]]]:
    """step(state, batch) → (state, metrics); batch arrays are [micro-batches, rows, tokens].

    `attention_query_block` > 0 runs XLA attention that many queries at a time (train_jax.attention_chunks);
    `mlp_block_size` > 0 runs the layers' MLPs that many positions at a time (train_jax.mlp_chunks)."""
    # loss_target_capacity > 0: the output head at most that many target positions per group of
    # loss_target_group_rows consecutive rows; the metrics then carry `targets_dropped` (targets past the
    # capacity, which the trainer refuses).
    grad_fn = jax.value_and_grad(lambda p, mb: token_nll(graphdef, p, mb, loss_block_size, loss_target_capacity,
                                                         loss_target_group_rows), has_aux=True)

    def constrain_grads(g):
        if grad_shardings is None:
            return g
        return jax.tree.map(jax.lax.with_sharding_constraint, g, grad_shardings)

    def gradients(params, batch):
        micro = batch["input_ids"].shape[0]
        if micro == 1:
            (nll, count), grads = grad_fn(params, jax.tree.map(lambda x: x[0], batch))
            return constrain_grads(grads), nll, count

        def body(carry, mb):
            acc, nll_acc, count_acc = carry
            (nll, count), grads = grad_fn(params, mb)
            acc = constrain_grads(jax.tree.map(jnp.add, acc, grads))
            return (acc, nll_acc + nll, count_acc + count), None

        zeros = constrain_grads(jax.tree.map(jnp.zeros_like, params))
        init = (zeros, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))
        (grads, nll, count), _ = jax.lax.scan(body, init, batch)
        return grads, nll, count

    def step(state: TrainState, batch: dict[str, jax.Array]):
        sharded = activation_sharding(mesh, rules) if mesh is not None else contextlib.nullcontext()
        with query_chunks(attention_query_block), mlp_chunks(mlp_block_size), sharded:
            grads, nll, count = gradients(state.params, batch)
        denom = jnp.maximum(count, 1.0)
        grads = jax.tree.map(lambda g: g / denom, grads)
        grad_norm = optax.tree.norm(grads)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {
            "loss": nll / denom,
            "grad_norm": grad_norm,
            "learning_rate": schedule(state.step),
            "target_tokens": count,
        }
        if loss_target_capacity > 0:
            metrics["targets_dropped"] = targets_past_capacity(batch["weights"], loss_target_capacity,
                                                               loss_target_group_rows)
        return TrainState(state.step + 1, params, opt_state, state.rng), metrics

    return step


def init_state(params: dict, tx: optax.GradientTransformation, seed: int) -> TrainState:
    rng = jax.random.key_data(jax.random.key(seed))
    return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params), rng)


def state_shardings(params_state: Any, tx: optax.GradientTransformation, mesh: Mesh, rules=DEFAULT_RULES):
    """NamedShardings of the whole TrainState: parameters by their logical axes, AdamW moments alike, scalars
    replicated."""
    p_shard = param_shardings(params_state, mesh, rules)
    abstract_params = jax.tree.map(lambda v: jax.ShapeDtypeStruct(v.shape, v.dtype), nnx.to_pure_dict(params_state))
    abstract_opt = jax.eval_shape(tx.init, abstract_params)
    o_shard = optimizer_shardings(tx, abstract_opt, p_shard, mesh)
    rep = replicated(mesh)
    return TrainState(rep, p_shard, o_shard, rep)


def abstract_state(params_state: Any, tx: optax.GradientTransformation, shardings: TrainState) -> TrainState:
    """ShapeDtypeStructs (with shardings) of the whole TrainState: the target a checkpoint is restored onto."""
    abstract_params = jax.tree.map(lambda v: jax.ShapeDtypeStruct(v.shape, v.dtype), nnx.to_pure_dict(params_state))
    shapes = TrainState(
        jax.ShapeDtypeStruct((), jnp.int32),
        abstract_params,
        jax.eval_shape(tx.init, abstract_params),
        jax.ShapeDtypeStruct((2,), jnp.uint32),
    )
    return jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), shapes, shardings)


def jit_train_step(
    step: Callable, shardings: TrainState, batch_sharding: NamedSharding, mesh: Mesh
) -> Callable[[TrainState, dict[str, jax.Array]], tuple[TrainState, dict[str, jax.Array]]]:
    """The step jitted with explicit in/out shardings and the incoming state donated."""
    batch_shardings = {k: batch_sharding for k in ("input_ids", "targets", "weights", "segment_ids", "positions")}
    metric_shardings = replicated(mesh)  # every metric (a prefix for the metrics dict, whatever its keys)
    return jax.jit(
        step,
        in_shardings=(shardings, batch_shardings),
        out_shardings=(shardings, metric_shardings),
        donate_argnums=(0,),
    )
