"""Streaming safetensors: parse headers ourselves, read byte ranges with pread, write shards header-first.

Why not the `safetensors` package: its NumPy API loads whole tensors (or mmaps them, which counts toward RSS as
pages are touched); a merge of two 14.5 GB models must stay under 1 GB. Reading with `os.preadv` into reusable
buffers, and writing each tensor at its final offset in a preallocated shard, keeps memory at a few chunks.

Large reads go through O_DIRECT where the file system allows it (`DirectReader`): every input byte is read once,
so the page cache buys nothing, and filling it costs the kernel about 1 s of CPU per GB on a small VM, a quarter
of a 7B merge's CPU time. O_DIRECT needs page-aligned offsets, lengths and buffers, so a read widens the range to
whole pages in a buffer from `io_buffer` and returns the view of the bytes asked for. Writes do the same in
reverse (`ShardWriter.write`): the whole pages inside a chunk go through O_DIRECT (the page cache costs ~3 s of
CPU per GB written there), the partial pages at its two ends through the page cache, so no page is ever written
both ways; the executor lays each chunk out in memory at its file offset modulo the page (`page_phase`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dtypes import STORAGE
from .errors import MergeError

MAX_HEADER = 100 * 1024 * 1024
PAGE = 4096  # O_DIRECT alignment (logical block sizes are at most a page on Linux file systems we meet)
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor's bytes live."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    path: Path
    offset: int  # absolute file offset of the first byte

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * STORAGE[self.dtype].itemsize


class SafetensorsFile:
    """One .safetensors file: a validated header and pread access to its tensors."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.size = self.path.stat().st_size
            with open(self.path, "rb") as fh:
                head = fh.read(8)
                if len(head) < 8:
                    raise MergeError(f"{self.path}: truncated safetensors file ({self.size} bytes, no header length)")
                hlen = int.from_bytes(head, "little")
                if hlen > MAX_HEADER or 8 + hlen > self.size:
                    raise MergeError(
                        f"{self.path}: header length {hlen} does not fit in a file of {self.size} bytes "
                        "(truncated or not a safetensors file)"
                    )
                self.header_bytes = fh.read(hlen)
        except OSError as exc:
            raise MergeError(f"{self.path}: cannot read ({exc.strerror})") from None
        try:
            header = json.loads(self.header_bytes)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MergeError(f"{self.path}: header is not valid JSON ({exc})") from None
        if not isinstance(header, dict):
            raise MergeError(f"{self.path}: header is not a JSON object")
        self.metadata = header.pop("__metadata__", None) or {}
        data_start = 8 + hlen
        self.tensors: dict[str, TensorEntry] = {}
        end_max = 0
        for name, info in header.items():
            try:
                dtype, shape, (begin, end) = info["dtype"], tuple(int(s) for s in info["shape"]), info["data_offsets"]
            except (KeyError, TypeError, ValueError):
                raise MergeError(f"{self.path}: tensor {name!r}: malformed header entry {info!r}") from None
            if dtype not in STORAGE:
                raise MergeError(
                    f"{self.path}: tensor {name!r} has dtype {dtype}; the merge reads BF16, F16 and F32 only"
                )
            entry = TensorEntry(name, dtype, shape, self.path, data_start + begin)
            if end - begin != entry.nbytes or begin < 0:
                raise MergeError(
                    f"{self.path}: tensor {name!r}: data_offsets {begin}..{end} do not hold {shape} {dtype}"
                )
            end_max = max(end_max, end)
            self.tensors[name] = entry
        if data_start + end_max > self.size:
            raise MergeError(
                f"{self.path}: truncated: tensors need {data_start + end_max} bytes, the file has {self.size}"
            )

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(self.size.to_bytes(8, "little"))
        h.update(self.header_bytes)
        return h.hexdigest()


