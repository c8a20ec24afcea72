"""The values the sandbox layer takes and returns: plain frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

WORKSPACE = "/workspace"

FileKind = Literal["file", "dir", "symlink", "other"]


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox is made of: its image, its limits, its workspace.

    `workspace` is a host folder copied into /workspace when the sandbox is
    created (owned by the sandbox user); with `mount_workspace=True` it is
    bind-mounted instead, which the user must ask for: the agent then writes
    to the host folder directly (a `.git/hooks/` script it plants runs on the
    host at the user's next commit), unless `mount_read_only`.
    """

    image: str
    network: str = "none"  # "none" | "bridge"
    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 256
    disk_mb: int | None = 2048  # the container's writable layer (see DockerSandboxDriver)
    files: int | None = 500_000  # how many files that layer may hold (its inodes on the host)
    workspace: Path | None = None
    mount_workspace: bool = False
    # A tar of `workspace` made earlier (`pack_folder`): copied in instead of the
    # folder, so a sandbox made again later gets the same files as the first.
    workspace_archive: Path | None = None
    mount_read_only: bool = False  # the bind mount is read-only: the host folder cannot change
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one command.

    `output` is stdout and stderr interleaved as the command wrote them,
    decoded as UTF-8 (errors replaced) and capped at `output_cap` bytes: when
    it is `truncated`, it keeps the head and the tail and `full_output` is a
    temp file on the host with the whole output, which the caller owns (moves
    to its artifacts or deletes).
    """

    exit_code: int | None  # None when the command was killed by its timeout
    output: str
    truncated: bool
    full_output: Path | None
    timed_out: bool
    duration_ms: float
    oom_killed: bool = False
    disk_exceeded: bool = False  # stopped (or found) over the sandbox's disk or file limit


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to /workspace
    kind: FileKind
    size: int


@dataclass(frozen=True)
class Checkpoint:
    image: str  # full "repo:tag"
    stream: str
    seq: int
    created: datetime
    size: int


@dataclass(frozen=True)
class GcReport:
    removed: list[str]
    freed_bytes: int
