"""How a workspace diff looks to a person: in the CLI and in the TUI alike.

The patch is the agent's bytes: shown in a terminal, its control characters
(ESC, CR, BEL...) are made visible text, so a file cannot drive the terminal.
"""

from __future__ import annotations

import re

from rich.text import Text

from agentctl.protocol import WorkspaceDiff

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_HEADERS = (
    "diff --git",
    "new file",
    "deleted file",
    "old mode",
    "new mode",
    "rename ",
    "similarity",
    "index ",
    "+++",
    "---",
)


def visible(text: str) -> str:
    """Control characters (ESC, CR, BEL...) as `^[`-style text: safe for a terminal."""
    return _CONTROL.sub(
        lambda m: f"^{chr(ord(m.group()) ^ 0x40)}" if ord(m.group()) < 0x80 else "?", text
    )


def render_patch(diff: WorkspaceDiff) -> Text:
    text = Text()
    for change in diff.files:
        for line in change.patch.splitlines(keepends=True):
            shown = visible(line.rstrip("\n")) + "\n"
            if line.startswith(_HEADERS):
                text.append(shown, style="bold")
            elif line.startswith("@@"):
                text.append(shown, style="cyan")
            elif line.startswith("+"):
                text.append(shown, style="green")
            elif line.startswith("-"):
                text.append(shown, style="red")
            else:
                text.append(shown)
    return text


def render_stat(diff: WorkspaceDiff) -> Text:
    text = Text()
    width = max((len(visible(_name(f.path, f.old_path))) for f in diff.files), default=0)
    for f in diff.files:
        name = visible(_name(f.path, f.old_path))
        counts = "Bin " if f.binary else f"{f.additions + f.deletions:>4} "
        text.append(f" {name:<{width}} | {counts}")
        text.append("+" * min(f.additions, 40), style="green")
        text.append("-" * min(f.deletions, 40), style="red")
        note: str = f.status
        if f.status == "modified" and f.old_mode != f.new_mode:
            note += f", mode {f.old_mode} => {f.new_mode}"
        text.append(f" ({note})\n", style="dim")
    text.append(
        f" {len(diff.files)} file{'s' if len(diff.files) != 1 else ''} changed, "
        f"{diff.additions} insertions(+), {diff.deletions} deletions(-)\n"
    )
    return text


def _name(path: str, old: str | None) -> str:
    return f"{old} => {path}" if old else path
