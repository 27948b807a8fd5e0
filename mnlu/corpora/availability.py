"""What a corpus folder holds: finding a converter's files, and saying so when what it needs is not there.

A folder that exists but lacks what its converter needs (text not redistributed, main files missing) is not a
bad record: nothing is wrong with the files that are there. The converter raises `CorpusUnavailable` naming
what is missing; the build lists the corpus with that reason, like an absent one, and `--require-all` makes it
an error.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path


class CorpusUnavailable(Exception):
    """Raised by a converter before it yields anything; the message says what is missing and how to get it."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # picklable across worker processes despite the two-argument constructor
        return (type(self), (self.path, self.reason))


def find_files(root: Path, pattern: str = "*") -> list[Path]:
    """Files under `root` whose name matches `pattern`, sorted; symlinked folders are followed (a corpus folder
    is often assembled from links to the downloaded archives), hidden and AppleDouble `._*` files and
    `__MACOSX` folders skipped."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        found += [Path(folder) / f for f in files if fnmatch.fnmatch(f, pattern) and not f.startswith(".")]
    return sorted(found)


def find_dirs(root: Path, name: str) -> list[Path]:
    """Folders under `root` (links followed) called `name`, sorted."""
    return sorted(Path(folder) / name for folder, dirs, _ in os.walk(root, followlinks=True) if name in dirs)
