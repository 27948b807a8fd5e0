"""Storage conversions and the streaming safetensors writer/reader against the reference implementations."""

from __future__ import annotations

import numpy as np
import torch
from safetensors.numpy import load_file as np_load_file

from merge.dtypes import from_f32, to_f32
from merge.safetensors_io import SafetensorsFile, ShardWriter


def _edge_values() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_000).astype(np.float32) * np.float32(3.0)
    specials = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-39, 3.4e38, -3.4e38, 65504.0, 65520.0, 1.0 + 2**-8,
                         1.0 + 3 * 2**-9, 2**-126, 5.9e-8], dtype=np.float32)
    ties = (np.arange(1000, dtype=np.uint32) << 16 | 0x8000).view(np.float32)  # exact bf16 halfway cases
    return np.concatenate([x, specials, ties, -ties])


def test_rne_matches_torch_bf16_and_fp16():
    x = _edge_values()
    bits = np.empty(x.size, np.uint32)
    bf = from_f32(x, "BF16", np.empty(x.size, np.uint16), bits)
    assert np.array_equal(bf, torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))
    hf = from_f32(x, "F16", np.empty(x.size, np.float16), bits)
    assert np.array_equal(hf.view(np.uint16), torch.from_numpy(x).to(torch.float16).numpy().view(np.uint16))
    back = to_f32(bf, "BF16", np.empty(x.size, np.float32))
    assert np.array_equal(back, torch.from_numpy(x).to(torch.bfloat16).float().numpy())
    assert np.array_equal(to_f32(hf, "F16", np.empty(x.size, np.float32)), hf.astype(np.float32))


def test_writer_lays_out_shards_readable_by_safetensors(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"a.weight": rng.standard_normal((37, 5)).astype(np.float32),
               "b.weight": rng.standard_normal(11).astype(np.float16),
               "c.weight": rng.integers(0, 1 << 16, (4, 3, 2), dtype=np.uint16)}
    dtypes = {"a.weight": "F32", "b.weight": "F16", "c.weight": "BF16"}
    w = ShardWriter(tmp_path, [(k, dtypes[k], v.shape) for k, v in tensors.items()], 400, {"k": "v"})
    # write out of order, in pieces, as threads would
    w.write("c.weight", 0, tensors["c.weight"])
    a = tensors["a.weight"].reshape(-1)
    w.write("a.weight", 100 * 4, a[100:])
    w.write("a.weight", 0, a[:100])
    w.write("b.weight", 0, tensors["b.weight"])
    w.close()
    files = sorted(tmp_path.glob("*.safetensors"))
    assert len(files) == 2 and (tmp_path / "model.safetensors.index.json").is_file()
    from safetensors.torch import load_file

    loaded = {}
    for f in files:
        header = SafetensorsFile(f)
        assert header.metadata == {"k": "v"}
        assert (8 + len(header.header_bytes)) % 8 == 0
        loaded.update(load_file(str(f)))
        if "c.weight" not in header.tensors:
            assert set(np_load_file(str(f))) == set(header.tensors)
    assert np.array_equal(loaded["a.weight"].numpy(), tensors["a.weight"])
    assert np.array_equal(loaded["b.weight"].numpy(), tensors["b.weight"])
    assert np.array_equal(loaded["c.weight"].view(torch.int16).numpy().view(np.uint16), tensors["c.weight"])
