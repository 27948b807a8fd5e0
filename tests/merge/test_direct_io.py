"""O_DIRECT reads and writes: same bytes as the page-cache path, whatever the chunk boundaries and page phases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from merge.safetensors_io import PAGE, DirectReader, ShardWriter, io_buffer
from merge.sources import HFSource


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"a.weight": rng.integers(0, 1 << 16, (301, 1517), dtype=np.uint16),  # odd row length: many phases
            "b.weight": rng.standard_normal((97, 1031)).astype(np.float32),
            "c.weight": rng.integers(0, 1 << 16, 7, dtype=np.uint16)}


DTYPES = {"a.weight": "BF16", "b.weight": "F32", "c.weight": "BF16"}


def _writer(directory, tensors) -> ShardWriter:
    return ShardWriter(directory, [(k, DTYPES[k], v.shape) for k, v in tensors.items()], 1 << 30, {"format": "pt"})


def _write_chunked(w: ShardWriter, tensors, rows_per_chunk: int, aligned: bool) -> ShardWriter:
    """Write each tensor in row chunks; `aligned` places every chunk at its page phase (the executor's layout)."""
    buf = io_buffer(max(v.nbytes for v in tensors.values()))
    for name, value in tensors.items():
        flat = value.reshape(value.shape[0], -1)
        for r0 in range(0, flat.shape[0], rows_per_chunk):
            part = flat[r0 : r0 + rows_per_chunk].reshape(-1)
            offset = r0 * flat.shape[1] * value.itemsize
            phase = w.page_phase(name, offset) if aligned else 0
            dst = buf[phase : phase + part.nbytes].view(value.dtype)
            dst[:] = part
            w.write(name, offset, dst)
    return w


def test_direct_writes_and_reads_give_the_buffered_bytes(tmp_path):
    tensors = _tensors()
    (tmp_path / "direct").mkdir()
    (tmp_path / "buffered").mkdir()
    w = _writer(tmp_path / "direct", tensors)
    if all(fd is None for fd in w.direct_fds):
        w.close()
        pytest.skip(f"{tmp_path}: the file system refuses O_DIRECT, nothing to compare")
    _write_chunked(w, tensors, 29, aligned=True)
    assert all(fd is not None for fd in w.direct_fds)  # no write fell back for good
    w.close()
    _write_chunked(_writer(tmp_path / "buffered", tensors), tensors, 29, aligned=False).close()
    direct = (tmp_path / "direct" / "model.safetensors").read_bytes()
    assert direct == (tmp_path / "buffered" / "model.safetensors").read_bytes()
    loaded = load_file(str(tmp_path / "direct" / "model.safetensors"))
    for name, value in tensors.items():
        got = loaded[name].numpy() if value.dtype == np.float32 else loaded[name].view(torch.int16).numpy()
        assert np.array_equal(got.view(value.dtype), value), name

    src = HFSource(tmp_path / "direct")
    reader = src._direct[src.files[0].path]
    assert reader.usable
    aligned, plain = io_buffer(1 << 21), np.empty((1 << 21) + 2 * PAGE, np.uint8)
    for name, value in tensors.items():
        flat = value.reshape(value.shape[0], -1)
        for r0, r1 in [(0, flat.shape[0]), (1, flat.shape[0]), (3, 5), (flat.shape[0] - 1, flat.shape[0])]:
            want = flat[r0:r1].reshape(-1)
            got_direct = src.read_raw_rows(name, r0, r1, aligned)
            got_plain = src.read_raw_rows(name, r0, r1, plain)  # unaligned buffer: the page-cache path
            assert np.array_equal(got_direct, want) and np.array_equal(got_plain, want), (name, r0, r1)
    src.close()


def test_direct_reader_declines_what_it_cannot_serve(tmp_path):
    path = tmp_path / "f.bin"
    data = np.random.default_rng(0).integers(0, 256, 3 * PAGE + 100, dtype=np.uint8)
    path.write_bytes(data.tobytes())
    reader = DirectReader(path)
    if not reader.usable:
        pytest.skip(f"{tmp_path}: the file system refuses O_DIRECT")
    big = DirectReader.MIN_BYTES
    assert reader.read(0, 16, io_buffer(4 * PAGE)) is None  # too small to be worth it
    assert reader.read(0, big, np.empty(big + 3 * PAGE, np.uint8)[1:]) is None  # unaligned buffer
    assert reader.read(0, big, io_buffer(big // 2)) is None  # buffer too small
    assert reader.read(0, big, io_buffer(big)) is None  # past the end of the file: the caller reports it
    reader.close()
