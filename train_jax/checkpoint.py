"""Training checkpoints: orbax `CheckpointManager`, async saves, exact resume onto any mesh.

Layout (a contract: `merge`'s orbax reader and `mnlu export` read it directly with tensorstore)::

    <output_dir>/checkpoints/<step>/          one directory per saved step (orbax writes `<step>.orbax-checkpoint-tmp-*`
                                              first and renames it when complete; `commit_success.txt` marks it)
        params/                               item "params": the model's nnx.Param state as a plain nested dict of
                                              float32 arrays (param_dtype), layout of `train_jax.model`
            _METADATA                         orbax tree metadata (JSON); `use_ocdbt` and `use_zarr3` say the format
            manifest.ocdbt, d/, ocdbt.process_*/   one OCDBT key-value database holding every tensor
        opt_state/                            item "opt_state": optax state (AdamW mu and nu mirror `params`)
        train_state/                          item "train_state": {"step": int32, "rng": uint32[2]}
        data/metadata                         item "data": the data iterator (JSON: epoch, row, seed, fingerprint …)
        meta/metadata                         item "meta": JSON — model config (HF config.json fields + run-time
                                              policy), the export dtype, the tokenizer source, the step

Each tensor of `params` is a zarr (v2) array inside the OCDBT database under the key of its path joined by dots,
e.g. `layers.0.self_attn.q_proj.kernel` ([in, out]), `embed_tokens.embedding` ([vocab, embed]), `norm.scale`,
`lm_head.kernel` ([embed, vocab]). To read one with tensorstore:

    ts.open({"driver": "zarr", "kvstore": {"driver": "ocdbt", "base": "file://<step dir>/params/",
             "path": "layers.0.self_attn.q_proj.kernel"}}).result().read().result()

(`read_param` below does exactly that and also handles `use_ocdbt: false` / zarr3 checkpoints.)

Why orbax: asynchronous, multi-host, sharded saves whose restore re-shards onto whatever mesh the new run has, and
a step directory that only appears when complete, so a kill at any moment leaves the last good checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from train_jax.train import TrainState

CHECKPOINTS = "checkpoints"
ITEMS = ("params", "opt_state", "train_state", "data", "meta")


class CheckpointNotFound(FileNotFoundError):
    """No complete checkpoint where one was asked for."""


def checkpoint_dir(output_dir: str | Path) -> Path:
    return Path(output_dir).resolve() / CHECKPOINTS


class Checkpointer:
    """Saves and restores TrainState + data iterator state + metadata under `<output_dir>/checkpoints`."""

    def __init__(self, output_dir: str | Path, *, max_to_keep: int | None = None, async_save: bool = True):
        self.directory = checkpoint_dir(output_dir)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            enable_async_checkpointing=async_save,
            create=True,
            cleanup_tmp_directories=True,  # a save cut short by SIGKILL leaves a tmp dir: remove it on restart
            # Saves are triggered explicitly (every N steps, epoch ends, SIGTERM, the last step).
            save_interval_steps=1,
        )
        self.manager = ocp.CheckpointManager(self.directory, item_names=ITEMS, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def save(self, state: TrainState, data_state: dict[str, Any], meta: dict[str, Any]) -> bool:
        step = int(jax.device_get(state.step))
        if step in self.manager.all_steps():
            return False
        args = ocp.args.Composite(
            params=ocp.args.StandardSave(state.params),
            opt_state=ocp.args.StandardSave(state.opt_state),
            train_state=ocp.args.StandardSave({"step": state.step, "rng": state.rng}),
            data=ocp.args.JsonSave(data_state),
            meta=ocp.args.JsonSave({**meta, "step": step}),
        )
        return self.manager.save(step, args=args, force=True)

    def restore(self, target: TrainState, step: int | None = None) -> tuple[TrainState, dict[str, Any], dict[str, Any]]:
        """Restore onto `target` (ShapeDtypeStructs with the shardings of the current mesh)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointNotFound(f"{self.directory}: no complete checkpoint")
        args = ocp.args.Composite(
            params=ocp.args.StandardRestore(target.params),
            opt_state=ocp.args.StandardRestore(target.opt_state),
            train_state=ocp.args.StandardRestore({"step": target.step, "rng": target.rng}),
            data=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore(),
        )
        out = self.manager.restore(step, args=args)
        ts = out["train_state"]
        state = TrainState(ts["step"], out["params"], out["opt_state"], ts["rng"])
        return state, dict(out["data"]), dict(out["meta"])

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


# ------------------------------------------------------------------ reading without jax devices (export, merge)


def find_step_dir(path: str | Path, step: int | None = None) -> Path:
    """A complete step directory from an output dir, its `checkpoints/` dir, or a step dir itself."""
    path = Path(path)
    if (path / "params").is_dir() and (path / "meta").is_dir():
        return path
    root = path / CHECKPOINTS if (path / CHECKPOINTS).is_dir() else path
    if not root.is_dir():
        raise CheckpointNotFound(f"{path}: no such directory")
    # orbax writes `<step>.orbax-checkpoint-tmp-*` and renames it to `<step>` when complete
    steps = sorted(
        int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "params").is_dir() and (p / "meta").is_dir()
    )
    if not steps:
        raise CheckpointNotFound(f"{root}: no complete checkpoint (expected <step>/params and <step>/meta)")
    if step is None:
        return root / str(steps[-1])
    if step not in steps:
        raise CheckpointNotFound(f"{root}: no complete checkpoint for step {step}; have {steps}")
    return root / str(step)


def read_meta(step_dir: Path) -> dict[str, Any]:
    path = step_dir / "meta" / "metadata"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointNotFound(f"{path}: missing; not a training checkpoint of train_jax") from None


def param_names(step_dir: Path) -> list[str]:
    """The dotted names of every tensor of the `params` item."""
    meta = json.loads((step_dir / "params" / "_METADATA").read_text())
    names = []
    for entry in meta["tree_metadata"].values():
        names.append(".".join(str(k["key"]) for k in entry["key_metadata"]))
    return names


def read_param(step_dir: Path, name: str) -> np.ndarray:
    """One parameter (dotted name, e.g. `layers.0.mlp.up_proj.kernel`) read with tensorstore alone."""
    import tensorstore as ts

    params = Path(step_dir).resolve() / "params"
    meta = json.loads((params / "_METADATA").read_text())
    driver = "zarr3" if meta.get("use_zarr3") else "zarr"
    if meta.get("use_ocdbt", True):
        kvstore = {"driver": "ocdbt", "base": f"file://{params}/", "path": name}
    else:
        kvstore = {"driver": "file", "path": str(params / name)}
    return np.asarray(ts.open({"driver": driver, "kvstore": kvstore}, open=True).result().read().result())
