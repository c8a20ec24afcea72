"""The Docker sandbox driver: one container per stream, found again by label.

Every container is created locked down: no network unless asked, all
capabilities dropped, no-new-privileges, a non-root user, pids, memory (no
swap) and CPU limits, an init process that reaps zombies (running as
`nobody`, a different uid from the agent's commands), a bound on its disk,
and no host path or Docker socket mounted.

The disk bound is `--storage-opt size` where the storage driver supports it
(overlay2 on xfs with pquota); elsewhere (overlay2 on ext4, the common case)
the sandbox runs a watchdog on its writable layer during and after each
command (`Sandbox.exec`). No storage driver bounds the number of files (the
host's inodes): the watchdog counts them everywhere. A workspace is copied in (a tar streamed to `tar
-x` running as the sandbox user, so the files are the user's) unless the
user asks for a bind mount.

Names derive from the stream id: container `<prefix><stream lowercased>`,
checkpoint `<checkpoint_repo>:<stream lowercased>-<seq>`; the exact stream
id is kept in a label, which is what `find`, `list_checkpoints` and `gc`
select on. A failed create removes what it made: nothing is left behind.

Between the engine doing something (a container created, started, paused,
committed) and the caller recording it, the caller's process can die. The
driver names each such moment to a `hook` (the runtime's crash points) and
makes the next attempt safe: `create(replace=True)` first removes whatever a
dead attempt left under the stream's name and label, `restore` always does,
and a checkpoint committed again under the same tag replaces the old one.

With a `registry` (`host:port`, sandboxes/registry.py), every checkpoint is
pushed there once committed, and an image the engine lacks is pulled from
there before a container is made from it (`restore`, `create`, `export_path`
of an image): a stream's checkpoints can then be restored on any engine that
reaches the registry. Without one, they are only on the engine that made them.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

import docker
import docker.errors
import requests.exceptions

from sandboxes.archive import pack_folder
from sandboxes.engine import client_from_env, engine_errors, engine_message, remove_container
from sandboxes.errors import (
    EngineUnavailableError,
    FileToolError,
    ImageNotFoundError,
    SandboxError,
)
from sandboxes.housekeeping import Housekeeping
from sandboxes.registry import check_registry, pull
from sandboxes.sandbox import Sandbox
from sandboxes.spec import WORKSPACE, SandboxSpec

STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
FALLBACK_USER = "1000:1000"  # images whose USER is root still run as a non-root user
# The container's own processes (init, which reaps zombies, and its sleeping
# child) run as `nobody`, not as the agent: the agent's commands can then
# neither signal nor ptrace-stop them (a stopped init reaps nothing, and the
# zombies would eat the session's pids limit).
RUNTIME_USER = "65534:65534"
MAIN_COMMAND = ["sleep", "infinity"]  # with init=True: starts in milliseconds, reaps zombies

Hook = Callable[[str], None]  # told each engine step as it completes: "sandbox:created", …


def _no_hook(step: str) -> None:
    return None


class DockerSandboxDriver(Housekeeping):
    """Creates, finds, restores and garbage-collects sandboxes on one Docker engine."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        label_key: str = "agentctl.stream",
        name_prefix: str = "agentctl-",
        checkpoint_repo: str = "agentctl-checkpoint",
        hook: Hook | None = None,
        spill_dir: Path | None = None,
        registry: str | None = None,
    ) -> None:
        if registry is not None:
            try:
                check_registry(registry)
            except ValueError as exc:
                raise SandboxError(str(exc)) from None
        if client is None:
            try:
                client = client_from_env(timeout=300)
            except docker.errors.DockerException as exc:
                raise EngineUnavailableError(engine_message(exc)) from exc
        self.client = client
        self.api: Any = client.api
        self.label_key = label_key
        self.name_prefix = name_prefix
        self.checkpoint_repo = checkpoint_repo
        self.hook: Hook = hook or _no_hook
        self.spill_dir = spill_dir  # where whole outputs over the cap are spilled (None: tmp)
        self.registry = registry  # host:port: checkpoints pushed there, missing images pulled
        # Whether the engine's storage driver takes `--storage-opt size` (overlay2 on
        # xfs with pquota does; on ext4 it does not): learnt at the first create.
        self.storage_opt: bool | None = None

    # -- engine ---------------------------------------------------------------

    def ping(self) -> None:
        with self._engine("reach the Docker engine"):
            self.api.ping()

    def ensure_image(self, image: str) -> bool:
        """Make sure the engine has `image`, pulling it from the registry if it lacks it.

        True when it had to be pulled. Without a registry a missing image is
        left to the caller (which says how to build it); with one, an image the
        registry does not hold either is a RegistryError naming both.
        """
        if self.registry is None or self.has_image(image):
            return False
        pull(self.api, self.registry, image)
        return True

    # -- sandboxes ------------------------------------------------------------

    def create(self, stream: str, spec: SandboxSpec, *, replace: bool = False) -> Sandbox:
        """A new, started container for `stream` from `spec.image`, workspace copied in.

        `replace=True` first removes any container the stream already has: a
        caller that has no record of one (it died before recording it) knows
        that whatever is there was never used, and must not be refused by it.
        """
        name = self.container_name(stream)
        self.ensure_image(spec.image)
        user = self._image_user(spec.image)
        if replace:
            self.remove_stream(stream)
        sandbox = self._start(stream, name, spec.image, spec, user)
        if spec.workspace is not None and not spec.mount_workspace:
            try:
                if spec.workspace_archive is not None:
                    with open(spec.workspace_archive, "rb") as archive:
                        sandbox.put_archive(WORKSPACE, archive)
                else:
                    self._copy_workspace(sandbox, spec.workspace)
            except BaseException:
                sandbox.destroy()
                raise
        return sandbox

    def restore(self, stream: str, spec: SandboxSpec, checkpoint_image: str) -> Sandbox:
        """A new container for `stream` from a checkpoint image, replacing any it has.

        Used to fork (a new stream from another's checkpoint) and to recreate
        a container removed behind the runtime's back. The workspace is in
        the image already; only a bind mount (`mount_workspace`) is redone.
        """
        name = self.container_name(stream)
        self.ensure_image(checkpoint_image)  # another engine's checkpoint: from the registry
        user = self._image_user(checkpoint_image)
        self.remove_stream(stream)
        return self._start(stream, name, checkpoint_image, spec, user)

    def find(self, stream: str) -> Sandbox | None:
        """The container of `stream` (started again if it had stopped), or None."""
        self.container_name(stream)
        with self._engine(f"look up the sandbox of {stream}"):
            found = self.api.containers(all=True, filters={"label": f"{self.label_key}={stream}"})
        found = [c for c in found if c.get("Labels", {}).get(self.label_key) == stream]
        if not found:
            return None
        wanted = "/" + self.container_name(stream)
        found.sort(key=lambda c: (wanted not in c.get("Names", []), -int(c.get("Created", 0))))
        container = found[0]
        if container.get("State") in ("dead", "removing"):
            return None
        with self._engine(f"reattach to the sandbox of {stream}"):
            info = self.api.inspect_container(container["Id"])
            if info["State"]["Status"] in ("created", "exited"):
                self.api.start(container["Id"])
        return self._handle(stream, info)

    def streams(self) -> set[str]:
        """Every stream that has a container on this engine (any state)."""
        with self._engine("list sandbox containers"):
            containers = self.api.containers(all=True, filters={"label": self.label_key})
        return {
            owner
            for c in containers
            if (owner := (c.get("Labels") or {}).get(self.label_key)) is not None
        }

    def remove_stream(self, stream: str) -> None:
        """Remove the container(s) of `stream`; its checkpoints stay."""
        name = self.container_name(stream)
        with self._engine(f"list the containers of {stream}"):
            ids = {
                c["Id"]
                for c in self.api.containers(
                    all=True, filters={"label": f"{self.label_key}={stream}"}
                )
                if c.get("Labels", {}).get(self.label_key) == stream
            }
            with contextlib.suppress(docker.errors.NotFound):
                ids.add(self.api.inspect_container(name)["Id"])
        for container_id in ids:
            self._remove_container(container_id)

    # -- naming ---------------------------------------------------------------

    def container_name(self, stream: str) -> str:
        if not STREAM_ID.fullmatch(stream):
            raise SandboxError(
                f"invalid stream id {stream!r}: use letters, digits, '_' and '-' (at most 100)"
            )
        return f"{self.name_prefix}{stream.lower()}"

    # -- internals ------------------------------------------------------------

    def _engine(self, action: str) -> AbstractContextManager[None]:
        """Turn engine failures into the sandbox error family."""
        return engine_errors(action)

    def _remove_container(self, container_id: str) -> None:
        remove_container(self.api, container_id)

    def _image_user(self, image: str) -> str:
        try:
            info = self.api.inspect_image(image)
        except docker.errors.ImageNotFound as exc:
            raise ImageNotFoundError(
                f"image {image} is not in the Docker engine: build it (`agentctl sandbox build`) "
                "or pull it first"
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise EngineUnavailableError(engine_message(exc)) from exc
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot inspect image {image}: {exc.explanation}") from exc
        user = str((info.get("Config") or {}).get("User") or "")
        if user.split(":")[0] in ("", "root", "0"):
            return FALLBACK_USER
        return user

    def _start(self, stream: str, name: str, image: str, spec: SandboxSpec, user: str) -> Sandbox:
        binds = None
        if spec.mount_workspace:
            if spec.workspace is None:
                raise SandboxError("mount_workspace needs a workspace folder")
            mode = "ro" if spec.mount_read_only else "rw"
            binds = [f"{Path(spec.workspace).resolve()}:{WORKSPACE}:{mode}"]
        memory = spec.memory_mb * 1024 * 1024
        with self._engine(f"create the sandbox of {stream}"):
            engine_disk = spec.disk_mb is not None and self.storage_opt is not False
            try:
                created = self._create(stream, name, image, spec, user, binds, memory, engine_disk)
            except docker.errors.APIError as exc:
                if not (engine_disk and "storage-opt" in str(exc.explanation or exc)):
                    raise
                # This storage driver cannot bound a container's disk: the watchdog will.
                self.storage_opt = engine_disk = False
                created = self._create(stream, name, image, spec, user, binds, memory, False)
            if engine_disk:
                self.storage_opt = True
        container_id = str(created["Id"])
        self.hook("sandbox:created")
        try:
            with self._engine(f"start the sandbox of {stream}"):
                self.api.start(container_id)
        except BaseException:
            self._remove_container(container_id)
            raise
        self.hook("sandbox:started")
        return Sandbox(
            self.api,
            stream=stream,
            name=name,
            container_id=container_id,
            image=image,
            user=user,
            label_key=self.label_key,
            checkpoint_repo=self.checkpoint_repo,
            registry=self.registry,
            hook=self.hook,
            spill_dir=self.spill_dir,
            disk_watch_bytes=None if engine_disk or spec.disk_mb is None else spec.disk_mb << 20,
            file_watch_count=spec.files,
        )

    def _create(
        self,
        stream: str,
        name: str,
        image: str,
        spec: SandboxSpec,
        user: str,
        binds: list[str] | None,
        memory: int,
        engine_disk: bool,
    ) -> Any:
        host_config = self.api.create_host_config(
            network_mode=spec.network,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=spec.pids,
            mem_limit=memory,
            memswap_limit=memory,  # equal: no swap, so a memory bomb ends in the OOM killer
            nano_cpus=int(spec.cpus * 1e9),
            init=True,
            binds=binds,
            storage_opt={"size": f"{spec.disk_mb}M"} if engine_disk else None,
        )
        labels = {**spec.labels, self.label_key: stream, f"{self.label_key}.user": user}
        if spec.disk_mb is not None and not engine_disk:
            labels[f"{self.label_key}.disk_watch_mb"] = str(spec.disk_mb)
        if spec.files is not None:
            labels[f"{self.label_key}.file_watch_count"] = str(spec.files)
        try:
            return self.api.create_container(
                image,
                command=MAIN_COMMAND,
                name=name,
                user=RUNTIME_USER,  # commands run as `user`, by exec
                labels=labels,
                environment=dict(spec.env),
                working_dir=WORKSPACE,
                host_config=host_config,
                detach=True,
                tty=False,
                stdin_open=False,
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise SandboxError(
                    f"a sandbox named {name} already exists for stream {stream}: "
                    "find() it, or remove_stream() first"
                ) from exc
            raise

    def _handle(self, stream: str, info: dict[str, Any]) -> Sandbox:
        config = info.get("Config") or {}
        labels = config.get("Labels") or {}
        # the agent's user is a label: the container's own user is RUNTIME_USER
        user = labels.get(f"{self.label_key}.user") or config.get("User") or FALLBACK_USER
        watch = str(labels.get(f"{self.label_key}.disk_watch_mb") or "")
        files = str(labels.get(f"{self.label_key}.file_watch_count") or "")
        return Sandbox(
            self.api,
            stream=stream,
            name=str(info["Name"]).lstrip("/"),
            container_id=str(info["Id"]),
            image=str(config.get("Image") or info.get("Image")),
            user=str(user),
            label_key=self.label_key,
            checkpoint_repo=self.checkpoint_repo,
            registry=self.registry,
            hook=self.hook,
            spill_dir=self.spill_dir,
            disk_watch_bytes=int(watch) << 20 if watch.isdigit() else None,
            file_watch_count=int(files) if files.isdigit() else None,
        )

    def _copy_workspace(self, sandbox: Sandbox, folder: Path) -> None:
        """Stream `folder` as a tar into `tar -x` run by the sandbox user."""
        folder = Path(folder)
        if not folder.is_dir():
            raise SandboxError(f"workspace {folder} is not a folder")
        with tempfile.TemporaryFile(prefix="agentctl-workspace-") as archive:
            pack_folder(folder, archive)
            archive.seek(0)
            sandbox.put_archive(WORKSPACE, archive)

    # -- trees out ------------------------------------------------------------

    def export_path(
        self,
        dest: BinaryIO,
        *,
        stream: str | None = None,
        image: str | None = None,
        path: str = WORKSPACE,
        labels: dict[str, str] | None = None,
    ) -> None:
        """Write a tar of `path` to `dest`: from `stream`'s container, or from `image`.

        An image is read through a container created for it and never started
        (removed after); the tar's one top entry is the basename of `path`.
        """
        if (stream is None) == (image is None):
            raise SandboxError("export_path takes a stream or an image")
        if image is not None:
            self.ensure_image(image)
            with self._engine(f"read {path} from {image}"):
                try:
                    created = self.api.create_container(
                        image,
                        command=MAIN_COMMAND,
                        labels={**(labels or {}), f"{self.label_key}.export": "1"},
                        network_disabled=True,
                        host_config=self.api.create_host_config(network_mode="none"),
                    )
                except docker.errors.ImageNotFound as exc:
                    raise ImageNotFoundError(
                        f"image {image} is not in the Docker engine (removed by gc?)"
                    ) from exc
            container = str(created["Id"])
            try:
                self._archive_to(container, path, dest)
            finally:
                self._remove_container(container)
            return
        assert stream is not None
        self._archive_to(self.container_name(stream), path, dest)

    def has_container(self, stream: str) -> bool:
        """Whether the container named after `stream` exists (any state)."""
        with self._engine(f"look up the sandbox of {stream}"):
            try:
                self.api.inspect_container(self.container_name(stream))
            except docker.errors.NotFound:
                return False
        return True

    def _archive_to(self, container: str, path: str, dest: BinaryIO) -> None:
        path = posixpath.normpath(path)
        with self._engine(f"read {path} from the sandbox"):
            try:
                chunks, _stat = self.api.get_archive(container, path, chunk_size=1 << 20)
            except docker.errors.NotFound as exc:
                raise FileToolError(f"{path} does not exist in the sandbox") from exc
            for chunk in chunks:
                dest.write(chunk)
