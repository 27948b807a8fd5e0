"""Minimal, streaming safetensors I/O: header parsing, per-tensor positional reads, header-first writing.

Why not `safetensors.numpy`: it has no bfloat16, and its writer needs every tensor of a shard in memory at
once. Here a reader `pread`s one tensor at a time and a writer lays out the header first and then writes each
tensor at its final offset, so neither side ever holds more than one tensor.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

DTYPES: dict[str, np.dtype] = {
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F64": np.dtype(np.float64),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
}
CODES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A safetensors file that is truncated, malformed or inconsistent; names the file."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    start: int  # absolute byte offset in the file
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


class SafetensorsFile:
    """Header of one .safetensors file, validated against the file size; tensors read on demand."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise SafetensorsError(f"{self.path}: file not found") from None
        with open(self.path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise SafetensorsError(f"{self.path}: truncated ({size} bytes; no header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or 8 + n > size:
                raise SafetensorsError(f"{self.path}: header length {n} exceeds the file size {size} (truncated?)")
            raw = f.read(n)
        try:
            header = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SafetensorsError(f"{self.path}: header is not valid JSON ({e})") from None
        if not isinstance(header, dict):
            raise SafetensorsError(f"{self.path}: header must be a JSON object")
        self.metadata: dict[str, str] = header.pop("__metadata__", None) or {}
        base = 8 + n
        self.tensors: dict[str, TensorInfo] = {}
        for name, entry in header.items():
            try:
                dtype = DTYPES[entry["dtype"]]
                shape = tuple(int(s) for s in entry["shape"])
                lo, hi = (int(o) for o in entry["data_offsets"])
            except (KeyError, TypeError, ValueError):
                raise SafetensorsError(f"{self.path}: tensor {name!r} has a malformed or unsupported entry {entry!r}") from None
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if hi - lo != expected or lo < 0:
                raise SafetensorsError(f"{self.path}: tensor {name!r} spans {hi - lo} bytes; shape {shape} needs {expected}")
            if base + hi > size:
                raise SafetensorsError(
                    f"{self.path}: tensor {name!r} ends at byte {base + hi} but the file has {size} bytes (truncated)"
                )
            self.tensors[name] = TensorInfo(name, dtype, shape, base + lo, base + hi)

    def _pread(self, fd: int, out: np.ndarray, offset: int, what: str) -> None:
        view = memoryview(out.reshape(-1).view(np.uint8))
        done = 0
        while done < len(view):
            got = os.preadv(fd, [view[done:]], offset + done)
            if got <= 0:
                raise SafetensorsError(f"{self.path}: unexpected end of file reading {what!r}")
            done += got

    def read(self, name: str) -> np.ndarray:
        """One tensor as a fresh, writable array (positional read: no mmap pages linger in RSS)."""
        return self.read_into(name)

    def read_into(self, name: str, dtype: np.dtype | None = None, transpose: bool = False,
                  chunk_bytes: int = 16 << 20) -> np.ndarray:
        """One tensor in its final layout (transposed for 2-D, cast to `dtype`) in a 64-byte-aligned buffer.

        Rows are read and converted a chunk at a time, so the only full-size buffer is the result; on a CPU
        backend jax adopts an aligned buffer without copying it.
        """
        info = self.tensors[name]
        dtype = np.dtype(dtype or info.dtype)
        shape = info.shape[::-1] if transpose else info.shape
        out = aligned_empty(shape, dtype)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if not transpose and dtype == info.dtype:
                self._pread(fd, out, info.start, name)
                return out
            rows = info.shape[0] if info.shape else 1
            row_elems = int(np.prod(info.shape[1:], dtype=np.int64))
            row_bytes = row_elems * info.dtype.itemsize
            step = max(1, chunk_bytes // max(row_bytes, 1))
            flat_out = out.reshape(-1) if not transpose else None
            for r0 in range(0, rows, step):
                r1 = min(rows, r0 + step)
                chunk = np.empty((r1 - r0, *info.shape[1:]), info.dtype)
                self._pread(fd, chunk, info.start + r0 * row_bytes, name)
                if transpose:
                    if dtype == info.dtype and dtype.itemsize in (2, 4):
                        ints = np.dtype(f"u{dtype.itemsize}")
                        out.view(ints)[..., r0:r1] = chunk.view(ints).T
                    else:
                        out[..., r0:r1] = chunk.T.astype(dtype)
                else:
                    flat_out[r0 * row_elems : r1 * row_elems] = chunk.reshape(-1).astype(dtype)
        finally:
            os.close(fd)
        return out


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype, align: int = 64) -> np.ndarray:
    """An uninitialised array whose data starts on an `align`-byte boundary (zero-copy for jax on CPU)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.empty(nbytes + align, np.uint8)
    start = (-buf.ctypes.data) % align
    return buf[start : start + nbytes].view(dtype).reshape(shape)


class CheckpointFiles:
    """The tensors of an HF directory: `model.safetensors`, or shards listed in `model.safetensors.index.json`."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        index = self.directory / "model.safetensors.index.json"
        single = self.directory / "model.safetensors"
        self.files: dict[str, SafetensorsFile] = {}
        self.where: dict[str, str] = {}
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise SafetensorsError(f"{index}: expected a JSON object with a 'weight_map' ({e})") from None
            for shard in sorted(set(weight_map.values())):
                if not (self.directory / shard).is_file():
                    raise SafetensorsError(f"{index}: shard {shard!r} is listed but missing from {self.directory}")
                self.files[shard] = SafetensorsFile(self.directory / shard)
            for name, shard in weight_map.items():
                if name not in self.files[shard].tensors:
                    raise SafetensorsError(f"{self.directory / shard}: tensor {name!r} listed in the index is missing")
                self.where[name] = shard
        elif single.is_file():
            self.files[single.name] = SafetensorsFile(single)
            self.where = {n: single.name for n in self.files[single.name].tensors}
        else:
            raise SafetensorsError(
                f"{self.directory}: no model.safetensors or model.safetensors.index.json (only safetensors are read)"
            )

    def info(self, name: str) -> TensorInfo:
        return self.files[self.where[name]].tensors[name]

    def read(self, name: str) -> np.ndarray:
        return self.files[self.where[name]].read(name)

    def read_into(self, name: str, dtype: np.dtype | None = None, transpose: bool = False) -> np.ndarray:
        return self.files[self.where[name]].read_into(name, dtype, transpose)

    def names(self) -> list[str]:
        return list(self.where)


def parse_size(size: int | str) -> int:
    """"5GB" → 5·10⁹ bytes (HF's decimal convention), "500MiB" → 500·2²⁰."""
    if isinstance(size, int):
        return size
    s = size.strip().upper()
    for unit, mult in (("GIB", 2**30), ("MIB", 2**20), ("KIB", 2**10), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("B", 1)):
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * mult)
    return int(s)


class ShardWriter:
    """Writes one safetensors file whose layout is fixed up front: header first, each tensor at its offset."""

    def __init__(self, path: Path, entries: Iterable[tuple[str, np.dtype, tuple[int, ...]]], metadata: dict[str, str]):
        self.path = path
        header: dict[str, object] = {"__metadata__": dict(metadata)}
        self.offsets: dict[str, tuple[int, int, np.dtype, tuple[int, ...]]] = {}
        pos = 0
        for name, dtype, shape in entries:
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            header[name] = {"dtype": CODES[np.dtype(dtype)], "shape": list(shape), "data_offsets": [pos, pos + nbytes]}
            self.offsets[name] = (pos, nbytes, np.dtype(dtype), tuple(shape))
            pos += nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # align the data section to 8 bytes
        self.base = 8 + len(raw)
        self.total = self.base + pos
        self.f = open(path, "wb")
        self.f.write(struct.pack("<Q", len(raw)) + raw)
        self.f.truncate(self.total)
        self.written: set[str] = set()

    def write(self, name: str, array: np.ndarray) -> None:
        pos, nbytes, dtype, shape = self.offsets[name]
        if array.dtype != dtype or tuple(array.shape) != shape:
            raise ValueError(f"{self.path}: tensor {name!r} is {array.dtype}{array.shape}; planned {dtype}{shape}")
        self.f.seek(self.base + pos)
        self.f.write(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
        self.written.add(name)

    def close(self) -> None:
        missing = set(self.offsets) - self.written
        self.f.close()
        if missing:
            raise ValueError(f"{self.path}: tensors never written: {sorted(missing)[:5]}")
