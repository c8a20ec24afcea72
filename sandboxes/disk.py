"""The disk bounds the storage driver does not set, kept by watching a container's layer.

`walk_layer` measures a writable layer the host can read; `DiskWatchdog`
watches it while a command runs (see its doc). Both are `Sandbox.exec`'s.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Protocol

from sandboxes.errors import SandboxError


class Watched(Protocol):
    """What the watchdog needs of a sandbox: its limits, its last measure, a way to stop it."""

    disk_watch_bytes: int | None
    file_watch_count: int | None
    _layer_bytes: int | None  # the layer's size after the last command
    _layer_files: int | None  # its file count after the last command

    def layer_usage(self, *, size: bool = True, files: bool = True) -> tuple[int, int]: ...

    def _kill_agent_processes(self) -> None: ...


def walk_layer(top: str) -> tuple[int, int]:
    """(bytes, entries) under `top`: links not followed, a hard link's bytes once, no
    recursion (any depth)."""
    size = count = 0
    linked: set[int] = set()
    folders = [top]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except FileNotFoundError:  # removed by a command while we looked: not there
            continue
        with entries:
            for entry in entries:
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if st.st_nlink > 1:
                    if st.st_ino in linked:
                        continue
                    linked.add(st.st_ino)
                size += st.st_size
    return size, count


class DiskWatchdog:
    """The disk bounds the storage driver does not set: watch the writable layer.

    Two bounds: its size in bytes (where the engine has no `--storage-opt
    size`) and its number of files, which no storage driver bounds (a million
    empty files use up the host's inodes while their size is 0). While a
    command runs the layer is measured every `INTERVAL_S`, or every four
    times what the last look took when that is longer (a large layer costs
    more to measure: the watch takes at most a fifth of a core); once more
    when it ends (a `fallocate` is over before the first look). A command that
    takes the layer past a limit, and past where it was before the command,
    has every process of the agent killed, and its result says why; a command
    that frees space or files (`rm`) is never stopped, so the model can recover.
    """

    INTERVAL_S = 0.5
    MAX_INTERVAL_S = 10.0

    def __init__(self, sandbox: Watched) -> None:
        self.sandbox = sandbox
        self.byte_limit = sandbox.disk_watch_bytes
        self.file_limit = sandbox.file_watch_count
        if sandbox._layer_bytes is None or sandbox._layer_files is None:
            # a new handle (a restarted daemon): look once
            try:
                sandbox._layer_bytes, sandbox._layer_files = self._measure()
            except SandboxError:
                sandbox._layer_bytes, sandbox._layer_files = 0, 0
        self.before = (sandbox._layer_bytes, sandbox._layer_files)
        self.size, self.files = self.before
        self.fired = False
        self._cost = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="disk-watchdog", daemon=True)
        self._thread.start()

    def _measure(self) -> tuple[int, int]:
        started = time.monotonic()
        usage = self.sandbox.layer_usage(
            size=self.byte_limit is not None, files=self.file_limit is not None
        )
        self._cost = time.monotonic() - started
        return usage

    def _over_bytes(self) -> bool:
        limit = self.byte_limit
        return limit is not None and self.size > limit and self.size > self.before[0]

    def _over_files(self) -> bool:
        limit = self.file_limit
        return limit is not None and self.files > limit and self.files > self.before[1]

    def _interval(self) -> float:
        return min(max(self.INTERVAL_S, 4 * self._cost), self.MAX_INTERVAL_S)

    def _watch(self) -> None:
        while not self._done.wait(self._interval()):
            try:
                self.size, self.files = self._measure()
                if self._over_bytes() or self._over_files():
                    self.fired = True
                    self.sandbox._kill_agent_processes()
                    return
            except SandboxError:
                return  # the command's own call reports a container that went away

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def verdict(self) -> str | None:
        """The note for the command's output when it broke a bound, else None."""
        try:
            self.size, self.files = self._measure()
        except SandboxError:
            return None
        self.sandbox._layer_bytes, self.sandbox._layer_files = self.size, self.files
        notes = []
        verb = "killed: the" if self.fired else "the"
        if self._over_bytes():
            notes.append(
                f"[{verb} sandbox's files reached {self.size >> 20} MB, over its disk limit of "
                f"{(self.byte_limit or 0) >> 20} MB: delete files before writing more]"
            )
        if self._over_files():
            notes.append(
                f"[{verb} sandbox holds {self.files:,} files, over its limit of "
                f"{self.file_limit or 0:,} files: delete files before making more]"
            )
        if self.fired and not notes:  # over when killed, freed since by the kill's aftermath
            notes.append("[killed: the sandbox went over its disk limits]")
        return "\n".join(notes) or None


__all__ = ["DiskWatchdog", "Watched", "walk_layer"]
