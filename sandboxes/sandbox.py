"""A handle to one sandbox container: commands, files, pause, checkpoints.

The handle holds no state the engine does not have: a daemon that restarts
finds the container again by its label (`DockerSandboxDriver.find`) and
gets an equivalent handle.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import docker.errors
import requests.exceptions

from sandboxes import files
from sandboxes.disk import DiskWatchdog, walk_layer
from sandboxes.errors import EditError, EngineUnavailableError, SandboxError, SandboxGoneError
from sandboxes.execution import DEFAULT_KEEP_CAP, HOST_GRACE_S, CappedOutput, SplitOutput, run
from sandboxes.registry import push as push_image
from sandboxes.spec import WORKSPACE, Checkpoint, ExecResult, FileEntry

FILE_TOOL_DEADLINE_S = 120.0
# The command runs under `timeout` (its own process group, KILLed at the
# deadline); when it ends, whatever it left running in that group (a
# backgrounded fork bomb, a forgotten server) is killed too, so every call
# leaves the container as it found it. A process meant to outlive the call
# must leave the group: `setsid nohup server >log 2>&1 &`.
_RUNNER = 'timeout -s KILL "$1" bash -c "$2" & p=$!; wait $p 2>/dev/null; r=$?; kill -9 -$p 2>/dev/null; exit $r'
_UNPACK = (
    'mkdir -p -- "$1" && exec tar -x --no-same-owner -C "$1" -f -'  # the folder is an argument
)
OOM_MESSAGE = "[killed: out of memory]"
_OOM_PROBE = "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null"


class Sandbox:
    """One container. Every method talks to the engine; none caches its state."""

    def __init__(
        self,
        api: Any,
        *,
        stream: str,
        name: str,
        container_id: str,
        image: str,
        user: str,
        label_key: str,
        checkpoint_repo: str,
        registry: str | None = None,
        hook: Callable[[str], None] | None = None,
        spill_dir: Path | None = None,
        disk_watch_bytes: int | None = None,
        file_watch_count: int | None = None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.container_id = container_id
        self.image = image
        self.user = user
        self._api = api
        self._label_key = label_key
        self._checkpoint_repo = checkpoint_repo
        self.registry = registry  # host:port: each checkpoint is pushed there after commit
        self._hook = hook or (lambda step: None)
        self.spill_dir = spill_dir
        self._oom_kills: int | None = None  # last oom_kill count seen, for the next OOM verdict
        # The disk bound the engine cannot enforce: the writable layer's size is watched.
        self.disk_watch_bytes = disk_watch_bytes
        self._layer_bytes: int | None = None  # its size after the last command
        # The bound on its number of files (inodes), which no storage driver sets.
        self.file_watch_count = file_watch_count
        self._layer_files: int | None = None  # its file count after the last command
        self._upper_dir: str | None = None  # the writable layer's folder, when the host sees it
        self._upper_dir_known = False

    def __repr__(self) -> str:
        return f"Sandbox(stream={self.stream!r}, name={self.name!r}, image={self.image!r})"

    # -- commands ---------------------------------------------------------

    def exec(
        self,
        command: str,
        *,
        timeout_s: float = 120.0,
        output_cap: int = 64_000,
        env: Mapping[str, str] | None = None,
        workdir: str = WORKSPACE,
        keep_cap: int | None = DEFAULT_KEEP_CAP,
    ) -> ExecResult:
        """Run `command` with bash as the sandbox user in `workdir`, killed after `timeout_s`.

        Processes the command leaves behind in its process group are killed
        when it ends (see _RUNNER). Of a truncated output, at most `keep_cap`
        bytes are kept in `full_output`. With a disk watch, a command that
        takes the writable layer past the limit (in bytes or in files) is
        killed (`disk.DiskWatchdog`).
        """
        argv = ["bash", "-c", _RUNNER, "exec", f"{max(timeout_s, 0.001):g}", command]
        sink = CappedOutput(output_cap, keep_cap=keep_cap, spill_dir=self.spill_dir)
        watched = self.disk_watch_bytes is not None or self.file_watch_count is not None
        watchdog = DiskWatchdog(self) if watched else None
        try:
            raw = run(
                self._api,
                self.container_id,
                argv,
                sink,
                user=self.user,
                workdir=workdir,
                env=dict(env) if env else None,
                deadline_s=timeout_s + HOST_GRACE_S,
            )
        except BaseException:
            sink.discard()
            raise
        finally:
            if watchdog is not None:
                watchdog.stop()
        output, truncated, full = sink.finish()
        disk = watchdog.verdict() if watchdog is not None else None
        if disk is not None:
            output += f"\n{disk}"
        code = raw.exit_code
        timed_out = raw.stream_timed_out or (code == 137 and raw.duration_ms >= timeout_s * 1000)
        oom = code == 137 and not timed_out and self._was_oom_killed()
        if timed_out:
            code = None
            output += f"\n[timed out after {timeout_s:g} s: killed]"
        elif oom:
            output += f"\n{OOM_MESSAGE}"
        return ExecResult(
            exit_code=code,
            output=output,
            truncated=truncated,
            full_output=full,
            timed_out=timed_out,
            duration_ms=raw.duration_ms,
            oom_killed=oom,
            disk_exceeded=disk is not None,
        )

    def stdio_argv(
        self, argv: list[str], *, env_names: Iterable[str] = (), workdir: str = WORKSPACE
    ) -> list[str]:
        """A host command line whose stdin and stdout are those of `argv` run in the sandbox.

        For a long-lived program spoken to over its standard streams (an MCP server):
        `docker exec -i` as the sandbox user, so it has the sandbox's limits, network
        and files, and nothing of the host. The engine's client keeps the streams,
        so the caller can use an ordinary subprocess. Values are passed as separate
        arguments, never through a shell; environment variables by name only (`--env K`
        takes K's value from the client's own environment), so no value shows in `ps`.
        """
        cmd = ["docker", "exec", "-i", "--user", self.user, "--workdir", workdir]
        for key in env_names:
            cmd += ["--env", key]
        return [*cmd, self.container_id, *argv]

    def layer_bytes(self) -> int:
        """The size of the container's writable layer (what it added to its image)."""
        return self.layer_usage(files=False)[0]

    def layer_files(self) -> int:
        """How many entries (files, folders, links, whiteouts) the writable layer holds."""
        return self.layer_usage(size=False)[1]

    def layer_usage(self, *, size: bool = True, files: bool = True) -> tuple[int, int]:
        """(bytes, entries) of the writable layer; 0 for what is not asked.

        Where the daemon sees the engine's files (a local engine, the daemon
        as root) the layer's folder is walked once for both, as the engine
        itself sizes it (files' sizes, a hard link once): ~0.1 ms for a small
        layer, ~0.5 s for 200,000 entries. Elsewhere the engine is asked: its
        size (`SizeRw`, an inspect that walks the layer, ~3 ms for a small
        one) and its changes (`docker diff`, ~5 s for 200,000 entries).
        """
        upper = self._upper()
        if upper is not None:
            try:
                return walk_layer(upper)
            except OSError:
                self._upper_dir = None  # not (or no longer) readable: ask the engine
        return (self._engine_size() if size else 0, self._engine_entries() if files else 0)

    def _engine_size(self) -> int:
        api = self._api
        try:
            info = api._result(
                api._get(api._url("/containers/{0}/json", self.container_id), params={"size": 1}),
                True,
            )
        except docker.errors.NotFound as exc:
            raise SandboxGoneError(f"sandbox {self.name}: its container is gone") from exc
        except docker.errors.DockerException as exc:
            raise SandboxError(
                f"cannot measure the disk use of sandbox {self.name}: {exc}"
            ) from exc
        return int(info.get("SizeRw") or 0)

    def _engine_entries(self) -> int:
        api = self._api
        try:
            changes = api._result(
                api._get(api._url("/containers/{0}/changes", self.container_id)), True
            )
        except docker.errors.NotFound as exc:
            raise SandboxGoneError(f"sandbox {self.name}: its container is gone") from exc
        except docker.errors.DockerException as exc:
            raise SandboxError(f"cannot count the files of sandbox {self.name}: {exc}") from exc
        return len(changes or [])

    def _upper(self) -> str | None:
        if not self._upper_dir_known:
            self._upper_dir_known = True
            try:
                info = self._api.inspect_container(self.container_id)
            except docker.errors.DockerException:
                return None
            data = (info.get("GraphDriver") or {}).get("Data") or {}
            upper = str(data.get("UpperDir") or "")
            if upper and os.access(upper, os.R_OK | os.X_OK):
                self._upper_dir = upper
        return self._upper_dir

    def _kill_agent_processes(self) -> None:
        """Every process of the agent's user (init is another user's and survives)."""
        run(
            self._api,
            self.container_id,
            ["bash", "-c", "kill -KILL -1"],
            SplitOutput(0),
            user=self.user,
            workdir="/",
            deadline_s=10.0,
        )

    def _was_oom_killed(self) -> bool:
        """Best effort: did the container's memory cgroup kill something since we last looked?"""
        out = SplitOutput(4096)
        try:
            run(
                self._api,
                self.container_id,
                ["sh", "-c", _OOM_PROBE],
                out,
                user=self.user,
                workdir="/",
                deadline_s=10.0,
            )
        except SandboxError:
            return self._inspect_oom_killed()
        kills = None
        for line in out.stdout.decode(errors="replace").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                kills = int(value)
        if kills is None:
            return self._inspect_oom_killed()
        seen, self._oom_kills = self._oom_kills, kills
        return kills > (seen or 0)

    def _inspect_oom_killed(self) -> bool:
        try:
            return bool(self._api.inspect_container(self.container_id)["State"]["OOMKilled"])
        except docker.errors.DockerException:
            return False

    def _run_tool(
        self, argv: list[str], stdin: bytes | None, cap: int
    ) -> tuple[int | None, SplitOutput]:
        out = SplitOutput(cap)
        raw = run(
            self._api,
            self.container_id,
            argv,
            out,
            user=self.user,
            workdir=WORKSPACE,
            stdin=stdin,
            deadline_s=FILE_TOOL_DEADLINE_S,
        )
        return raw.exit_code, out

    # -- files (confined to /workspace) -------------------------------------

    def read_file(self, path: str, max_bytes: int = 1_000_000) -> str:
        return files.read_bytes(self._run_tool, path, max_bytes).decode("utf-8", errors="replace")

    def write_file(self, path: str, content: str) -> None:
        files.write_bytes(self._run_tool, path, content.encode("utf-8", errors="surrogateescape"))

    def edit_file(self, path: str, old: str, new: str) -> str:
        """Replace the one occurrence of `old` with `new`; return the new content."""
        if not old:
            raise EditError("the text to replace is empty: give the exact text to replace")
        raw = files.read_bytes(self._run_tool, path, 16 * 1_000_000)
        text = raw.decode("utf-8", errors="surrogateescape")
        count = text.count(old)
        if count == 0:
            raise EditError(f"the text to replace was not found in {path}: it must match exactly")
        if count > 1:
            raise EditError(
                f"the text to replace occurs {count} times in {path}: "
                "include more surrounding lines so it matches exactly once"
            )
        updated = text.replace(old, new, 1)
        self.write_file(path, updated)
        return updated.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")

    def file_exists(self, path: str) -> bool:
        return files.exists(self._run_tool, path)

    def list_files(self, path: str = ".", max_depth: int = 3, limit: int = 1000) -> list[FileEntry]:
        return files.list_entries(self._run_tool, path, max_depth, limit)

    def put_archive(self, folder: str, archive: BinaryIO) -> None:
        """Unpack a tar into `folder` with `tar -x` run as the sandbox user (its files, its rights)."""
        out = SplitOutput(64_000)
        raw = run(
            self._api,
            self.container_id,
            ["sh", "-c", _UNPACK, "unpack", folder],
            out,
            user=self.user,
            workdir=WORKSPACE,
            stdin=archive,
            deadline_s=600.0,
        )
        if raw.exit_code != 0:
            detail = out.stderr.decode(errors="replace").strip()
            raise SandboxError(f"unpacking into {folder} in the sandbox failed: {detail}")

    # -- lifecycle ------------------------------------------------------------

    def status(self) -> str:
        """The engine's status ("running", "paused", "exited", ...) or "removed"."""
        try:
            state = self._api.inspect_container(self.container_id)["State"]
        except docker.errors.NotFound:
            return "removed"
        except requests.exceptions.ConnectionError as exc:
            raise EngineUnavailableError(f"the Docker engine stopped answering: {exc}") from exc
        return str(state["Status"])

    def is_running(self) -> bool:
        """Running and not paused."""
        return self.status() == "running"

    def pause(self) -> None:
        if self.status() == "paused":
            return
        self._call("pause", self._api.pause, self.container_id)
        self._hook("sandbox:paused")

    def unpause(self) -> None:
        if self.status() != "paused":
            return
        self._call("unpause", self._api.unpause, self.container_id)
        self._hook("sandbox:unpaused")

    def checkpoint(self, seq: int) -> Checkpoint:
        """`docker commit` the container as `<checkpoint_repo>:<stream>-<seq>`, labelled.

        With a registry, the image is pushed there before this returns (a failed
        push raises RegistryError): a checkpoint the caller records is one any
        engine with access to the registry can restore.
        """
        tag = f"{self.stream.lower()}-{seq}"
        labels = {self._label_key: self.stream, f"{self._label_key}.seq": str(seq)}
        changes = [f'LABEL {key}="{value}"' for key, value in labels.items()]
        # The container runs as the runtime's user; the image keeps the agent's.
        changes.append(f"USER {self.user}")
        self._call(
            "checkpoint",
            self._api.commit,
            self.container_id,
            repository=self._checkpoint_repo,
            tag=tag,
            changes=changes,
            pause=True,
        )
        self._hook("sandbox:committed")
        image = f"{self._checkpoint_repo}:{tag}"
        if self.registry is not None:
            push_image(self._api, self.registry, image)
            self._hook("sandbox:pushed")
        info = self._call("checkpoint", self._api.inspect_image, image)
        return Checkpoint(
            image=image,
            stream=self.stream,
            seq=seq,
            # Whole seconds, as the engine's image list reports them: list_checkpoints agrees.
            created=_parse_time(str(info["Created"])).replace(microsecond=0),
            size=int(info.get("Size") or 0),
        )

    def destroy(self) -> None:
        """Remove the container (forced); nothing to do when it is already gone."""
        try:
            self._api.remove_container(self.container_id, force=True, v=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc.explanation):
                return
            raise SandboxError(f"cannot remove sandbox {self.name}: {exc.explanation}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise EngineUnavailableError(f"the Docker engine stopped answering: {exc}") from exc

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except docker.errors.NotFound as exc:
            raise SandboxGoneError(
                f"cannot {action} sandbox {self.name}: its container is gone "
                "(removed outside the runtime?)"
            ) from exc
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot {action} sandbox {self.name}: {exc.explanation}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise EngineUnavailableError(f"the Docker engine stopped answering: {exc}") from exc


def _parse_time(value: str) -> datetime:
    """Docker's RFC 3339 timestamps carry nanoseconds; datetime takes microseconds."""
    value = value.rstrip("Z")
    if "." in value:
        whole, frac = value.split(".", 1)
        digits = "".join(ch for ch in frac if ch.isdigit())[:6]
        value = f"{whole}.{digits or '0'}"
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)
