"""HF-format import and export, streamed tensor by tensor.

`load_hf` reads `config.json` and safetensors (one file or index + shards) and puts each tensor straight into a
(sharded) device array, so the host never holds more than one tensor. `save_hf` writes shards whose headers are
laid out first, `model.safetensors.index.json`, `config.json`, `generation_config.json` and the tokenizer with the
paper's chat template, into a temporary directory renamed when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from train_jax.config import ConfigError, ModelConfig
from train_jax.model import Mistral, abstract_model
from train_jax.safetensors_io import CheckpointFiles, SafetensorsError, ShardWriter, parse_size
from train_jax.sharding import DEFAULT_RULES, param_sharding

NP_DTYPES = {"float32": np.dtype(np.float32), "bfloat16": np.dtype(ml_dtypes.bfloat16), "float16": np.dtype(np.float16)}
TORCH_NAMES = {np.dtype(np.float32): "float32", np.dtype(ml_dtypes.bfloat16): "bfloat16", np.dtype(np.float16): "float16"}
# Files that switch vLLM to Mistral's own loader; never written, never copied.
FORBIDDEN_OUTPUTS = ("params.json", "consolidated.safetensors")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model")


class CheckpointError(ValueError):
    """A checkpoint that does not match the model it claims to be; names the file and tensor."""


def hf_tensor_names(cfg: ModelConfig) -> Iterator[tuple[str, tuple[str, ...], bool]]:
    """(HF name, our parameter path, transposed?) in MistralForCausalLM's module order."""
    yield "model.embed_tokens.weight", ("embed_tokens", "embedding"), False
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            yield f"{p}.self_attn.{proj}.weight", ("layers", i, "self_attn", proj, "kernel"), True
        for proj in ("gate_proj", "up_proj", "down_proj"):
            yield f"{p}.mlp.{proj}.weight", ("layers", i, "mlp", proj, "kernel"), True
        yield f"{p}.input_layernorm.weight", ("layers", i, "input_layernorm", "scale"), False
        yield f"{p}.post_attention_layernorm.weight", ("layers", i, "post_attention_layernorm", "scale"), False
    yield "model.norm.weight", ("norm", "scale"), False
    if not cfg.tie_word_embeddings:
        yield "lm_head.weight", ("lm_head", "kernel"), True


def _dtype_name(dtype: Any) -> str:
    if dtype is None:
        return ""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in NP_DTYPES:
        raise ConfigError(f"dtype {name!r} is not supported; expected one of {list(NP_DTYPES)}")
    return name


def load_hf(
    path: str | os.PathLike,
    dtype: Any = None,
    mesh: Mesh | None = None,
    rules=None,
    **model_options: Any,
) -> Mistral:
    """Load an HF MistralForCausalLM directory into our model, one tensor at a time.

    `dtype` is the parameter dtype (default: the checkpoint's); `model_options` set the run-time policy
    (e.g. `dtype="bfloat16"` compute is `compute_dtype`, `attention="fused"`, `remat="full"`). With a mesh,
    each parameter is placed directly with the sharding its logical axes map to under `rules`.
    """
    path = Path(path)
    files = CheckpointFiles(path)  # raises on missing shards / truncated headers before any work
    runtime = dict(model_options)
    compute = runtime.pop("compute_dtype", None)
    probe = files.info(files.names()[0]).dtype if files.names() else np.dtype(np.float32)
    param_dtype = _dtype_name(dtype) or TORCH_NAMES.get(probe, "float32")
    cfg = ModelConfig.from_hf_file(path / "config.json", param_dtype=param_dtype, dtype=compute or param_dtype, **runtime)
    expected = list(hf_tensor_names(cfg))
    names = set(files.names())
    missing = [n for n, _, _ in expected if n not in names]
    if missing:
        raise CheckpointError(f"{path}: missing tensor(s) {missing[:5]}{' …' if len(missing) > 5 else ''}")
    extra = sorted(names - {n for n, _, _ in expected} - {n for n in names if n.endswith("rotary_emb.inv_freq")})
    if extra:
        raise CheckpointError(f"{path}: unexpected tensor(s) {extra[:5]} for {cfg.num_hidden_layers} layers")

    graphdef, abstract = nnx.split(abstract_model(cfg))
    flat = dict(nnx.to_flat_state(abstract))
    target = NP_DTYPES[param_dtype]
    rules = DEFAULT_RULES if rules is None else rules
    for hf_name, ours, transpose in expected:
        info = files.info(hf_name)
        var = flat[ours]
        want = tuple(var.get_value().shape)
        have = info.shape[::-1] if transpose else info.shape
        if tuple(have) != want:
            raise CheckpointError(
                f"{files.where[hf_name]}: tensor {hf_name!r} has shape {list(info.shape)}; the config needs "
                f"{list(want[::-1] if transpose else want)}"
            )
        if info.dtype not in TORCH_NAMES:
            raise CheckpointError(f"{files.where[hf_name]}: tensor {hf_name!r} has unsupported dtype {info.dtype}")
        host = files.read_into(hf_name, target, transpose)
        value = _place(host, want, getattr(var, "logical_axes", None), mesh, rules)
        del host
        var.set_value(value)
    model = nnx.merge(graphdef, abstract)
    model.hf_source = str(path)
    return model


