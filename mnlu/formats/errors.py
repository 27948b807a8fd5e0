"""Typed errors of the format readers: every one names the file and, where known, the line and offset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


class FormatError(ValueError):
    """Input that does not follow its format. `str()` is one line: `file:line: what was expected`."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, offset: int | None = None):
        self.path = str(path)
        self.line = line
        self.offset = offset
        self.reason = message
        where = self.path if line is None else f"{self.path}:{line}"
        if offset is not None:
            where += f": offset {offset}"
        super().__init__(f"{where}: {message}")


class OffsetMismatch(FormatError):
    """A span whose text does not match the document text at its offsets (never silently kept)."""


Report = Callable[[FormatError], None]
"""Where a reader sends a bad record: converters pass `ConvertContext.bad` (raise under --strict, else count and
skip); the default, `raise_error`, stops at the first one."""


def raise_error(error: FormatError) -> None:
    raise error
