"""The single-writer lock: an exclusive, non-blocking `flock` on a lock file.

`flock` belongs to the open file, so the kernel drops it when the holder dies,
however it dies: there is no stale lock to clean up, and the file is never
deleted (deleting a lock file that another process has open is how two
writers end up holding "the" lock). The holder writes its pid into the file
so that the one refused can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Self

from store.events import LockHeldError, StoreError


class WriterLock:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise `LockHeldError` naming the holder's pid."""
        if self._fd is not None:
            raise StoreError(f"the lock {self.path} is already held by this WriterLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # No O_TRUNC: the file holds the current holder's pid until we own it.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeldError(self.path, self.holder_pid(self.path)) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {self.path}: {exc}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @staticmethod
    def holder_pid(path: Path | str) -> int | None:
        """The pid written by the lock's holder, or None (no holder, or not written yet)."""
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