def _place(host: np.ndarray, shape, axes, mesh: Mesh | None, rules) -> jax.Array:
    """Put one tensor, already in its final layout and dtype, on the device(s).

    Without a mesh on a CPU backend the aligned host buffer is adopted as is (no copy); with a mesh each device
    receives its slice and the host buffer is dropped as soon as this returns.
    """
    if mesh is None:
        return jax.device_put(host)
    sharding = param_sharding(axes, shape, mesh, rules)
    return jax.make_array_from_callback(tuple(shape), sharding, lambda idx, h=host: h[idx])


def _host_array(value: jax.Array) -> np.ndarray:
    """Gather one parameter to the host (across processes when it is not fully addressable)."""
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return np.asarray(value)


def _plan_shards(entries: list[tuple[str, np.dtype, tuple[int, ...]]], max_bytes: int) -> list[list[int]]:
    shards: list[list[int]] = [[]]
    size = 0
    for i, (_, dt, shape) in enumerate(entries):
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if shards[-1] and size + nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(i)
        size += nbytes
    return shards


def generation_config(cfg: ModelConfig) -> dict[str, Any]:
    return {"bos_token_id": cfg.bos_token_id, "eos_token_id": cfg.eos_token_id, "do_sample": False}


def _write_tokenizer(out: Path, tokenizer: Any, source: str | None) -> None:
    """Tokenizer files from `tokenizer` (a directory, or True for the bundled Mistral v0.1 one) or the source
    directory, always carrying the paper's chat template."""
    from mnlu.prompts import CHAT_TEMPLATE

    src: Path | None = None
    if tokenizer is True:
        from mnlu.tokenizer import write_tokenizer_dir

        write_tokenizer_dir(out)
        return
    if tokenizer is not None and tokenizer is not False:
        if hasattr(tokenizer, "save_pretrained"):
            tokenizer.save_pretrained(out)
            src = out
        else:
            src = Path(tokenizer)
            if not (src / "tokenizer_config.json").is_file():
                raise FileNotFoundError(f"{src}: no tokenizer_config.json; expected an HF tokenizer directory")
    elif source and (Path(source) / "tokenizer_config.json").is_file():
        src = Path(source)
    if src is None:
        return
    if src != out:
        for name in TOKENIZER_FILES:
            if (src / name).is_file():
                shutil.copyfile(src / name, out / name)
    cfg_path = out / "tokenizer_config.json"
    if cfg_path.is_file():
        tok_cfg = json.loads(cfg_path.read_text())
        if tok_cfg.get("chat_template") != CHAT_TEMPLATE:
            tok_cfg["chat_template"] = CHAT_TEMPLATE
            cfg_path.write_text(json.dumps(tok_cfg, indent=2, ensure_ascii=False) + "\n")
    for extra in ("chat_template.jinja", "chat_template.json"):
        (out / extra).unlink(missing_ok=True)  # a separate template file would override ours


def save_hf(
    model: Mistral,
    path: str | os.PathLike,
    tokenizer: Any = None,
    max_shard_size: int | str = "5GB",
    dtype: Any = None,
    *,
    overwrite: bool = False,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write `model` as an HF MistralForCausalLM directory that transformers and vLLM load unchanged.

    Streams one tensor at a time into shards laid out up front; writes into `<path>.tmp-*` and renames. Only
    process 0 writes (all processes must call it when parameters are sharded across hosts).
    """
    out = Path(path)
    cfg = model.config
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: exists and is not empty (pass overwrite=True to replace it)")
    out_dtype = NP_DTYPES[_dtype_name(dtype) or cfg.param_dtype]
    flat = dict(nnx.to_flat_state(nnx.state(model, nnx.Param)))
    names = list(hf_tensor_names(cfg))
    entries = []
    for hf_name, ours, transpose in names:
        shape = tuple(flat[ours].get_value().shape)
        entries.append((hf_name, out_dtype, shape[::-1] if transpose else shape))
    shards = _plan_shards(entries, parse_size(max_shard_size))
    writer_proc = jax.process_index() == 0
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent)) if writer_proc else None
    try:
        weight_map: dict[str, str] = {}
        meta = {"format": "pt", **(metadata or {})}
        total = 0
        for k, idx in enumerate(shards):
            fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
            writer = ShardWriter(tmp / fname, [entries[i] for i in idx], meta) if writer_proc else None
            for i in idx:
                hf_name, ours, transpose = names[i]
                host = _host_array(flat[ours].get_value())
                if writer is not None:
                    host = host.T if transpose else host
                    writer.write(hf_name, host.astype(out_dtype, copy=False))
                    weight_map[hf_name] = fname
                    total += host.size * out_dtype.itemsize
                del host
            if writer is not None:
                writer.close()
        if not writer_proc:
            return out
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (tmp / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
        (tmp / "config.json").write_text(json.dumps(cfg.to_hf_dict(TORCH_NAMES[out_dtype]), indent=2) + "\n")
        (tmp / "generation_config.json").write_text(json.dumps(generation_config(cfg), indent=2) + "\n")
        _write_tokenizer(tmp, tokenizer, getattr(model, "hf_source", None))
        for bad in FORBIDDEN_OUTPUTS:
            if (tmp / bad).exists():
                (tmp / bad).unlink()
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return out
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["CheckpointError", "ConfigError", "SafetensorsError", "load_hf", "save_hf", "hf_tensor_names"]
