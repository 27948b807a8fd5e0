"""What a stored prediction depends on, as short digests: the model (weights, config, tokenizer), the generation
settings and the rendered prompt's token ids. The predictions log reuses a row only when all three match.

Why the weight files' contents and not the shard index: a base and a merged model of the same shape have the
same index. Hashing a 14 GB model takes about as long as reading it once, so each file's digest is cached in one
JSON file (`$MNLU_CACHE_DIR`, else `$XDG_CACHE_HOME/mnlu`, else `~/.cache/mnlu`) keyed by the file's resolved
path, size and mtime_ns: a file rewritten in place gets a new mtime and is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DIGEST_BYTES = 16  # 32 hex characters: collisions are not a concern at this scale
CHUNK = 8 << 20
# The files of an HF model folder that change what the model generates (weights, architecture, generation
# defaults, tokenizer and chat template); README, licences and our own hidden files are left out.
MODEL_FILE_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json",
                       "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                       "chat_template.jinja", "chat_template.json")


def _blake(data: bytes = b"") -> Any:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES)


def digest_cache_path() -> Path:
    root = os.environ.get("MNLU_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "mnlu") if xdg else str(Path.home() / ".cache" / "mnlu")
    return Path(root) / "file-digests.json"


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # an unreadable cache only costs a re-hash


def _save_cache(path: Path, cache: Mapping[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(cache, f, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: digests are recomputed next time


def _hash_file(path: Path) -> str:
    h = _blake()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_digests(paths: Sequence[Path]) -> dict[Path, str]:
    """blake2b of each file's bytes, from the cache where path, size and mtime_ns are unchanged."""
    cache_path = digest_cache_path()
    cache = _load_cache(cache_path)
    out: dict[Path, str] = {}
    changed = False
    for p in paths:
        st = p.stat()
        key = str(p.resolve())
        hit = cache.get(key)
        if isinstance(hit, dict) and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
            out[p] = hit["blake2b"]
            continue
        out[p] = _hash_file(p)
        cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "blake2b": out[p]}
        changed = True
    if changed:
        _save_cache(cache_path, cache)
    return out


def model_files(model_dir: str | os.PathLike) -> list[Path]:
    root = Path(model_dir)
    files = sorted({p for pattern in MODEL_FILE_PATTERNS for p in root.glob(pattern) if p.is_file()})
    if not any(p.name.endswith(".safetensors") for p in files):
        raise FileNotFoundError(f"{root}: no *.safetensors weights; expected an HF model directory")
    return files


def model_identity(model_dir: str | os.PathLike) -> str:
    """One digest of the model folder's weights, config, generation_config and tokenizer files (by name and
    content)."""
    h = _blake()
    for path, digest in file_digests(model_files(model_dir)).items():
        h.update(f"{path.name}\0{digest}\n".encode())
    return h.hexdigest()


def generation_identity(settings: Mapping[str, Any]) -> str:
    """The settings that change the output, as a readable canonical string (`backend=jax dtype=auto ...`)."""
    return " ".join(f"{k}={settings[k]}" for k in sorted(settings))


def prompt_identity(token_ids: Sequence[int]) -> str:
    """Digest of the rendered prompt's token ids: the prompt text, chat template and tokenizer all show here."""
    return _blake(json.dumps([int(t) for t in token_ids], separators=(",", ":")).encode()).hexdigest()
