"""The file tools, confined to /workspace, judged inside the container.

A path is resolved by `realpath -m` in the container, as the sandbox user,
so `..`, absolute paths and symlinks (`ln -s /etc evil`, then `evil/passwd`)
are judged as the container sees them, and refused when they land outside
/workspace. Each tool is one exec of a small bash script: resolution, checks
and the read or write happen in one round trip. This confinement is a policy
guard for the agent's tools, not the security boundary: the container is.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from sandboxes.errors import FileToolError, PathOutsideWorkspaceError
from sandboxes.execution import SplitOutput
from sandboxes.spec import WORKSPACE, FileEntry, FileKind

# Exit codes of the script (bash's own failures are 1, 2, 126, 127).
OUTSIDE, MISSING, IS_DIR, NOT_REGULAR, TOO_LARGE, NOT_DIR, NO = 64, 65, 66, 67, 68, 69, 70

SCRIPT = r"""
op=$1 path=$2 ws=/workspace
p=$(realpath -m -- "$path") || exit 2
case $p in "$ws"|"$ws"/*) ;; *) printf '%s' "$p" >&2; exit 64;; esac
case $op in
read)
    [ -e "$p" ] || exit 65
    [ -d "$p" ] && exit 66
    [ -f "$p" ] || exit 67
    size=$(stat -c %s -- "$p") || exit 2
    [ "$size" -le "$3" ] || { printf '%s' "$size" >&2; exit 68; }
    exec cat -- "$p";;
write)
    [ -d "$p" ] && exit 66
    mkdir -p -- "${p%/*}" || exit 2
    exec cat > "$p";;
exists)
    [ -e "$p" ] || exit 70;;
list)
    [ -e "$p" ] || exit 65
    [ -d "$p" ] || exit 69
    find "$p" -mindepth 1 -maxdepth "$3" -printf '%y\t%s\t%P\0' 2>/dev/null | head -z -n "$4"
    exit 0;;
esac
"""

# Runs argv in the container as the sandbox user in /workspace; returns (exit code, output).
Runner = Callable[[list[str], bytes | None, int], tuple[int | None, SplitOutput]]


class _Absent(FileToolError):
    """`exists` answered no."""


_KINDS: dict[str, FileKind] = {"f": "file", "d": "dir", "l": "symlink"}


def _call(
    run: Runner, op: str, path: str, *args: str, stdin: bytes | None = None, cap: int = 0
) -> SplitOutput:
    if not path:
        raise FileToolError("empty path")
    if "\0" in path:
        raise FileToolError("a path cannot contain a NUL byte")
    code, out = run(["bash", "-c", SCRIPT, "file-tool", op, path, *args], stdin, cap)
    if code != 0:
        _raise_for(code, out, op, path, args)
    return out


def _raise_for(
    code: int | None, out: SplitOutput, op: str, path: str, args: tuple[str, ...]
) -> None:
    detail = out.stderr.decode("utf-8", errors="replace").strip()
    if code == OUTSIDE:
        raise PathOutsideWorkspaceError(
            f"{path} resolves to {detail}, outside {WORKSPACE}: file tools only reach the workspace"
        )
    if code == TOO_LARGE:
        raise FileToolError(
            f"{path} is {detail} bytes, more than the {args[0]} bytes read_file returns: "
            "read a part of it with the shell (head -c, sed -n)"
        )
    messages = {
        MISSING: f"{path} does not exist",
        IS_DIR: f"{path} is a directory",
        NOT_REGULAR: f"{path} is not a regular file",
        NOT_DIR: f"{path} is not a directory",
    }
    if code == NO:
        raise _Absent(f"{path} does not exist")
    if code in messages:
        raise FileToolError(messages[code])
    if code is None:
        raise FileToolError(f"{op} {path} did not finish in time")
    raise FileToolError(f"{op} {path} failed (exit {code}){': ' + detail if detail else ''}")


def read_bytes(run: Runner, path: str, max_bytes: int) -> bytes:
    return bytes(_call(run, "read", path, str(max_bytes), cap=max_bytes).stdout)


def write_bytes(run: Runner, path: str, content: bytes) -> None:
    _call(run, "write", path, stdin=content)


def exists(run: Runner, path: str) -> bool:
    try:
        _call(run, "exists", path)
    except _Absent:
        return False
    return True


def list_entries(run: Runner, path: str, max_depth: int, limit: int) -> list[FileEntry]:
    out = _call(run, "list", path, str(max(max_depth, 1)), str(max(limit, 0)), cap=64 << 20)
    base = _relative(path)
    entries = []
    for record in bytes(out.stdout).split(b"\0"):
        if not record:
            continue
        kind, size, name = record.decode("utf-8", errors="replace").split("\t", 2)
        rel = name if base == "." else posixpath.join(base, name)
        entries.append(FileEntry(path=rel, kind=_KINDS.get(kind, "other"), size=int(size)))
    entries.sort(key=lambda entry: entry.path)
    return entries[:limit]


def _relative(path: str) -> str:
    """`path` relative to /workspace, lexically (the script already refused escapes)."""
    absolute = posixpath.normpath(posixpath.join(WORKSPACE, path))
    return posixpath.relpath(absolute, WORKSPACE)
