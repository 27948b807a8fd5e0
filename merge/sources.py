"""Model inputs as row-addressable tensor sources: an HF directory of safetensors, or an orbax checkpoint.

Every source answers the same questions (tensor names, dtypes, shapes in HF layout) and fills caller-owned
float32 buffers with rows [r0, r1) of a tensor in HF layout, so the executor never knows which it reads.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

from .dtypes import STORAGE, to_f32
from .errors import MergeError
from .safetensors_io import DirectReader, SafetensorsFile, TensorEntry, read_into, shard_files


def row_length(shape: tuple[int, ...]) -> int:
    """Elements per row: the chunking unit (1 for vectors, prod(shape[1:]) otherwise)."""
    return math.prod(shape[1:]) if len(shape) > 1 else 1


def rows(shape: tuple[int, ...]) -> int:
    return shape[0] if shape else 1


class HFSource:
    """An HF model directory: config.json plus safetensors shards, read with pread."""

    kind = "hf"

    def __init__(self, directory: str | Path):
        self.path = Path(directory)
        if not self.path.is_dir():
            raise MergeError(f"{self.path}: not a directory")
        self.files = [SafetensorsFile(p) for p in shard_files(self.path)]
        self.entries: dict[str, TensorEntry] = {}
        for f in self.files:
            for name, entry in f.tensors.items():
                if name in self.entries:
                    raise MergeError(f"{f.path}: tensor {name!r} also in {self.entries[name].path}")
                self.entries[name] = entry
        cfg = self.path / "config.json"
        self.config: dict | None = None
        if cfg.is_file():
            try:
                self.config = json.loads(cfg.read_text())
            except json.JSONDecodeError as exc:
                raise MergeError(f"{cfg}: invalid JSON ({exc})") from None
        self._fds: dict[Path, int] = {f.path: os.open(f.path, os.O_RDONLY) for f in self.files}
        self._direct: dict[Path, DirectReader] = {f.path: DirectReader(f.path) for f in self.files}

    @property
    def tensors(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        return {n: (e.dtype, e.shape) for n, e in self.entries.items()}

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for f in self.files:
            h.update(f.path.name.encode())
            h.update(bytes.fromhex(f.fingerprint()))
        return h.hexdigest()

    def _fd(self, path: Path) -> int:
        return self._fds[path]

    def read_raw_rows(self, name: str, r0: int, r1: int, raw: np.ndarray) -> np.ndarray:
        """Rows [r0, r1) in the stored dtype, into the byte buffer `raw`; returns the typed view (somewhere inside
        `raw`: an O_DIRECT read starts at the page boundary below the tensor's bytes, see `io_buffer`)."""
        e = self.entries[name]
        rl = row_length(e.shape)
        dt = STORAGE[e.dtype]
        n = (r1 - r0) * rl
        offset = e.offset + r0 * rl * dt.itemsize
        direct = self._direct[e.path].read(offset, n * dt.itemsize, raw)
        if direct is not None:
            return direct.view(dt)
        out = raw[: n * dt.itemsize].view(dt)
        try:
            read_into(self._fd(e.path), offset, out)
        except MergeError as exc:
            raise MergeError(f"{e.path}: tensor {name!r}: {exc}") from None
        return out

    def read_rows(self, name: str, r0: int, r1: int, out: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Rows [r0, r1) widened to float32 into `out` (flat)."""
        stored = self.read_raw_rows(name, r0, r1, raw)
        return to_f32(stored, self.entries[name].dtype, out[: stored.size])

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        for reader in self._direct.values():
            reader.close()
        self._fds = {}
        self._direct = {}


def is_orbax_checkpoint(path: Path) -> bool:
    return any((p / "_METADATA").is_file() for p in [path, *path.glob("*"), *path.glob("*/*")] if p.is_dir())


def open_source(path: str | Path, orbax_prefix: str | None = None):
    """HF directory when it has safetensors, else an orbax checkpoint (item, step or manager directory)."""
    p = Path(path)
    if not p.exists():
        raise MergeError(f"{p}: no such file or directory")
    if p.is_dir() and (any(p.glob("*.safetensors")) or (p / "model.safetensors.index.json").exists()):
        return HFSource(p)
    if p.is_dir() and is_orbax_checkpoint(p):
        from .orbax_io import OrbaxSource

        return OrbaxSource(p, prefix=orbax_prefix)
    raise MergeError(f"{p}: neither an HF directory with safetensors nor an orbax checkpoint (no _METADATA)")
