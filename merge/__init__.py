"""Streaming model merges: the paper's DARE merge bit for bit, in bounded memory.

Reads HF safetensors directories (own header parser + pread) and orbax checkpoints (tensorstore), merges chunk by
chunk with pure NumPy functions (linear, task arithmetic, TIES, DARE, DARE-TIES) and writes an HF directory whose
shards are laid out header-first. Never imports jax, torch or the project's other packages.
"""

from .config import MergeConfig, ModelSpec, from_dict, load_yaml
from .errors import MergeError


def run_merge(*args, **kwargs):
    from .api import run_merge as _run

    return _run(*args, **kwargs)


__all__ = ["MergeConfig", "MergeError", "ModelSpec", "from_dict", "load_yaml", "run_merge"]
