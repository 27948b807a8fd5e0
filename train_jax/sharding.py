"""Device mesh, logical-axis rules and activation sharding constraints.

Every parameter and activation names its axes logically (embed, heads, mlp, vocab, batch, length, ...); one
ordered rules table maps each logical axis to mesh axes (data, fsdp, tensor). FSDP by default; tensor
parallelism when the config gives the `tensor` axis a size above 1.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "fsdp", "tensor")

# Ordered: for each logical axis the first of its rules whose mesh axes are all unused in the spec and divide
# the dim wins; when none fits whole, the first rule keeps the axes that do (e.g. batch over fsdp alone).
# Activations have their own names (activation_*) so a config can shard them apart from the parameters.
DEFAULT_RULES: tuple[tuple[str, str | tuple[str, ...] | None], ...] = (
    ("batch", ("data", "fsdp")),
    ("length", None),
    ("embed", "fsdp"),
    ("vocab", "tensor"),
    ("heads", "tensor"),
    ("kv_heads", "tensor"),
    ("head_dim", None),
    ("mlp", "tensor"),
    ("norm", None),
    ("layers", None),
    ("activation_batch", ("data", "fsdp")),
    ("activation_length", None),
    ("activation_embed", "fsdp"),
    ("activation_vocab", "tensor"),
    ("activation_heads", "tensor"),
    ("activation_kv_heads", "tensor"),
    ("activation_head_dim", None),
    ("activation_mlp", "tensor"),
)

Rules = Sequence[tuple[str, "str | tuple[str, ...] | None"]]


def rules_from_config(pairs, where: str = "logical_axis_rules") -> tuple[tuple[str, str | tuple[str, ...] | None], ...]:
    """MaxText-style `[[logical_name, mesh_axes], ...]` (mesh_axes: null, one axis or a list) → a rules table.

    Raises ValueError naming the offending entry."""
    if not isinstance(pairs, list | tuple) or not pairs:
        raise ValueError(f"{where}: expected a non-empty list of [logical_name, mesh_axes] pairs; got {pairs!r}")
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not isinstance(pair[0], str):
            raise ValueError(f"{where}[{i}]: expected [logical_name, mesh_axes]; got {pair!r}")
        name, target = pair
        axes = () if target is None else ((target,) if isinstance(target, str) else target)
        if not isinstance(axes, list | tuple) or any(a not in MESH_AXES for a in axes):
            raise ValueError(f"{where}[{i}] ({name}): mesh axes {target!r}; expected null or names from {MESH_AXES}")
        out.append((name, None if target is None else (target if isinstance(target, str) else tuple(target))))
    return tuple(out)


_ACTIVE: contextvars.ContextVar[tuple[Mesh, tuple] | None] = contextvars.ContextVar("mnlu_mesh", default=None)


def make_mesh(shape: dict[str, int] | None = None, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A mesh over (data, fsdp, tensor); one axis may be -1 (the rest of the devices). Default: all fsdp."""
    devices = list(jax.devices() if devices is None else devices)
    shape = dict(shape or {"fsdp": -1})
    unknown = set(shape) - set(MESH_AXES)
    if unknown:
        raise ValueError(f"unknown mesh axes {sorted(unknown)}; expected {MESH_AXES}")
    sizes = [int(shape.get(a, 1)) for a in MESH_AXES]
    if sizes.count(-1) > 1:
        raise ValueError("at most one mesh axis may be -1")
    known = int(np.prod([s for s in sizes if s != -1]))
    if -1 in sizes:
        if len(devices) % known:
            raise ValueError(f"{len(devices)} devices do not divide into mesh {shape}")
        sizes[sizes.index(-1)] = len(devices) // known
    if int(np.prod(sizes)) != len(devices):
        raise ValueError(f"mesh {dict(zip(MESH_AXES, sizes, strict=True))} needs {int(np.prod(sizes))} devices; have {len(devices)}")
    return Mesh(np.asarray(devices).reshape(sizes), MESH_AXES)


def logical_to_spec(
    axes: Sequence[str | None], rules: Sequence[tuple[str, str | tuple[str, ...] | None]] = DEFAULT_RULES,
    mesh: Mesh | None = None, shape: Sequence[int] | None = None,
) -> PartitionSpec:
    """PartitionSpec for logical axes; a mesh axis is used once per spec, and only where it divides the dim.

    Each name may have several rules: the first whose mesh axes are all usable (unused, dividing the dim; axes of
    size 1 are skipped) wins; if none is, the first rule keeps the axes of it that are usable."""
    table: dict[str, list[tuple[str, ...]]] = {}
    for name, target in rules:
        table.setdefault(name, []).append(() if target is None else ((target,) if isinstance(target, str) else tuple(target)))
    used: set[str] = set()
    out = []
    for i, ax in enumerate(axes):
        chosen: list[str] = []
        for n, targets in enumerate(table.get(ax, [()]) if ax is not None else [()]):
            candidate = _usable(targets, used, mesh, None if shape is None else shape[i])
            if n == 0:
                chosen = candidate
            if len(candidate) == len([t for t in targets if mesh is None or mesh.shape[t] != 1]):
                chosen = candidate
                break
        used.update(chosen)
        out.append(None if not chosen else (chosen[0] if len(chosen) == 1 else tuple(chosen)))
    return PartitionSpec(*out)


