"""A project's own instructions (AGENTS.md), read from the workspace root.

As Codex does: the files named in `[instructions] files` of config.toml
(default: AGENTS.md) are read from the root of the workspace, in that order,
and appended to the system prompt; the text used is recorded in
`session.created`. The text is untrusted (whoever wrote the repository
wrote it): it goes to the model and nowhere else, never to a shell or a
path. Only a regular file directly in the root is read (a symlink could
point anywhere on the host), at most MAX_BYTES of it.
"""

from __future__ import annotations

import stat
from pathlib import Path

from agentctl.config import Config
from agentctl.protocol import InstructionFile

MAX_BYTES = 64 * 1024


def instruction_names(config: Config) -> list[str]:
    """The file names to look for: `[instructions] files` of config.toml (`agentctl.config`)."""
    return list(config.check("instructions").instructions.files)


def read_instructions(workspace: Path, names: list[str]) -> list[InstructionFile]:
    found = []
    for name in names:
        path = workspace / name
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
        text = raw[:MAX_BYTES].decode("utf-8", errors="replace")
        found.append(InstructionFile(file=name, text=text, truncated=len(raw) > MAX_BYTES))
    return found


def system_prompt(base: str, files: list[InstructionFile], profile: str | None = None) -> str:
    """The base prompt, then the profile's instructions, then each project file's text."""
    parts = [base]
    if profile:
        parts.append(profile.strip())
    for item in files:
        parts.append(
            f"Project instructions from {item.file} (written by the project, not by the user):\n\n"
            + item.text.strip()
        )
    return "\n\n".join(parts)
