"""Members of the archives the i2b2/n2c2 corpora are distributed as, read in place (never extracted to disk).

Why: the data use agreements forbid copies, and the portal's zips and tar.gz files are the layout the build
expects; reading members directly keeps the text only in memory. Damaged archives become a FormatError naming
the archive (and the member), never a zlib/tarfile traceback.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mnlu.formats.errors import FormatError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_READ_ERRORS = (OSError, EOFError, zlib.error, tarfile.TarError, zipfile.BadZipFile, ValueError, RuntimeError)


@dataclass(frozen=True)
class Member:
    """One regular file inside an archive; `where` names it in errors as `archive!/member`."""

    archive: Path  # the archive, or the folder a plain file was read from
    name: str  # POSIX path inside the archive (or the folder)
    data: bytes
    in_archive: bool = True

    @property
    def where(self) -> str:
        return f"{self.archive}!/{self.name}" if self.in_archive else f"{self.archive}/{self.name}"

    @property
    def basename(self) -> str:
        return PurePosixPath(self.name).name


def is_junk(name: str) -> bool:
    """macOS resource forks (`__MACOSX/`, `._x`) and other dot files that ship inside the portal's archives."""
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts if p not in (".", ".."))


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def iter_members(archive: str | Path, *, skip_junk: bool = True) -> Iterator[Member]:
    """Every regular file of a zip / tar / tar.gz, in archive order; a damaged archive raises FormatError."""
    path = Path(archive)
    lower = path.name.lower()
    try:
        if lower.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.is_dir() or (skip_junk and is_junk(info.filename)):
                        continue
                    yield Member(path, info.filename, _read_zip(zf, info, path))
        elif lower.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(path, mode="r:*") as tf:
                for info in tf:
                    if not info.isfile() or (skip_junk and is_junk(info.name)):
                        continue
                    fh = tf.extractfile(info)
                    if fh is None:
                        continue
                    yield Member(path, info.name, fh.read())
        else:
            raise FormatError(path, f"not an archive; expected one of {', '.join(ARCHIVE_SUFFIXES)}")
    except FormatError:
        raise
    except _READ_ERRORS as e:
        raise FormatError(path, f"damaged or unreadable archive ({type(e).__name__}: {e})") from None


def _read_zip(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    try:
        return zf.read(info)
    except _READ_ERRORS as e:
        raise FormatError(f"{path}!/{info.filename}", f"damaged member ({type(e).__name__})") from None


def find_archive(root: Path, names: tuple[str, ...], *, corpus: str) -> Path:
    """The first of `names` present under `root` (the names the portal uses); a clear error lists them if none."""
    for name in names:
        candidate = root / name
        if candidate.is_file():
            return candidate
    raise FormatError(root, f"{corpus}: none of the distributed files {list(names)} is in this folder")


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 (a BOM is dropped), falling back to Latin-1 for the older i2b2 releases; never fails silently."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        # The 2006-2009 releases are ASCII with a few Windows-1252/Latin-1 bytes; Latin-1 maps every byte, so
        # character offsets stay one per byte, which is how those corpora count them.
        if b"\x00" in data:
            line = data[: e.start].count(b"\n") + 1
            raise FormatError(where, f"binary data (NUL byte) where text was expected (byte {e.start})",
                              line=line) from None
        return data.decode("latin-1")