def _usable(targets: tuple[str, ...], used: set[str], mesh: Mesh | None, dim: int | None) -> list[str]:
    """The mesh axes of one rule that can shard this dim, in order."""
    chosen: list[str] = []
    for t in targets:
        if t in used:
            continue
        if mesh is not None:
            size = mesh.shape[t]
            if size == 1:
                continue
            running = int(np.prod([mesh.shape[c] for c in chosen])) * size
            if dim is not None and dim % running:
                continue
        chosen.append(t)
    return chosen


def active_rules() -> tuple[Mesh, tuple] | None:
    """(mesh, rules) of the enclosing `activation_sharding`, or None."""
    return _ACTIVE.get()


def active_mesh() -> Mesh | None:
    active = _ACTIVE.get()
    return None if active is None else active[0]


@contextlib.contextmanager
def activation_sharding(mesh: Mesh, rules=DEFAULT_RULES):
    """Within this context, `constrain` places sharding constraints on activations."""
    token = _ACTIVE.set((mesh, tuple(rules)))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def constrain(x: jax.Array, axes: Sequence[str | None]) -> jax.Array:
    """with_sharding_constraint by logical axes when a mesh is active; identity otherwise."""
    active = _ACTIVE.get()
    if active is None:
        return x
    mesh, rules = active
    spec = logical_to_spec(axes, rules, mesh, x.shape)
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))


def param_sharding(logical_axes: Sequence[str | None] | None, shape, mesh: Mesh, rules=DEFAULT_RULES) -> NamedSharding:
    spec = PartitionSpec() if logical_axes is None else logical_to_spec(logical_axes, rules, mesh, shape)
    return NamedSharding(mesh, spec)


# ------------------------------------------------------------------------ shardings of the training state

BATCH_AXES = (None, "batch", "length")  # [micro-batches, rows, tokens]


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def param_shardings(params_state, mesh: Mesh, rules=DEFAULT_RULES) -> dict:
    """A pure-dict tree of NamedShardings for an `nnx.State` of Params (concrete or abstract), from their
    `logical_axes` metadata; the tree has the layout of `state.to_pure_dict()`."""
    from flax import nnx

    def one(var):
        value = var.get_value() if hasattr(var, "get_value") else var.value
        return param_sharding(getattr(var, "logical_axes", None), value.shape, mesh, rules)

    shardings = jax.tree.map(one, params_state, is_leaf=lambda x: isinstance(x, nnx.Variable))
    return nnx.to_pure_dict(shardings) if isinstance(shardings, nnx.State) else shardings


def param_specs(params_state, mesh: Mesh, rules=DEFAULT_RULES) -> dict:
    """The PartitionSpec of every parameter, keyed by its '/'-joined path (for golden files and logs)."""
    flat = jax.tree_util.tree_flatten_with_path(param_shardings(params_state, mesh, rules))[0]
    return {"/".join(str(getattr(k, "key", k)) for k in path): s.spec for path, s in flat}


def optimizer_shardings(tx, abstract_opt_state, params_shardings: dict, mesh: Mesh):
    """Each parameter-shaped tree inside the optimizer state (AdamW's mu and nu) is sharded like the parameters;
    scalars (step counts) are replicated."""
    import optax

    return optax.tree_map_params(
        tx, lambda _, s: s, abstract_opt_state, params_shardings, transform_non_params=lambda _: replicated(mesh)
    )


def batch_sharding(mesh: Mesh, shape: Sequence[int], rules=DEFAULT_RULES) -> NamedSharding:
    """Batches [micro-batches, rows, tokens]: rows split over the batch mesh axes (data, fsdp)."""
    return NamedSharding(mesh, logical_to_spec(BATCH_AXES, rules, mesh, shape))


def rows_sharding(mesh: Mesh, shape: Sequence[int], rules=DEFAULT_RULES) -> NamedSharding:
    """Arrays [rows, ...] (generation's prompts and KV cache): rows split over the batch mesh axes where they
    divide, everything else whole, so each device decodes its own rows instead of every device the whole batch."""
    spec = logical_to_spec(("batch",), rules, mesh, shape[:1])
    return NamedSharding(mesh, PartitionSpec(*spec, *([None] * (len(shape) - 1))))


def batch_parallelism(mesh: Mesh, rules=DEFAULT_RULES) -> int:
    """How many ways a batch's rows are split: the product of the mesh axes the `batch` rule maps to."""
    table = dict(reversed(list(rules)))
    target = table.get("batch")
    axes = () if target is None else ((target,) if isinstance(target, str) else tuple(target))
    return int(np.prod([mesh.shape[a] for a in axes])) if axes else 1
