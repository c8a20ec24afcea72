"""The driver's housekeeping: checkpoint images listed and removed, and `gc`.

A part of `DockerSandboxDriver` (its base class), apart because it works on
what sandboxes leave behind rather than on sandboxes.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import docker.errors
import requests.exceptions

from sandboxes.engine import engine_message
from sandboxes.errors import EngineUnavailableError, SandboxError
from sandboxes.spec import Checkpoint, GcReport

_LIVE_STATES = {"running", "paused", "restarting"}


class Housekeeping:
    """Checkpoints and garbage collection, on the engine the driver talks to."""

    api: Any
    label_key: str
    checkpoint_repo: str

    def _engine(self, action: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _remove_container(self, container_id: str) -> None:
        raise NotImplementedError

    def list_checkpoints(self, stream: str | None = None) -> list[Checkpoint]:
        labels = [f"{self.label_key}.seq"]
        if stream is not None:
            labels.append(f"{self.label_key}={stream}")
        with self._engine("list checkpoints"):
            images = self.api.images(name=self.checkpoint_repo, filters={"label": labels})
        checkpoints = []
        for image in images:
            image_labels = image.get("Labels") or {}
            owner = image_labels.get(self.label_key)
            seq = image_labels.get(f"{self.label_key}.seq", "")
            if owner is None or not seq.isdigit() or (stream is not None and owner != stream):
                continue
            for ref in image.get("RepoTags") or []:
                if ref.startswith(self.checkpoint_repo + ":"):
                    checkpoints.append(
                        Checkpoint(
                            image=ref,
                            stream=owner,
                            seq=int(seq),
                            created=datetime.fromtimestamp(int(image.get("Created", 0)), UTC),
                            size=int(image.get("Size") or 0),
                        )
                    )
        checkpoints.sort(key=lambda cp: (cp.stream, cp.seq, cp.image))
        return checkpoints

    def has_image(self, ref: str) -> bool:
        """Whether the engine has an image (a tag or an id)."""
        with self._engine("inspect an image"):
            try:
                self.api.inspect_image(ref)
            except docker.errors.ImageNotFound:
                return False
        return True

    def image_id(self, ref: str) -> str | None:
        """The image's content id (`sha256:…`), or None when the engine lacks it."""
        with self._engine("inspect an image"):
            try:
                return str(self.api.inspect_image(ref)["Id"])
            except docker.errors.ImageNotFound:
                return None

    def gc(self, keep_streams: Collection[str], older_than: timedelta | None = None) -> GcReport:
        """Remove stopped containers and checkpoint images of streams not in `keep_streams`.

        Every stream on the engine that is not kept is swept, including other
        data directories' sessions: on a shared engine, prefer
        `remove_checkpoints` with the checkpoints of the streams you own.

        Running or paused containers are left alone (use `remove_stream`), as
        is an image a container still uses. `freed_bytes` is an estimate: the
        size each deleted image added over its parent.
        """
        keep = set(keep_streams)
        cutoff = datetime.now(UTC) - older_than if older_than is not None else None
        removed: list[str] = []
        with self._engine("list sandbox containers"):
            containers = self.api.containers(all=True, filters={"label": self.label_key})
        for container in containers:
            owner = (container.get("Labels") or {}).get(self.label_key)
            if owner in keep or container.get("State") in _LIVE_STATES:
                continue
            if cutoff is not None and int(container.get("Created", 0)) > cutoff.timestamp():
                continue
            self._remove_container(container["Id"])
            removed.append((container.get("Names") or [container["Id"]])[0].lstrip("/"))
        doomed = [
            cp
            for cp in self.list_checkpoints()
            if cp.stream not in keep and (cutoff is None or cp.created < cutoff)
        ]
        images = self.remove_checkpoints(doomed)
        return GcReport(removed=removed + images.removed, freed_bytes=images.freed_bytes)

    def remove_checkpoints(self, checkpoints: Collection[Checkpoint]) -> GcReport:
        """Remove exactly these checkpoint images; one a container still uses is skipped.

        `freed_bytes` is an estimate: the size each deleted image added over its parent.
        """
        removed: list[str] = []
        freed = 0
        # Newest first: a checkpoint restored and committed again is a child of an older one.
        for cp in sorted(checkpoints, key=lambda cp: cp.created, reverse=True):
            gained = self._own_size(cp.image)
            try:
                result = self.api.remove_image(cp.image)
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:
                if exc.status_code == 409:  # a container still uses it
                    continue
                raise SandboxError(
                    f"cannot remove checkpoint {cp.image}: {exc.explanation}"
                ) from exc
            except requests.exceptions.ConnectionError as exc:
                raise EngineUnavailableError(engine_message(exc)) from exc
            removed.append(cp.image)
            if any("Deleted" in entry for entry in result or []):
                freed += gained
        return GcReport(removed=removed, freed_bytes=freed)

    def _own_size(self, image: str) -> int:
        """Bytes `image` adds over its parent (0 when unknown)."""
        try:
            info = self.api.inspect_image(image)
            size = int(info.get("Size") or 0)
            parent = info.get("Parent")
            parent_size = int(self.api.inspect_image(parent).get("Size") or 0) if parent else 0
        except docker.errors.DockerException:
            return 0
        return max(size - parent_size, 0)
