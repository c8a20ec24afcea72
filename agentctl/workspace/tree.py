"""A filesystem tree read from a tar: each path's kind, mode and content digest.

Paths from a container are untrusted: a member whose name is absolute, holds
`..`, or is not valid to store is dropped here, and `.git` internals are
never part of a tree (the repository's history is not a change to apply).
Contents stay in the tar on disk; `read` fetches one by its offset, so a
10,000-file tree costs an index, not its bytes in memory.
"""

from __future__ import annotations

import hashlib
import stat as stat_
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

Kind = Literal["file", "symlink", "dir", "other"]
EXCLUDED = ".git"


@dataclass(frozen=True)
class Entry:
    kind: Kind
    mode: int  # permission bits (0o7777)
    size: int
    digest: str  # sha256 of the content (a symlink's: of its target)
    link: str = ""  # a symlink's target
    offset: int = 0  # where the content starts in `source`
    source: Path | None = None

    def same_content(self, other: Entry) -> bool:
        return self.kind == other.kind and self.digest == other.digest

    def read(self) -> bytes:
        if self.kind == "symlink":
            return self.link.encode("utf-8", errors="surrogateescape")
        if self.kind != "file" or self.source is None or self.size == 0:
            return b""
        with open(self.source, "rb") as handle:
            handle.seek(self.offset)
            return handle.read(self.size)


Tree = dict[str, Entry]


def clean_path(name: str) -> str | None:
    """`name` as a relative POSIX path inside the tree, or None when it is not one."""
    if not name or "\0" in name or "\n" in name or name.startswith("/"):
        return None
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def excluded(path: str) -> bool:
    return EXCLUDED in path.split("/")


def read_tree(archive: Path, *, strip_top: bool = False) -> Tree:
    """The tree in `archive`; `strip_top` drops the first path component (`docker cp`'s folder)."""
    tree: Tree = {}
    by_name: dict[str, tarfile.TarInfo] = {}
    with tarfile.open(archive, mode="r:") as tar, open(archive, "rb") as raw:
        for info in tar:
            name = info.name
            if strip_top:
                _, _, name = name.partition("/")
            path = clean_path(name)
            if path is None or excluded(path):
                continue
            by_name[info.name] = info
            if info.islnk():  # a hard link: the content of the member it names
                target = by_name.get(info.linkname)
                if target is None or not target.isfile():
                    continue
                info = target
            if info.isfile():
                raw.seek(info.offset_data)
                digest = _digest(raw, info.size)
                tree[path] = Entry(
                    "file", info.mode & 0o7777, info.size, digest, "", info.offset_data, archive
                )
            elif info.issym():
                link = info.linkname
                digest = hashlib.sha256(link.encode("utf-8", errors="surrogateescape")).hexdigest()
                tree[path] = Entry("symlink", 0o777, len(link), digest, link)
            elif info.isdir():
                tree[path] = Entry("dir", info.mode & 0o7777, 0, "")
    return tree


def _digest(handle: object, size: int) -> str:
    digest = hashlib.sha256()
    read = handle.read  # type: ignore[attr-defined]
    left = size
    while left > 0:
        chunk = read(min(left, 1 << 20))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def host_entry(path: Path) -> Entry | None:
    """What the host has at `path`, never following a symlink (None: nothing)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if stat_.S_ISLNK(st.st_mode):
        link = str(path.readlink())
        digest = hashlib.sha256(link.encode("utf-8", errors="surrogateescape")).hexdigest()
        return Entry("symlink", 0o777, len(link), digest, link)
    if stat_.S_ISDIR(st.st_mode):
        return Entry("dir", st.st_mode & 0o7777, 0, "")
    if stat_.S_ISREG(st.st_mode):
        with open(path, "rb") as handle:
            digest = _digest(handle, st.st_size)
        return Entry("file", st.st_mode & 0o7777, st.st_size, digest)
    return Entry("other", 0, 0, "")  # a socket, a device: never a match for a change
