"""Write extracted attachments for analysts: defanged names, owner read/write only, never executable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from spearhunt.errors import StoreError
from spearhunt.ingest.mail import Blob, RawMail
from spearhunt.store.files import private_dir, private_open

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(name: str, data: bytes) -> str:
    """``<sha256 prefix>_<name with dots and odd characters defanged>.bin``: no extension a shell
    or desktop would act on, no path separators, no RLO tricks."""
    stem = _UNSAFE.sub("_", name.replace(".", "[.]").replace("[", "").replace("]", ""))[:80].strip(
        "_"
    )
    return f"{hashlib.sha256(data).hexdigest()[:16]}_{stem or 'part'}.bin"


def extract(raw: RawMail, folder: Path) -> list[Path]:
    """Write every attachment (nested ones too) of ``raw`` and of mails attached to it."""
    try:
        private_dir(folder)
    except OSError as exc:
        raise StoreError(
            f"cannot create extraction folder: {exc.strerror or exc}", where=str(folder)
        ) from exc
    written: list[Path] = []
    stack: list[Blob] = list(raw.attachments)
    mails = list(raw.embedded)
    while mails:
        inner = mails.pop()
        stack.extend(inner.attachments)
        mails.extend(inner.embedded)
    while stack:
        blob = stack.pop()
        stack.extend(blob.children)
        if not blob.data:
            continue
        target = folder / safe_name(blob.name, blob.data)
        with private_open(target, "wb") as fh:
            fh.write(blob.data)
        written.append(target)
    return written
