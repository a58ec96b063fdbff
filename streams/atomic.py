"""Files that appear only complete: the one helper for every output prosync writes.

A file is written under a temporary name beside its final one (``.NAME.partial``), flushed to
disk (``fsync``), renamed over the final name (atomic on POSIX) and the rename made durable
(``fsync`` of the folder). A reader, or a crash at any moment, sees the old file or the whole new
one, never a part; an aborted write leaves no temporary behind.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["AtomicFile", "atomic_path", "fsync_dir", "output_folder", "write_json", "write_text"]


def output_folder(path: str | Path) -> Path:
    """Make the output folder ``path`` (and its parents) if missing; a file there is a user error
    saying so (``mkdir`` said 'File exists')."""
    from ..engine.errors import ProsyncError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ProsyncError(f"{path}: is a file, not a folder: give a folder for the outputs (it "
                           "is made if missing)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """The temporary name of ``path`` (:attr:`tmp`) until :meth:`commit` renames it into place."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.partial")

    def commit(self) -> Path:
        """fsync the temporary file, rename it over :attr:`path`, fsync the folder."""
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        return self.path

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write to tmp``: committed on success, removed on error."""
    f = AtomicFile(path)
    try:
        yield f.tmp
        f.commit()
    except BaseException:  # a failed rename (the final name is a folder) leaves no temporary
        f.discard()
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON (NaN refused) to ``path`` atomically."""
    return write_text(path, json.dumps(obj, indent=2, allow_nan=False))
