"""Writing a file so that a crash never leaves half of it: write a temporary file beside the target, then
rename it into place (atomic on POSIX and Windows within one folder)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from steer_eval.errors import SteerEvalError

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: the process's umask, which files written in place would have respected


def check_file_target(path: str | Path, example: str = "FILE") -> None:
    """A file can be written at `path`: not an existing folder (checked before the work that makes the file)."""
    path = Path(path)
    if path.is_dir():
        raise SteerEvalError(f"{path} is a folder; name the file to write, e.g. {path / example}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path to write to; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    check_file_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would keep a shared run folder's files from its readers
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
