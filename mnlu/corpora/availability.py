"""A corpus folder that exists but lacks what its converter needs (text not redistributed, main files missing).

This is not a bad record: nothing is wrong with the files that are there. The build lists such a corpus with
the reason, like an absent one, and `--require-all` makes it an error.
"""

from __future__ import annotations

from pathlib import Path


class CorpusUnavailable(Exception):
    """Raised by a converter before it yields anything; the message says what is missing and how to get it."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # picklable across worker processes despite the two-argument constructor
        return (type(self), (self.path, self.reason))
