"""What a file tool's call would change, as a unified diff, for a person asked to approve it.

A tool declares its preview (`Tool.preview`, agentctl.tools); the step machine
shows it in the approval's context and never lets a failure to make one block
the call (it says why there is none instead).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandboxes import Sandbox


class NoDiff(Exception):
    """The change cannot be shown (the message says why)."""


def file_diff(sandbox: Sandbox, path: str, change: Callable[[str], str]) -> str:
    """The diff of `path` in the sandbox against `change` applied to it ("" if it is new).

    Blocking (it reads the file in the sandbox)."""
    exists = sandbox.file_exists(path)
    before = sandbox.read_file(path) if exists else ""
    after = change(before)
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}" if exists else "/dev/null",
            tofile=f"b/{path}",
        )
    )


def replaced_once(before: str, old: str, new: str, path: str) -> str:
    """`before` with its one occurrence of `old` replaced (an edit_file's result)."""
    count = before.count(old)
    if count != 1:
        raise NoDiff(f"`old` occurs {count} times in {path}")
    return before.replace(old, new, 1)


__all__ = ["NoDiff", "file_diff", "replaced_once"]
