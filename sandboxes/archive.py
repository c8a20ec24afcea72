"""Tars in and out of a sandbox's filesystem.

A workspace goes in as a tar made on the host (`pack_folder`), owners
dropped so `tar -x` run as the sandbox user makes the files its own; the
same tar, kept, is the record of what the session started from. Trees come
out with the engine's archive API (`docker cp`), from a live container or
from a checkpoint image through a container that is created and never
started, so reading a checkpoint runs nothing of it.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import BinaryIO


def pack_folder(folder: Path, dest: BinaryIO) -> None:
    """Write `folder`'s contents (not the folder itself) as a tar to `dest`.

    GNU format: long names without a PAX header per member (PAX would add one
    to every file for its fractional mtime), so the tar is quick to index.
    """
    with tarfile.open(fileobj=dest, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for child in sorted(Path(folder).iterdir()):
            tar.add(child, arcname=child.name, filter=anonymous)


def anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Host owners mean nothing in the sandbox: `tar -x` as the user makes them its own."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
