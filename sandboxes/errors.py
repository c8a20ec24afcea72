"""One exception family for the sandbox layer.

Every error carries a message a person can act on; callers (the runtime, the
CLI) show `str(exc)` and never a traceback. Errors of the file tools are
meant to be fed back to the model as a tool result, so they read as plain
sentences about the path.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every error raised by `sandboxes`."""


class EngineUnavailableError(SandboxError):
    """The Docker engine does not answer (not running, wrong DOCKER_HOST, no permission)."""


class ImageNotFoundError(SandboxError):
    """The image a sandbox should start from is not in the engine."""


class ImageBuildError(SandboxError):
    """Building an image from a recipe failed."""


class FileToolError(SandboxError):
    """A file tool could not do what was asked (missing file, a directory, too large...)."""


class PathOutsideWorkspaceError(FileToolError):
    """A path resolves (through `..`, an absolute path or a symlink) outside /workspace."""


class EditError(FileToolError):
    """`edit_file` found the text to replace zero times, or more than once."""


class SandboxGoneError(SandboxError):
    """The sandbox's container no longer exists (removed behind the runtime's back)."""


class RegistryError(SandboxError):
    """A push to or a pull from the image registry failed (down, refused, image not there)."""