def read_into(fd: int, offset: int, buf: np.ndarray) -> None:
    """Fill `buf` from `fd` at `offset` (pread; loops over short reads)."""
    view = memoryview(buf.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            raise MergeError(f"unexpected end of file at offset {offset + done} (file truncated while reading?)")
        done += n


def _open_direct(path: Path, mode: int) -> int | None:
    """An O_DIRECT descriptor of `path`, or None where the platform or file system has none (tmpfs, macOS)."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, mode | flag)
    except OSError:
        return None


def io_buffer(nbytes: int) -> np.ndarray:
    """A page-aligned uint8 buffer for reads of up to `nbytes` bytes, with the two pages of slack an O_DIRECT read
    needs to widen an unaligned range to whole pages."""
    raw = np.empty(nbytes + 3 * PAGE, np.uint8)
    skip = -raw.ctypes.data % PAGE
    return raw[skip : skip + nbytes + 2 * PAGE]


class DirectReader:
    """pread through a second, O_DIRECT descriptor of the same file, bypassing the page cache.

    `read` returns None whenever it cannot serve a request (no O_DIRECT on this file system, buffer not aligned or
    too small, a short read mid-file): the caller then reads through the page cache as before, so the bytes
    returned never depend on which path was taken.
    """

    MIN_BYTES = 1 << 16  # small reads (norm vectors, single rows) gain nothing and would lose the page cache

    def __init__(self, path: Path):
        self.fd = _open_direct(path, os.O_RDONLY)
        self.usable = self.fd is not None

    def read(self, offset: int, nbytes: int, raw: np.ndarray) -> np.ndarray | None:
        """The bytes [offset, offset + nbytes) as a uint8 view into `raw`, or None (see the class docstring)."""
        if not self.usable or nbytes < self.MIN_BYTES or raw.ctypes.data % PAGE:
            return None
        lo = offset - offset % PAGE
        hi = -(-(offset + nbytes) // PAGE) * PAGE
        if hi - lo > raw.size:
            return None
        view = memoryview(raw[: hi - lo])
        need, done = offset + nbytes - lo, 0
        try:
            while done < need:
                n = os.preadv(self.fd, [view[done:]], lo + done)
                if n <= 0:
                    return None  # past the end: let the buffered path report the truncation
                done += n
        except OSError:  # EINVAL: this file system refuses O_DIRECT after all (or an unaligned short read)
            self.usable = False  # not closed here: another thread may be reading through it
            return None
        return raw[offset - lo : offset - lo + nbytes]

    def close(self) -> None:
        self.usable = False
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def write_from(fd: int, offset: int, buf: np.ndarray) -> None:
    view = memoryview(np.ascontiguousarray(buf).reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


def shard_files(directory: Path) -> list[Path]:
    """The safetensors files of an HF model directory (via the index when there is one)."""
    index = directory / INDEX_NAME
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise MergeError(f"{index}: not a valid safetensors index ({exc})") from None
        files = sorted(set(weight_map.values()))
        for f in files:
            if not (directory / f).is_file():
                raise MergeError(f"{index}: lists shard {f!r}, which is missing from {directory}")
        return [directory / f for f in files]
    single = directory / SINGLE_NAME
    if single.is_file():
        return [single]
    found = sorted(directory.glob("*.safetensors"))
    if not found:
        raise MergeError(f"{directory}: no {INDEX_NAME}, {SINGLE_NAME} or *.safetensors file")
    return found


class ShardWriter:
    """Lays out every output shard's header first, then writes each tensor's bytes at its final offset.

    No shard is ever buffered: files are created at their final size and filled with pwrite, chunk by chunk,
    from any thread in any order.
    """

    def __init__(self, directory: Path, tensors: list[tuple[str, str, tuple[int, ...]]], max_shard_bytes: int,
                 metadata: dict[str, str]):
        self.directory = Path(directory)
        groups: list[list[tuple[str, str, tuple[int, ...]]]] = [[]]
        size = 0
        for t in tensors:
            nbytes = math.prod(t[2]) * STORAGE[t[1]].itemsize
            if groups[-1] and size + nbytes > max_shard_bytes:
                groups.append([])
                size = 0
            groups[-1].append(t)
            size += nbytes
        n = len(groups)
        self.file_names = (
            [SINGLE_NAME] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
        )
        self.locations: dict[str, tuple[int, int]] = {}  # name -> (shard index, absolute data offset)
        self.fds: list[int] = []
        self.direct_fds: list[int | None] = []  # O_DIRECT descriptors of the same shards (None: not supported)
        self.total_size = 0
        for idx, (fname, group) in enumerate(zip(self.file_names, groups, strict=True)):
            header: dict = {"__metadata__": dict(metadata)}
            pos = 0
            for name, dtype, shape in group:
                nbytes = math.prod(shape) * STORAGE[dtype].itemsize
                header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + nbytes]}
                pos += nbytes
            blob = json.dumps(header, separators=(",", ":")).encode()
            blob += b" " * (-len(blob) % 8)
            data_start = 8 + len(blob)
            for name, _dtype, _shape in group:
                self.locations[name] = (idx, data_start + header[name]["data_offsets"][0])
            path = self.directory / fname
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            self.fds.append(fd)
            os.pwrite(fd, len(blob).to_bytes(8, "little") + blob, 0)
            os.ftruncate(fd, data_start + pos)
            self.direct_fds.append(_open_direct(path, os.O_RDWR))
            self.total_size += pos
        self._direct_opened = [fd for fd in self.direct_fds if fd is not None]
        self.weight_map = {name: self.file_names[loc[0]] for name, loc in self.locations.items()}

    def page_phase(self, name: str, byte_offset: int) -> int:
        """Where in a page the byte at `byte_offset` of tensor `name` lands: a buffer holding the data at the same
        phase lets `write` send its whole pages through O_DIRECT."""
        return (self.locations[name][1] + byte_offset) % PAGE

    def write(self, name: str, byte_offset: int, data: np.ndarray) -> None:
        shard, start = self.locations[name]
        pos = start + byte_offset
        if not self._write_direct(shard, pos, data):
            write_from(self.fds[shard], pos, data)

    def _write_direct(self, shard: int, pos: int, data: np.ndarray) -> bool:
        """Whole pages through O_DIRECT, the partial end pages through the page cache; False (nothing written
        directly) when the data is not at the file's page phase, too small, or O_DIRECT is refused."""
        fd = self.direct_fds[shard]
        if fd is None or data.nbytes < DirectReader.MIN_BYTES or not data.flags.c_contiguous:
            return False
        addr = data.ctypes.data
        if addr % PAGE != pos % PAGE:
            return False
        lo = -(-pos // PAGE) * PAGE
        hi = (pos + data.nbytes) // PAGE * PAGE
        if hi <= lo:
            return False
        flat = data.reshape(-1).view(np.uint8)
        try:
            write_from(fd, lo, flat[lo - pos : hi - pos])
        except OSError:  # EINVAL: no O_DIRECT here after all; the buffered path rewrites the whole range
            self.direct_fds[shard] = None  # left open until close(): another thread may be writing through it
            return False
        if lo > pos:
            write_from(self.fds[shard], pos, flat[: lo - pos])
        if pos + data.nbytes > hi:
            write_from(self.fds[shard], hi, flat[hi - pos :])
        return True

    def close(self, fsync: bool = False) -> None:
        """Close the shards (fsync first when asked: durable before the rename, at the cost of waiting for
        writeback; peers such as mergekit and save_pretrained do not wait)."""
        self._close_direct()
        for fd in self.fds:
            if fsync:
                os.fsync(fd)
            os.close(fd)
        self.fds = []
        if len(self.file_names) > 1:
            index = {"metadata": {"total_size": self.total_size},
                     "weight_map": dict(sorted(self.weight_map.items()))}
            (self.directory / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n")

    def _close_direct(self) -> None:
        for fd in self._direct_opened:
            os.close(fd)
        self._direct_opened = []
        self.direct_fds = [None] * len(self.direct_fds)

    def abort(self) -> None:
        self._close_direct()
        for fd in self.fds:
            os.close(fd)
        self.fds = []
