"""Two trees compared: file changes, renames found, a unified diff per file.

Directories are not changes (git's view: a folder exists because a file is in
it). A path whose kind changed (a file that became a symlink) is a deletion
and an addition. A deleted file and an added one with the same content are a
rename. Text is diffed with difflib in git's format, so `agentctl diff S |
git apply` works; content with a NUL byte or that is not UTF-8 is binary.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from agentctl.protocol import FileChange
from agentctl.workspace.tree import Entry, Tree

BINARY_PROBE = 8000


@dataclass(frozen=True)
class Change:
    """A change with the entries on each side (None: absent)."""

    path: str
    old: Entry | None
    new: Entry | None
    old_path: str | None = None  # set for a rename


def compare(base: Tree, new: Tree) -> list[Change]:
    changes: list[Change] = []
    deleted: list[Change] = []
    added: list[Change] = []
    for path in sorted(base.keys() | new.keys()):
        old, cur = _leaf(base.get(path)), _leaf(new.get(path))
        if old is None and cur is None:
            continue
        if old is not None and cur is not None:
            if old.kind == cur.kind:
                if old.digest != cur.digest or old.mode != cur.mode:
                    changes.append(Change(path, old, cur))
                continue
            deleted.append(Change(path, old, None))
            added.append(Change(path, None, cur))
        elif old is not None:
            deleted.append(Change(path, old, None))
        else:
            added.append(Change(path, None, cur))
    by_digest: dict[str, list[Change]] = {}
    for change in deleted:
        assert change.old is not None
        if change.old.kind == "file" and change.old.size > 0:
            by_digest.setdefault(change.old.digest, []).append(change)
    for change in added:
        assert change.new is not None
        sources = by_digest.get(change.new.digest) if change.new.kind == "file" else None
        if sources and change.path not in base:
            source = sources.pop(0)
            deleted.remove(source)
            changes.append(Change(change.path, source.old, change.new, old_path=source.path))
        else:
            changes.append(change)
    changes += deleted
    changes.sort(key=lambda c: (c.path, c.new is not None))
    return changes


def _leaf(entry: Entry | None) -> Entry | None:
    return entry if entry is not None and entry.kind in ("file", "symlink") else None


def git_mode(entry: Entry) -> str:
    if entry.kind == "symlink":
        return "120000"
    return f"100{entry.mode & 0o777:03o}"


def is_binary(data: bytes) -> bool:
    if b"\0" in data[:BINARY_PROBE]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def describe(change: Change, *, patch: bool = True) -> FileChange:
    """The change as the API shows it, with its unified diff when `patch`."""
    old, new = change.old, change.new
    status: Literal["added", "deleted", "modified", "renamed"]
    if old is None:
        status = "added"
    elif new is None:
        status = "deleted"
    elif change.old_path is not None:
        status = "renamed"
    else:
        status = "modified"
    a_path = change.old_path or change.path
    header = [f"diff --git a/{a_path} b/{change.path}\n"]
    if old is None and new is not None:
        header.append(f"new file mode {git_mode(new)}\n")
    elif new is None and old is not None:
        header.append(f"deleted file mode {git_mode(old)}\n")
    elif old is not None and new is not None:
        if git_mode(old) != git_mode(new):
            header += [f"old mode {git_mode(old)}\n", f"new mode {git_mode(new)}\n"]
        if change.old_path is not None:
            header += [
                "similarity index 100%\n",
                f"rename from {change.old_path}\n",
                f"rename to {change.path}\n",
            ]
    before = old.read() if old is not None else b""
    after = new.read() if new is not None else b""
    binary = (old is not None and old.kind == "file" and is_binary(before)) or (
        new is not None and new.kind == "file" and is_binary(after)
    )
    body: list[str] = []
    additions = deletions = 0
    if before != after or (old is None) != (new is None):
        if binary:
            from_name = "/dev/null" if old is None else f"a/{a_path}"
            to_name = "/dev/null" if new is None else f"b/{change.path}"
            body.append(f"Binary files {from_name} and {to_name} differ\n")
        else:
            body, additions, deletions = _unified(
                before.decode("utf-8", errors="replace"),
                after.decode("utf-8", errors="replace"),
                "/dev/null" if old is None else f"a/{a_path}",
                "/dev/null" if new is None else f"b/{change.path}",
            )
    return FileChange(
        path=change.path,
        status=status,
        old_path=change.old_path,
        old_mode=git_mode(old) if old is not None else None,
        new_mode=git_mode(new) if new is not None else None,
        binary=binary,
        additions=additions,
        deletions=deletions,
        patch="".join(header + body) if patch else "",
    )


def _unified(before: str, after: str, a: str, b: str) -> tuple[list[str], int, int]:
    lines: list[str] = []
    additions = deletions = 0
    old_lines = before.splitlines(keepends=True)
    new_lines = after.splitlines(keepends=True)
    for number, line in enumerate(difflib.unified_diff(old_lines, new_lines, a, b)):
        if number >= 2 and line.startswith("+"):  # past the ---/+++ header
            additions += 1
        elif number >= 2 and line.startswith("-"):
            deletions += 1
        lines.append(line)
        if not line.endswith("\n"):
            lines.append("\n\\ No newline at end of file\n")
    return lines, additions, deletions
