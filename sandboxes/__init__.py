"""Docker sandboxes: containers, commands, files, snapshots.

Generic on purpose: nothing here knows about agents, sessions or the event
log. `DockerSandboxDriver` makes locked-down containers keyed by a stream id,
`Sandbox` runs commands and confined file tools in one and checkpoints it
with `docker commit`, and `build_image` / `ensure_default_image` make the
default image from `images/default`, offline when no registry answers.

The names below are imported on first use (PEP 562): `from sandboxes import
SandboxError` loads the error family only, so a process that never touches an
engine (the daemon until a session needs a container, the CLI) does not load
the Docker SDK, which costs about a tenth of a second and 40 MB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandboxes.archive import pack_folder
    from sandboxes.build import build_image, ensure_default_image
    from sandboxes.driver import DockerSandboxDriver
    from sandboxes.errors import (
        EditError,
        EngineUnavailableError,
        FileToolError,
        ImageBuildError,
        ImageNotFoundError,
        PathOutsideWorkspaceError,
        RegistryError,
        SandboxError,
        SandboxGoneError,
    )
    from sandboxes.recipe import DEFAULT_RECIPE
    from sandboxes.sandbox import Sandbox
    from sandboxes.spec import Checkpoint, ExecResult, FileEntry, GcReport, SandboxSpec

_WHERE = {
    "DEFAULT_RECIPE": "sandboxes.recipe",
    "Checkpoint": "sandboxes.spec",
    "DockerSandboxDriver": "sandboxes.driver",
    "EditError": "sandboxes.errors",
    "EngineUnavailableError": "sandboxes.errors",
    "ExecResult": "sandboxes.spec",
    "FileEntry": "sandboxes.spec",
    "FileToolError": "sandboxes.errors",
    "GcReport": "sandboxes.spec",
    "ImageBuildError": "sandboxes.errors",
    "ImageNotFoundError": "sandboxes.errors",
    "PathOutsideWorkspaceError": "sandboxes.errors",
    "RegistryError": "sandboxes.errors",
    "Sandbox": "sandboxes.sandbox",
    "SandboxError": "sandboxes.errors",
    "SandboxGoneError": "sandboxes.errors",
    "SandboxSpec": "sandboxes.spec",
    "build_image": "sandboxes.build",
    "ensure_default_image": "sandboxes.build",
    "pack_folder": "sandboxes.archive",
}

__all__ = [
    "DEFAULT_RECIPE",
    "Checkpoint",
    "DockerSandboxDriver",
    "EditError",
    "EngineUnavailableError",
    "ExecResult",
    "FileEntry",
    "FileToolError",
    "GcReport",
    "ImageBuildError",
    "ImageNotFoundError",
    "PathOutsideWorkspaceError",
    "RegistryError",
    "Sandbox",
    "SandboxError",
    "SandboxGoneError",
    "SandboxSpec",
    "build_image",
    "ensure_default_image",
    "pack_folder",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sandboxes' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
