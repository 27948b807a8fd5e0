"""Read train_jax's orbax checkpoints (OCDBT + zarr, via tensorstore) as HF-layout tensors, rows at a time.

Layout written by orbax-checkpoint 0.12 (`StandardCheckpointer`, `CheckpointManager` + `StandardSave`): an item
directory holding `_METADATA` (the pytree: one entry per leaf with its key path and shape) and an OCDBT key-value
store whose key `<leaf path joined by '.'>/` is a zarr v2 array (zstd-compressed chunks). We read only
`_METADATA` ourselves and let tensorstore decode the arrays; the name mapping lives in `orbax_names`.
A decoded zarr chunk stays in a bounded tensorstore cache, so reading a tensor row block by row block decodes
each chunk once; peak memory is therefore about the largest chunk (orbax writes one chunk per device shard).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from .errors import MergeError
from .orbax_names import ROOTS, LeafMapping, map_leaf
from .sources import row_length

_TS_DTYPES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}


def find_item_dir(path: Path) -> Path:
    """The directory holding `_METADATA`: the path itself, its one item, or the latest step of a manager."""
    if (path / "_METADATA").is_file():
        return path
    steps = sorted((p for p in path.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if steps:
        return find_item_dir(steps[-1])
    items = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / "_METADATA").is_file()]
    preferred = [p for p in items if p.name in ("params", "model", "state", "default")]
    if len(items) == 1:
        return items[0]
    if preferred:
        return preferred[0]
    raise MergeError(f"{path}: no orbax item with _METADATA found (items: {[p.name for p in items]})")


class OrbaxSource:
    """An orbax checkpoint of the fine-tuned model, presented with HF tensor names and layouts."""

    kind = "orbax"
    config = None

    def __init__(self, path: str | Path, prefix: str | None = None, cache_bytes: int | None = None):
        import tensorstore as ts  # only needed when reading orbax checkpoints

        self._ts = ts
        self.path = Path(path)
        self.item = find_item_dir(self.path)
        meta_path = self.item / "_METADATA"
        try:
            self._meta_bytes = meta_path.read_bytes()
            tree = json.loads(self._meta_bytes)["tree_metadata"]
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise MergeError(f"{meta_path}: unreadable orbax metadata ({exc})") from None
        leaves: dict[tuple[str, ...], tuple[int, ...]] = {}
        for entry in tree.values():
            keys = tuple(str(k["key"]) for k in entry["key_metadata"])
            shape = tuple(entry.get("value_metadata", {}).get("write_shape") or ())
            leaves[keys] = shape
        want = tuple(p for p in prefix.replace("/", ".").split(".") if p) if prefix else None
        prefixes = set()
        for keys, shape in leaves.items():
            for i, k in enumerate(keys):
                if k == "embed_tokens" and map_leaf(keys[i:], shape) is not None:
                    prefixes.add(keys[:i])
        if want is None:
            if not prefixes:
                raise MergeError(f"{meta_path}: no leaf ends in embed_tokens/embedding; is this a model checkpoint?")
            shortest = min(len(p) for p in prefixes)
            best = [p for p in prefixes if len(p) == shortest]
            if len(best) > 1:
                raise MergeError(f"{meta_path}: several model roots {sorted('/'.join(p) for p in best)}; "
                                 "choose one with --orbax-prefix")
            want = best[0]
        self.prefix = want
        ocdbt = (self.item / "manifest.ocdbt").exists()
        self._kv_base = {"driver": "file", "path": str(self.item) + "/"}
        if ocdbt:
            self._kv_base = {"driver": "ocdbt", "base": f"file://{self.item}/"}
        self._arrays: dict[str, object] = {}
        self._map: dict[str, tuple[str, LeafMapping, int | None]] = {}
        self._dtype: dict[str, str] = {}
        self._shape: dict[str, tuple[int, ...]] = {}
        chunk_bytes = []
        ctx_limit = cache_bytes
        specs = {}
        for keys, shape in leaves.items():
            if keys[: len(want)] != want or len(keys) <= len(want) or keys[len(want)] not in ROOTS:
                continue
            mapping = map_leaf(keys[len(want):], shape)
            if mapping is None:
                continue
            specs[".".join(keys)] = (mapping, shape)
        if not specs:
            raise MergeError(f"{meta_path}: no model weights under {'/'.join(want)!r}")
        for param, (mapping, shape) in specs.items():
            spec = {"driver": "zarr", "kvstore": dict(self._kv_base, path=param + "/")}
            if not ocdbt:
                spec["kvstore"] = {"driver": "file", "path": str(self.item / param) + "/"}
            self._arrays[param] = spec
            zarray = self._read_zarray(param)
            dtype = _TS_DTYPES.get(zarray["dtype"].lstrip("<"), None) or {"f4": "F32", "f2": "F16"}.get(
                zarray["dtype"].lstrip("<|"))
            if dtype is None:
                raise MergeError(f"{self.item}: leaf {param} has dtype {zarray['dtype']}; expected float32/bfloat16")
            chunk_bytes.append(math.prod(zarray["chunks"]) * (2 if dtype != "F32" else 4))
            inner = shape[1:] if mapping.stacked else shape
            hf_shape = tuple(reversed(inner)) if mapping.transpose else tuple(inner)
            for i, name in enumerate(mapping.hf_names):
                self._map[name] = (param, mapping, i if mapping.stacked else None)
                self._dtype[name] = dtype
                self._shape[name] = hf_shape
        if ctx_limit is None:
            ctx_limit = int(max(chunk_bytes) * 2.2) + (64 << 20)
        self._context = ts.Context({"cache_pool": {"total_bytes_limit": ctx_limit}})
        self._open: dict[str, object] = {}

    def _read_zarray(self, param: str) -> dict:
        ts = self._ts
        try:
            kv = ts.KvStore.open(dict(self._kv_base) if "base" in self._kv_base
                                 else {"driver": "file", "path": str(self.item) + "/"}).result()
            raw = kv.read(f"{param}/.zarray").result().value
            return json.loads(raw)
        except Exception as exc:  # tensorstore raises ValueError subclasses with its own messages
            raise MergeError(f"{self.item}: cannot read zarr metadata of {param} ({exc})") from None

    @property
    def tensors(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        return {n: (self._dtype[n], self._shape[n]) for n in self._map}

    def fingerprint(self) -> str:
        return hashlib.sha256(self._meta_bytes).hexdigest()

    def _array(self, param: str):
        arr = self._open.get(param)
        if arr is None:
            try:
                arr = self._ts.open(self._arrays[param], open=True, read=True, context=self._context).result()
            except Exception as exc:
                raise MergeError(f"{self.item}: cannot open array {param} ({exc})") from None
            self._open[param] = arr
        return arr

    def read_rows(self, name: str, r0: int, r1: int, out: np.ndarray, raw: np.ndarray | None = None) -> np.ndarray:
        param, mapping, layer = self._map[name]
        arr = self._array(param)
        lead = (layer,) if layer is not None else ()
        shape = self._shape[name]
        n = (r1 - r0) * row_length(shape)
        if mapping.transpose:
            block = arr[lead + (slice(None), slice(r0, r1))].read().result()
            np.copyto(out[:n].reshape(r1 - r0, -1), block.T, casting="unsafe")
        else:
            block = arr[lead + (slice(r0, r1),)].read().result()
            np.copyto(out[:n], block.reshape(-1), casting="unsafe")
        return out[:n]

    def close(self) -> None:
        self._open = {}
