"""A filesystem tree read from a tar: each path's kind, mode and content digest.

Paths from a container are untrusted: a member whose name is absolute, holds
`..`, or is not valid to store is dropped here, and `.git` internals are
never part of a tree (the repository's history is not a change to apply).
Contents stay in the tar on disk; `read` fetches one by its offset, so a
10,000-file tree costs an index, not its bytes in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
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
    parts = [p for p in name.split("/") if p and p != "."]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def excluded(path: str) -> bool:
    return EXCLUDED in path.split("/")


def read_tree(archive: Path, *, strip_top: bool = False) -> Tree:
    """The tree in `archive`; `strip_top` drops the first path component (`docker cp`'s folder)."""
    with open(archive, "rb") as handle:
        return tree_of(iter(lambda: handle.read(1 << 20), b""), archive, strip_top=strip_top)


def tree_of(chunks: Iterable[bytes], archive: Path, *, strip_top: bool = False) -> Tree:
    """The tree of the tar whose bytes are `chunks`, as they come; `archive` holds those bytes.

    Read while the engine is still sending it (`Workspaces` tees the stream to
    `archive`), so indexing costs no time of its own. The headers are read by
    `_members`, a small reader of the ustar/GNU/PAX formats: `tarfile` builds
    an object per member and costs seconds on a 10,000-file repository (whose
    .git doubles the members); this costs an index and one sha256 per file.
    Contents are read again from `archive` by offset when they are needed.
    """
    tree: Tree = {}
    files: dict[str, Entry] = {}  # by member name, for hard links
    for member in _members(_Stream(chunks)):
        name = member.name
        if strip_top:
            _, _, name = name.partition("/")
        path = clean_path(name)
        if path is None or excluded(path):
            continue
        entry: Entry | None
        if member.kind in _REGULAR:
            entry = Entry(
                "file",
                member.mode & 0o7777,
                member.size,
                member.digest,
                "",
                member.offset,
                archive,
            )
            files[member.name] = entry
        elif member.kind == b"1":  # a hard link: the content of the member it names
            entry = files.get(member.link)
        elif member.kind == b"2":
            link = member.link
            digest = hashlib.sha256(link.encode("utf-8", errors="surrogateescape")).hexdigest()
            entry = Entry("symlink", 0o777, len(link), digest, link)
        elif member.kind == b"5":
            entry = Entry("dir", member.mode & 0o7777, 0, "")
        else:
            entry = None
        if entry is not None:
            tree[path] = entry
    return tree


_REGULAR = (b"0", b"\0", b"7")


@dataclass(frozen=True)
class _Member:
    name: str
    mode: int
    size: int
    kind: bytes
    link: str
    offset: int
    digest: str  # of a regular file's content; "" for the other kinds


class _Stream:
    """Bytes from an iterator of chunks, read in order; `pos` is how many were read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""
        self._at = 0
        self.pos = 0

    def read(self, n: int) -> bytes:
        """The next `n` bytes (fewer only at the end)."""
        if len(self._buf) - self._at < n:
            parts, have = [self._buf[self._at :]], len(self._buf) - self._at
            while have < n:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                parts.append(chunk)
                have += len(chunk)
            self._buf, self._at = b"".join(parts), 0
        out = self._buf[self._at : self._at + n]
        self._at += len(out)
        self.pos += len(out)
        return out

    def digest(self, n: int) -> str:
        """The sha256 of the next `n` bytes, read a megabyte at a time."""
        digest = hashlib.sha256()
        while n > 0:
            piece = self.read(min(n, 1 << 20))
            if not piece:
                break
            digest.update(piece)
            n -= len(piece)
        return digest.hexdigest()


def _members(data: _Stream) -> Iterator[_Member]:
    """Each member of a tar (ustar, GNU long names, PAX path/linkpath/size)."""
    long_name = long_link = None
    pax: dict[str, str] = {}
    while True:
        block = data.read(512)
        if len(block) < 512 or block.count(0) == 512:
            break
        kind = block[156:157]
        size = _number(block[124:136])
        name = _text(block[0:100])
        if block[257:262] == b"ustar" and block[345]:
            name = _text(block[345:500]) + "/" + name
        link = _text(block[157:257])
        offset = data.pos
        if "size" in pax:
            size = int(pax["size"])
        padding = (size + 511) // 512 * 512 - size
        if kind in (b"L", b"K", b"x"):
            raw = data.read(size)
            data.read(padding)
            if kind == b"x":
                pax = _pax(raw)
                continue
            text = raw.rstrip(b"\0").decode("utf-8", "surrogateescape")
            if kind == b"L":
                long_name = text
            else:
                long_link = text
            continue
        if kind in _REGULAR:
            digest = data.digest(size)
        else:
            digest = ""
            data.read(size)  # a member's content we do not keep (a device's is empty)
        data.read(padding)
        if kind == b"g":
            continue
        name = pax.get("path", long_name or name)
        link = pax.get("linkpath", long_link or link)
        yield _Member(name, _number(block[100:108]), size, kind, link, offset, digest)
        long_name = long_link = None
        pax = {}


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip()
    return int(digits, 8) if digits else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(raw: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        space = raw.find(b" ", pos)
        if space < 0:
            break
        length = int(raw[pos:space])
        if length <= 0:
            break
        key, _, value = raw[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


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


def cached_tree(archive: Path) -> Tree:
    """`read_tree(archive)`, kept beside it as JSON: the start of a session never changes."""
    try:
        return load_index(archive)
    except (OSError, ValueError):
        pass
    tree = read_tree(archive)
    save_index(archive, tree)
    return tree


def _index_of(archive: Path) -> Path:
    return archive.with_name(archive.name + ".index.json")


def load_index(archive: Path) -> Tree:
    """The tree of `archive` from the index saved beside it (ValueError: none that fits)."""
    try:
        raw = json.loads(_index_of(archive).read_text())
        if raw.get("size") != archive.stat().st_size:
            raise ValueError(f"the index of {archive.name} is of another tar")
        return {
            path: Entry(kind, mode, size, digest, link, offset, archive)
            for path, (kind, mode, size, digest, link, offset) in raw["entries"].items()
        }
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the index of {archive.name} is damaged") from exc


def save_index(archive: Path, tree: Tree) -> None:
    """Keep `tree`, the tree of `archive`, beside it (written whole, then renamed)."""
    entries = {p: [e.kind, e.mode, e.size, e.digest, e.link, e.offset] for p, e in tree.items()}
    index = _index_of(archive)
    partial = index.with_name(index.name + ".partial")
    partial.write_text(json.dumps({"size": archive.stat().st_size, "entries": entries}))
    os.replace(partial, index)
