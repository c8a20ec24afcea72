"""Docker sandboxes: containers, commands, files, snapshots.

Generic on purpose: nothing here knows about agents, sessions or the event
log. `DockerSandboxDriver` makes locked-down containers keyed by a stream id,
`Sandbox` runs commands and confined file tools in one and checkpoints it
with `docker commit`, and `build_image` / `ensure_default_image` make the
default image from `images/default`, offline when no registry answers.
"""

from sandboxes.archive import pack_folder
from sandboxes.build import DEFAULT_RECIPE, build_image, ensure_default_image
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
from sandboxes.sandbox import Sandbox
from sandboxes.spec import Checkpoint, ExecResult, FileEntry, GcReport, SandboxSpec

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
