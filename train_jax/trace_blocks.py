"""A block size that the train step sets while it is traced and a layer reads (train config keys such as
`attention_query_block`, `mlp_block_size`; 0 = whole).

Why a context variable: the size is a training choice, not part of the model, so it reaches the layers only
while the step is traced, and generation (traced outside it) always runs whole.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class TraceBlockSize:
    """`with setting(block): ...` sets it for what is traced inside; `setting.blocks_for(length)` reads it."""

    def __init__(self, key: str):
        self.key = key
        self._block: contextvars.ContextVar[int] = contextvars.ContextVar(key, default=0)

    @contextlib.contextmanager
    def __call__(self, block: int) -> Iterator[None]:
        if block < 0:
            raise ValueError(f"{self.key} is {block}; expected 0 (whole) or a positive block size")
        token = self._block.set(block)
        try:
            yield
        finally:
            self._block.reset(token)

    def blocks_for(self, length: int) -> int:
        """How many blocks a sequence of `length` is cut into (1: whole, when no block is set, it is not smaller
        than `length` or it does not divide it)."""
        block = self._block.get()
        if block == 0 or length <= block or length % block:
            return 1
        return length // block


__all__ = ["TraceBlockSize"]
