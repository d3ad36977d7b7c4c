"""Files and folders that hold case material (reports, extracted attachments), created
private whatever the umask: they quote command lines, user names and mail, often secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; a folder that exists is left as it
    is (it is the user's)."""
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
        return path
    path.chmod(DIR_MODE)  # mkdir's mode is masked by the umask
    return path


@overload
def private_open(path: Path, mode: Literal["w"] = "w", **kwargs: Any) -> TextIO: ...
@overload
def private_open(path: Path, mode: Literal["wb"], **kwargs: Any) -> BinaryIO: ...
def private_open(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)`` for writing, the file owner read/write only from its first byte
    (an existing file is truncated and made private too; a device or pipe such as
    ``/dev/null`` or ``/dev/stdout`` is written to as it is, its mode left alone)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"private_open writes files: mode {mode!r}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise
