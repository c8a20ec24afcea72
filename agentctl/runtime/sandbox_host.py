"""The runtime's side of sandboxes: which container a session has, and making sure it is there.

A session's container is found again by label after a restart; a container
removed behind the runtime's back is recreated from the session's latest
checkpoint, and a `sandbox.restored` event says so (docs/design.md §5); with
`[sandbox] registry` that checkpoint may have been made on another worker's
engine, and the driver pulls it (docs/scale.md). A container
is always made with `replace=True`: when the log names none, whatever carries
the session's name is a leftover of a daemon that died before recording it.
All Docker calls are blocking, so they run in threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agentctl.errors import (
    AgentctlError,
    ConflictError,
    SandboxUnavailableError,
    UsageError,
)
from agentctl.protocol import SandboxConfig, SandboxCreated, SandboxRestored
from agentctl.runtime.journal import Journal
from agentctl.state import SessionState
from sandboxes import (
    EngineUnavailableError,
    FileToolError,
    ImageNotFoundError,
    RegistryError,
    SandboxError,
    SandboxGoneError,
    SandboxSpec,
)

if TYPE_CHECKING:
    from sandboxes import DockerSandboxDriver, Sandbox

log = logging.getLogger(__name__)


def as_agentctl_error(exc: SandboxError) -> AgentctlError:
    """The sandbox layer's error as one of agentctl's, with what to do about it.

    The layer is generic and raises its own family; this is where the runtime
    says which of them is the caller's to fix (a file, an image it named) and
    which is the machine's (the engine, a build): those are 503s that point
    at `agentctl doctor`.
    """
    message = str(exc)
    if isinstance(exc, FileToolError):
        return UsageError(message)
    if isinstance(exc, ImageNotFoundError):
        return ConflictError(message, hint="`agentctl sandbox build` builds the default image")
    if isinstance(exc, SandboxGoneError):
        return ConflictError(message, hint="`agentctl resume` makes it again from a checkpoint")
    if isinstance(exc, RegistryError):
        return SandboxUnavailableError(
            message,
            hint="is the registry of `[sandbox] registry` running and reachable from the "
            "engine? `agentctl resume` retries (docs/scale.md)",
        )
    if isinstance(exc, EngineUnavailableError):
        return SandboxUnavailableError(message, hint="is dockerd running? `agentctl doctor` checks")
    return SandboxUnavailableError(message)


def extra_labels() -> dict[str, str]:
    """`AGENTCTL_SANDBOX_LABELS=k=v,k2=v2`: labels on every container (and so on its
    checkpoints), e.g. to find and clean up what one CI run created."""
    pairs = (p.partition("=") for p in os.environ.get("AGENTCTL_SANDBOX_LABELS", "").split(","))
    return {k.strip(): v.strip() for k, sep, v in pairs if sep and k.strip()}


def spec_of(config: SandboxConfig, image: str | None = None) -> SandboxSpec:
    assert config.image is not None
    return SandboxSpec(
        labels=extra_labels(),
        image=image or config.image,
        network=config.network,
        memory_mb=config.limits.memory_mb,
        cpus=config.limits.cpus,
        pids=config.limits.pids,
        disk_mb=config.limits.disk_mb,
        files=config.limits.files,
        workspace=Path(config.workspace) if config.workspace else None,
        mount_workspace=config.mount_workspace,
        workspace_archive=Path(config.workspace_archive) if config.workspace_archive else None,
        mount_read_only=config.mount_read_only,
    )


class SandboxHost:
    def __init__(
        self,
        journal: Journal,
        driver: DockerSandboxDriver | None,
        *,
        hook: Callable[[str], None] | None = None,
        spill_dir: Path | None = None,
        registry: str | None = None,
    ) -> None:
        self.journal = journal
        self.registry = registry  # `[sandbox] registry`: checkpoints pushed, missing ones pulled
        self.driver = driver
        self.hook = hook  # told each engine step (the crash points)
        self.spill_dir = spill_dir
        self.live: dict[str, Sandbox] = {}
        self.paused: set[str] = set()  # the ones this process paused (waiting for a person)
        if driver is not None:
            self._configure(driver)

    def _configure(self, driver: DockerSandboxDriver) -> None:
        if self.hook is not None:
            driver.hook = self.hook
        if self.spill_dir is not None:
            driver.spill_dir = self.spill_dir
        if self.registry is not None:
            driver.registry = self.registry

    def engine(self) -> DockerSandboxDriver:
        """The driver, connected on first use."""
        if self.driver is None:
            from sandboxes import DockerSandboxDriver  # the Docker SDK, when a session needs it

            self.driver = DockerSandboxDriver(registry=self.registry)
            self._configure(self.driver)
        return self.driver

    async def ensure(self, state: SessionState) -> Sandbox | None:
        """The session's running container, created or restored as needed. Caller holds the lock."""
        config = SandboxConfig.model_validate(state.created["sandbox"])
        if config.image is None:
            return None
        sid = state.session_id
        sandbox = self.live.get(sid)
        driver = self.engine()
        if sandbox is None and state.container is not None:
            sandbox = await asyncio.to_thread(driver.find, sid)
            if sandbox is not None and sandbox.name != state.container:
                # Not the container the log names (a fork's log names its parent's until
                # `sandbox.restored`): one a daemon made and died before recording. It
                # may lack its workspace, so it is replaced, not adopted.
                sandbox = None
            self.paused.discard(sid)  # what we knew was of a container handle we no longer have
            if sandbox is not None and await asyncio.to_thread(sandbox.status) == "paused":
                self.paused.add(sid)  # paused by the daemon before a restart
            if sandbox is None:
                checkpoint = state.latest_checkpoint
                if checkpoint is not None and checkpoint.image:
                    image = checkpoint.image
                    sandbox = await asyncio.to_thread(driver.restore, sid, spec_of(config), image)
                else:  # nothing was checkpointed: start over from the image and the workspace
                    image = config.image
                    sandbox = await asyncio.to_thread(
                        driver.create, sid, spec_of(config), replace=True
                    )
                self.journal.submit(sid, [SandboxRestored(container=sandbox.name, image=image)])
        if sandbox is None:
            self.paused.discard(sid)
            sandbox = await asyncio.to_thread(driver.create, sid, spec_of(config), replace=True)
            self.journal.submit(sid, [SandboxCreated(container=sandbox.name, image=config.image)])
        self.live[sid] = sandbox
        if sid in self.paused:  # no engine round trip on the hot path: we know who we paused
            await asyncio.to_thread(sandbox.unpause)
            self.paused.discard(sid)
        return sandbox

    async def has_image(self, image: str) -> bool:
        return await asyncio.to_thread(self.engine().has_image, image)

    async def create(self, session_id: str, config: SandboxConfig) -> Sandbox:
        """A new container from the session's image, with its workspace copied in."""
        sandbox = await asyncio.to_thread(
            self.engine().create, session_id, spec_of(config), replace=True
        )
        self.live[session_id] = sandbox
        return sandbox

    async def start_from(self, session_id: str, config: SandboxConfig, image: str) -> Sandbox:
        """A new container for a fork, from a checkpoint image."""
        sandbox = await asyncio.to_thread(self.engine().restore, session_id, spec_of(config), image)
        self.live[session_id] = sandbox
        return sandbox

    async def pause(self, session_id: str) -> None:
        sandbox = self.live.get(session_id)
        if sandbox is None:
            return
        try:
            await asyncio.to_thread(sandbox.pause)
            self.paused.add(session_id)
        except Exception as exc:  # a container gone or already paused must not fail the session
            log.warning("could not pause the sandbox of %s: %s", session_id, exc)

    async def hold(self, state: SessionState) -> None:
        """On start: the container of a session waiting for a person is paused (a daemon
        killed between `waiting` and `docker pause` left it running)."""
        sid = state.session_id
        if state.container is None or sid in self.live:
            return
        try:
            sandbox = await asyncio.to_thread(self.engine().find, sid)
            if sandbox is None or sandbox.name != state.container:
                return  # none, or not the log's: the next step replaces it
            if await asyncio.to_thread(sandbox.status) != "paused":
                await asyncio.to_thread(sandbox.pause)
        except Exception as exc:  # the engine may be down: the step unpauses what it finds
            log.warning("could not pause the sandbox of %s: %s", sid, exc)
            return
        self.live[sid] = sandbox
        self.paused.add(sid)

    async def release(self, session_id: str) -> None:
        """An ended session's container goes; its checkpoints stay for forks."""
        sandbox = self.live.pop(session_id, None)
        self.paused.discard(session_id)
        if sandbox is None and self.driver is not None:
            sandbox = await asyncio.to_thread(self.driver.find, session_id)
        if sandbox is not None:
            try:
                await asyncio.to_thread(sandbox.destroy)
            except Exception as exc:
                log.warning("could not remove the sandbox of %s: %s", session_id, exc)
