"""The output head applied at each row's target positions only (`loss_target_capacity`) gives the dense blockwise
loss and gradients (fp32) whenever every row's targets fit, and the train step counts the targets it would drop."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

from tests.train_jax.test_sharding import SMALL
from tests.train_jax.test_train_loss import _batch, _rel
from train_jax.model import init_model
from train_jax.train import init_state, make_train_step, per_token_nll, split_model, token_nll


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("spare, block", [(0, 8), (9, 64)])  # 0: exactly the fullest row's targets; 9: spare room
def test_target_only_head_equals_the_dense_loss_and_grads(tied, spare, block):
    cfg = SMALL.replace(tie_word_embeddings=tied)
    graphdef, _, params = split_model(init_model(cfg, seed=4))
    batch = _batch()
    batch["weights"][:] = 0
    batch["weights"].reshape(-1)[np.random.default_rng(1).choice(batch["weights"].size, 40, replace=False)] = 1
    per_row = (batch["weights"] != 0).sum(axis=-1)
    assert len(set(per_row.tolist())) > 1  # rows of different fill: the capacity is per row
    capacity = int(per_row.max()) + spare
    dense = jax.jit(jax.value_and_grad(lambda p: token_nll(graphdef, p, batch, block)[0]))
    gathered = jax.jit(jax.value_and_grad(lambda p: token_nll(graphdef, p, batch, block, capacity)[0]))
    (ref_loss, ref_grads), (loss, grads) = dense(params), gathered(params)
    assert _rel(loss, ref_loss) <= 1e-6
    flat_ref = dict(jax.tree_util.tree_flatten_with_path(ref_grads)[0])
    for path, g in jax.tree_util.tree_flatten_with_path(grads)[0]:
        assert _rel(g, flat_ref[path]) <= 1e-6, jax.tree_util.keystr(path)
    per_dense = jax.jit(lambda p: per_token_nll(graphdef, p, batch, block))(params)
    per_gathered = jax.jit(lambda p: per_token_nll(graphdef, p, batch, block, capacity))(params)
    assert _rel(per_gathered, per_dense) <= 1e-6 and np.all(np.asarray(per_gathered)[batch["weights"] == 0] == 0)


def test_train_step_counts_targets_past_the_capacity():
    graphdef, _, params = split_model(init_model(SMALL, seed=4))
    batch = {k: v[None] for k, v in _batch().items()}  # one micro-batch
    per_row = (batch["weights"] != 0).sum(axis=-1)[0]  # [rows] of the one micro-batch
    tx = optax.sgd(1e-3)
    fullest = int(per_row.max())
    for capacity in (fullest, fullest - 3, int(per_row.min()) - 1):
        dropped = int(np.maximum(per_row - capacity, 0).sum())
        step = jax.jit(make_train_step(graphdef, tx, lambda s: 1e-3, loss_target_capacity=capacity))
        _, metrics = step(init_state(params, tx, 0), batch)
        assert int(metrics["targets_dropped"]) == dropped
    _, metrics = jax.jit(make_train_step(graphdef, tx, lambda s: 1e-3))(init_state(params, tx, 0), batch)
    assert "targets_dropped" not in metrics


@pytest.mark.parametrize("tied", [False, True])
def test_rows_grouped_under_one_capacity_give_the_dense_loss_and_grads(tied):
    cfg = SMALL.replace(tie_word_embeddings=tied)
    graphdef, _, params = split_model(init_model(cfg, seed=4))
    batch = _batch(rows=4)
    per_row = (batch["weights"] != 0).sum(axis=-1)
    capacity = int(per_row.reshape(2, 2).sum(axis=-1).max())  # a pair of rows' total: more than one row holds
    assert capacity > per_row.max()
    dense = jax.jit(jax.value_and_grad(lambda p: token_nll(graphdef, p, batch, 8)[0]))
    grouped = jax.jit(jax.value_and_grad(lambda p: token_nll(graphdef, p, batch, 8, capacity, 2)[0]))
    (ref_loss, ref_grads), (loss, grads) = dense(params), grouped(params)
    assert _rel(loss, ref_loss) <= 1e-6
    flat_ref = dict(jax.tree_util.tree_flatten_with_path(ref_grads)[0])
    for path, g in jax.tree_util.tree_flatten_with_path(grads)[0]:
        assert _rel(g, flat_ref[path]) <= 1e-6, jax.tree_util.keystr(path)
    per_dense = jax.jit(lambda p: per_token_nll(graphdef, p, batch, 8))(params)
    per_grouped = jax.jit(lambda p: per_token_nll(graphdef, p, batch, 8, capacity, 2))(params)
    assert _rel(per_grouped, per_dense) <= 1e-6 and np.all(np.asarray(per_grouped)[batch["weights"] == 0] == 0)


def test_train_step_counts_targets_past_a_group_capacity():
    graphdef, _, params = split_model(init_model(SMALL, seed=4))
    batch = {k: v[None] for k, v in _batch(rows=4).items()}
    per_group = (batch["weights"] != 0).sum(axis=-1)[0].reshape(2, 2).sum(axis=-1)
    tx = optax.sgd(1e-3)
    for capacity in (int(per_group.max()), int(per_group.max()) - 5, int(per_group.min()) - 2):
        dropped = int(np.maximum(per_group - capacity, 0).sum())
        step = jax.jit(make_train_step(graphdef, tx, lambda s: 1e-3, loss_target_capacity=capacity,
                                       loss_target_group_rows=2))
        _, metrics = step(init_state(params, tx, 0), batch)
        assert int(metrics["targets_dropped"]) == dropped
