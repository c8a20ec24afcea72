"""Untrusted text made safe to show on a terminal.

Model replies, tool output, file contents in a diff, a workspace's file
names: any of it may carry terminal control sequences (CSI to move the
cursor or clear the screen, OSC 0 to set the window title, OSC 52 to write
the clipboard, the alternate screen) or characters that change how the line
reads (carriage return, backspace, bidirectional overrides). Printed raw,
they let a model show an approver `ls -la` while the real command is
`curl … | sh`.

So every place that renders such text (the CLI's timeline, `approvals`, the
inline prompt, the TUI) passes it through here first. Each unsafe character
becomes a visible escape (`\\x1b`, `\\u202e`): nothing is dropped, so what a
person reads is what was sent. `exact` is for the arguments a person
approves: JSON, so quotes, backslashes and newlines are unambiguous, with
the characters JSON leaves raw escaped too.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls but tab and newline; DEL and the C1 controls (0x9b is a one-byte
# CSI); zero-width and bidirectional formatting; line/paragraph separators.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
# The same where a newline or a tab would break the layout (a table cell, one line).
_UNSAFE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape_json(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"  # still valid JSON


def clean(text: str) -> str:
    """`text` with every control or formatting character shown as an escape (\\n and \\t kept)."""
    return _UNSAFE.sub(_escape, text)


def clean_line(text: str) -> str:
    """`clean`, and newlines and tabs escaped too: for one line or one cell."""
    return _UNSAFE_LINE.sub(_escape, text)


def clean_data(value: Any) -> Any:
    """Every string in a JSON-like value (keys too) passed through `clean`."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v) for v in value]
    return value


def exact(value: Any, *, indent: int | None = None) -> str:
    """`value` as JSON a person can check character by character: nothing hidden, nothing cut."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _UNSAFE.sub(_escape_json, text)


__all__ = ["clean", "clean_data", "clean_line", "exact"]
