"""Changes written into a host folder: all checked first, then all written, or nothing.

The host side is the user's real files, so every path is judged before a
byte is written, and judged without following symlinks:
- a path that is not a plain relative path (absolute, `..`) is refused;
- a parent folder on the host that is a symlink or not a folder is refused
  (writing through it could land outside the target);
- a symlink the session made that points outside the target (absolute, or
  `..` past its root) is refused;
- a host file that is no longer what was copied in is a conflict: it was
  changed since, and overwriting it would lose that change. A host file that
  already has the new content is left alone.
A refused or conflicting path makes the whole apply refused, with the list.
Files are written to a temp name beside them and renamed over, with
O_NOFOLLOW; there is still a window between check and write in which another
process could change the folder, as with any `patch`.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path

from agentctl.protocol import ApplyConflict
from agentctl.workspace.changes import Change
from agentctl.workspace.tree import Entry, clean_path, host_entry


@dataclass
class Plan:
    writes: list[tuple[str, Entry]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[ApplyConflict] = field(default_factory=list)


def plan(changes: list[Change], target: Path) -> Plan:
    """What applying `changes` to `target` would do (no writes)."""
    result = Plan()
    for change in changes:
        if change.old_path is not None:  # a rename: the old path goes, the new one comes
            _judge(result, target, change.old_path, change.old, None)
            _judge(result, target, change.path, None, change.new)
        else:
            _judge(result, target, change.path, change.old, change.new)
    return result


def _judge(result: Plan, target: Path, path: str, old: Entry | None, new: Entry | None) -> None:
    if clean_path(path) != path:
        result.conflicts.append(ApplyConflict(path=path, reason="not a plain relative path"))
        return
    unsafe = _unsafe_parent(target, path)
    if unsafe is not None:
        result.conflicts.append(ApplyConflict(path=path, reason=unsafe))
        return
    if new is not None and new.kind == "symlink" and not link_inside(path, new.link):
        result.conflicts.append(
            ApplyConflict(path=path, reason=f"a symlink to {new.link!r}, outside the folder")
        )
        return
    host = host_entry(target / path)
    if _matches(host, new, mode=True):
        result.unchanged.append(path)
        return
    if not _matches(host, old):
        result.conflicts.append(ApplyConflict(path=path, reason=_why(host, old)))
        return
    if new is None:
        result.deletes.append(path)
    else:
        result.writes.append((path, new))


def _matches(host: Entry | None, want: Entry | None, *, mode: bool = False) -> bool:
    """Same kind and content (and permission bits, with `mode`)."""
    if want is None or host is None:
        return want is None and host is None
    if not host.same_content(want):
        return False
    return not mode or want.kind != "file" or (host.mode & 0o777) == (want.mode & 0o777)


def _why(host: Entry | None, old: Entry | None) -> str:
    if old is None:
        return "exists on the host but not in the copy the session started from"
    if host is None:
        return "deleted on the host since the copy"
    return "changed on the host since the copy"


def _unsafe_parent(target: Path, path: str) -> str | None:
    current = target
    for part in path.split("/")[:-1]:
        current = current / part
        try:
            st = current.lstat()
        except FileNotFoundError:
            return None  # made by the apply, as a real folder
        if stat.S_ISLNK(st.st_mode):
            return f"{current.relative_to(target)} is a symlink on the host"
        if not stat.S_ISDIR(st.st_mode):
            return f"{current.relative_to(target)} is not a folder on the host"
    return None


def link_inside(path: str, link: str) -> bool:
    if not link or link.startswith("/") or "\0" in link:
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
    return resolved != ".." and not resolved.startswith("../")


def write(plan_: Plan, target: Path) -> None:
    """Carry out a plan with no conflicts."""
    assert not plan_.conflicts
    for path in plan_.deletes:
        _delete(target, path)
    for path, entry in plan_.writes:
        _write(target, path, entry)


def _delete(target: Path, path: str) -> None:
    file = target / path
    if file.is_symlink() or file.is_file():
        file.unlink()
    parent = file.parent
    while parent != target:  # folders the deletion emptied go too, as git leaves them
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def _write(target: Path, path: str, entry: Entry) -> None:
    folder = target
    for part in path.split("/")[:-1]:
        folder = folder / part
        try:
            folder.mkdir()
        except FileExistsError:
            if folder.is_symlink() or not folder.is_dir():
                raise OSError(f"{folder} stopped being a folder during the apply") from None
    final = target / path
    temp = final.with_name(f".{final.name}.agentctl-{os.getpid()}")
    if entry.kind == "symlink":
        os.symlink(entry.link, temp)
    else:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(entry.read())
                os.fchmod(handle.fileno(), entry.mode & 0o777)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    os.replace(temp, final)
