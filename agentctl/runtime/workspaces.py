"""The runtime's side of workspaces: what a session started from, and what it has now.

The start is recorded when the session is created: the workspace folder is
packed once into a tar in the data folder (`workspaces/<session>.tar`),
which is both what is copied into the container (now and whenever the
container is made again before the first checkpoint) and the base every
diff is taken against; the HEAD of its git repository is recorded beside it.
A session without a workspace starts from its image's /workspace.

"Now" is the live container's /workspace, or, `at` a seq, the checkpoint at
or before it. Both trees are tars on disk read into indexes
(`agentctl.workspace.tree`) and compared on the host: one `docker cp` out,
no process run in the sandbox, nothing the agent could have tampered with
taken as the base.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import posixpath
import queue
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from agentctl.errors import ConflictError, UsageError
from agentctl.protocol import (
    ApplyConflict,
    ApplyRequest,
    ApplyResult,
    CheckpointCreated,
    SandboxConfig,
    SessionStatus,
    WorkspaceCopied,
    WorkspaceDiff,
)
from agentctl.runtime.sandbox_host import extra_labels
from agentctl.state import SessionState
from agentctl.workspace import apply as applying
from agentctl.workspace.changes import Change, compare, describe
from agentctl.workspace.git import commit_branch, head_of
from agentctl.workspace.tree import Entry, Tree, cached_tree, load_index, save_index, tree_of
from sandboxes import pack_folder

if TYPE_CHECKING:
    from agentctl.runtime.host import Host

WORKSPACE = "/workspace"


@dataclass(frozen=True)
class Source:
    label: str  # "container", "checkpoint <image>", "start"
    at: int | None
    stream: str | None = None
    image: str | None = None


class Workspaces:
    def __init__(self, runtime: Host) -> None:
        self.rt = runtime

    @property
    def folder(self) -> Path:
        return self.rt.paths.data / "workspaces"

    # -- at create -----------------------------------------------------------------

    def record_start(self, sid: str, workspace: Path) -> tuple[str, str | None]:
        """Pack `workspace` as the session's start; (the tar's path, its git HEAD). Blocking."""
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{sid}.tar"
        partial = final.with_suffix(".tar.partial")
        with open(partial, "wb") as handle:
            pack_folder(workspace, handle)
        os.replace(partial, final)
        cached_tree(final)  # index it now, not at the first diff
        return str(final), head_of(workspace)

    # -- diff ------------------------------------------------------------------------

    async def diff(self, sid: str, at: int | None, *, patch: bool = True) -> WorkspaceDiff:
        state = self.rt.journal.durable_state(sid)
        return await asyncio.to_thread(self._diff, state, at, patch)

    def _diff(self, state: SessionState, at: int | None, patch: bool) -> WorkspaceDiff:
        with self._changes(state, at) as (source, changes):
            files = [describe(c, patch=patch) for c in changes]
        return WorkspaceDiff(
            session=state.session_id,
            at=source.at,
            source=source.label,
            files=files,
            additions=sum(f.additions for f in files),
            deletions=sum(f.deletions for f in files),
        )

    @contextlib.contextmanager
    def _changes(
        self, state: SessionState, at: int | None
    ) -> Iterator[tuple[Source, list[Change]]]:
        config = self._config(state)
        source = self._source(state, config, at)
        with tempfile.TemporaryDirectory(prefix="diff-", dir=self._tmp()) as tmp:
            base = self._base(config, Path(tmp) / "base.tar")
            if source.label == "start":
                yield source, []
                return
            if source.image is not None:
                now = self._checkpoint_tree(state.session_id, source.image)
            else:
                now = self._export_tree(Path(tmp) / "now.tar", source)
            yield source, compare(base, now)

    def _checkpoint_tree(self, sid: str, image: str) -> Tree:
        """The tree of a checkpoint, exported once: a checkpoint never changes.

        Kept as `workspaces/exports/<session>.<image id>.tar` (with its index)
        so a `diff` then an `apply` of the same checkpoint, or a second look,
        costs no export. The key is the engine's content id, not the tag (a
        tag can be committed again after a crash); a session keeps only its
        latest export, and `gc` removes it with the session.
        """
        image_id = self.rt.sandboxes.engine().image_id(image)
        if image_id is None:
            raise ConflictError(f"checkpoint {image} is not in the Docker engine (removed by gc?)")
        folder = self.folder / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{sid}.{image_id.removeprefix('sha256:')[:32]}.tar"
        if final.is_file():
            with contextlib.suppress(OSError, ValueError):
                return load_index(final)
        # its own name: two diffs of one checkpoint at once must not write one file
        partial = final.with_name(f"{final.name}.{threading.get_ident()}.partial")
        try:
            tree = self._export_tree(
                partial, Source(f"checkpoint {image}", None, image=image), final
            )
        except BaseException:
            partial.unlink(missing_ok=True)  # nothing half-made is kept
            raise
        os.replace(partial, final)
        save_index(final, tree)
        for other in folder.glob(f"{sid}.*.tar"):  # the session's older export
            if other != final:
                for path in (other, other.with_name(other.name + ".index.json")):
                    path.unlink(missing_ok=True)
        return tree

    def _tmp(self) -> Path:
        folder = self.folder / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _config(self, state: SessionState) -> SandboxConfig:
        config = SandboxConfig.model_validate(state.created["sandbox"])
        if config.image is None:
            raise UsageError(
                f"session {state.session_id} has no sandbox (--image none): it has no workspace"
            )
        return config

    def _source(self, state: SessionState, config: SandboxConfig, at: int | None) -> Source:
        sid = state.session_id
        if at is not None:
            if at > state.last_seq:
                raise UsageError(
                    f"session {sid} has {state.last_seq} events; --at {at} is beyond its end"
                )
            earlier = [c for c in state.checkpoints if c.seq <= at and c.image]
        else:
            live = state.status is not None and not state.status.ended
            if (
                live
                and state.container is not None
                and self.rt.sandboxes.engine().has_container(sid)
            ):
                return Source("container", None, stream=sid)
            earlier = [c for c in state.checkpoints if c.image]
        if not earlier:
            return Source("start", 0)
        latest = earlier[-1]
        return Source(f"checkpoint {latest.image}", latest.seq, image=latest.image)

    def _base(self, config: SandboxConfig, scratch: Path) -> Tree:
        if config.workspace_archive:
            archive = Path(config.workspace_archive)
            if not archive.is_file():
                raise ConflictError(
                    f"the copy of the workspace the session started from ({archive}) is gone"
                )
            return cached_tree(archive)
        if config.workspace:
            raise ConflictError(
                "this session was made before agentctl kept the workspace it started from: "
                "there is nothing to diff against"
            )
        return self._export_tree(scratch, Source("image", None, image=config.image))

    def _export_tree(self, dest: Path, source: Source, named: Path | None = None) -> Tree:
        """The tree of /workspace in `source`, kept in `dest`: indexed while it arrives.

        The engine's export is most of a diff's time; the index is built from
        the stream as the engine sends it (a thread writes each chunk to `dest`
        and hands it on), so it adds nothing. Its entries name `named` (where
        the caller will move `dest`), else `dest`.
        """
        chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        failed: list[BaseException] = []

        class Tee:
            def __init__(self, handle: BinaryIO) -> None:
                self.handle = handle

            def write(self, chunk: bytes) -> int:
                self.handle.write(chunk)
                chunks.put(chunk)
                return len(chunk)

        def export() -> None:
            try:
                with open(dest, "wb") as handle:
                    self.rt.sandboxes.engine().export_path(
                        Tee(handle),  # type: ignore[arg-type]
                        stream=source.stream,
                        image=source.image,
                        path=WORKSPACE,
                        labels=extra_labels(),
                    )
            except BaseException as exc:
                failed.append(exc)
            finally:
                chunks.put(None)

        ended = threading.Event()

        def arriving() -> Iterator[bytes]:
            while not ended.is_set():
                chunk = chunks.get()
                if chunk is None:
                    ended.set()
                    return
                yield chunk

        thread = threading.Thread(target=export, name="workspace-export", daemon=True)
        thread.start()
        try:
            tree = tree_of(arriving(), named or dest, strip_top=True)
        finally:
            for _ in arriving():  # the rest (the tar's end), so the export can finish
                pass
            thread.join()
        if failed:
            raise failed[0]
        return tree

    # -- apply -----------------------------------------------------------------------

    async def apply(self, sid: str, req: ApplyRequest) -> ApplyResult:
        state = self.rt.journal.durable_state(sid)
        return await asyncio.to_thread(self._apply, state, req)

    def _apply(self, state: SessionState, req: ApplyRequest) -> ApplyResult:
        sid = state.session_id
        config = self._config(state)
        if req.to is None:
            if config.workspace is None:
                raise UsageError(
                    f"session {sid} had no --workspace to apply to", hint="give --to DIR"
                )
            if config.mount_workspace:
                raise ConflictError(
                    f"session {sid} worked on {config.workspace} directly (--mount): "
                    "its changes are there already"
                )
        target = Path(req.to or config.workspace or "")
        if not target.is_absolute() or not target.is_dir():
            raise UsageError(f"{target} is not a folder (give an absolute path)")
        with self._changes(state, req.at) as (source, changes):
            result = ApplyResult(
                session=sid, target=str(target), at=source.at, applied=False, check=req.check
            )
            if req.branch is not None:
                return self._branch(state, config, req, target, changes, result)
            plan = applying.plan(changes, target)
            result.conflicts = plan.conflicts
            result.written = [p for p, _ in plan.writes]
            result.deleted = list(plan.deletes)
            result.unchanged = plan.unchanged
            if plan.conflicts or req.check:
                return result
            applying.write(plan, target)
        result.applied = True
        return result

    def _branch(
        self,
        state: SessionState,
        config: SandboxConfig,
        req: ApplyRequest,
        target: Path,
        changes: list[Change],
        result: ApplyResult,
    ) -> ApplyResult:
        assert req.branch is not None
        base = config.workspace_head
        if base is None:
            raise UsageError(
                f"the workspace of {state.session_id} was not a git repository with a commit "
                "when it was copied in",
                hint="apply without --branch",
            )
        plan = applying.Plan()
        for path, new in _sides(changes):
            if (
                new is not None
                and new.kind == "symlink"
                and not applying.link_inside(path, new.link)
            ):
                reason = f"a symlink to {new.link!r}, outside the folder"
                plan.conflicts.append(ApplyConflict(path=path, reason=reason))
            elif new is None:
                plan.deletes.append(path)
            else:
                plan.writes.append((path, new))
        result.branch = req.branch
        result.conflicts = plan.conflicts
        result.written = [p for p, _ in plan.writes]
        result.deleted = list(plan.deletes)
        if plan.conflicts or req.check:
            return result
        task = str(state.created.get("task", "")).strip().splitlines()
        title = task[0][:72] if task else f"session {state.session_id}"
        at = result.at if result.at is not None else "live container"
        message = f"agentctl: {title}\n\nSession: {state.session_id}\nAt: {at}\n"
        result.commit = commit_branch(target, req.branch, base, plan, message)
        result.applied = True
        return result

    # -- cp --------------------------------------------------------------------------

    async def read_archive(self, sid: str, path: str, at: int | None) -> bytes:
        """A tar of `path` (in /workspace) as the session has it now, or at `at`."""
        state = self.rt.journal.durable_state(sid)
        inside = container_path(path)

        def read() -> bytes:
            config = self._config(state)
            source = self._source(state, config, at)
            if source.label == "start":
                if config.workspace_archive:
                    raise ConflictError(
                        f"session {sid} has no container or checkpoint yet: "
                        "its files are still those of the folder it was started with"
                    )
                source = Source("image", None, image=config.image)
            buffer = io.BytesIO()
            self.rt.sandboxes.engine().export_path(
                buffer, stream=source.stream, image=source.image, path=inside, labels=extra_labels()
            )
            return buffer.getvalue()

        return await asyncio.to_thread(read)

    async def write_archive(self, sid: str, path: str, archive: bytes) -> WorkspaceCopied:
        """Unpack `archive` (a tar of one top entry) into the folder of `path`; checkpoint."""
        inside = container_path(path)
        if inside == WORKSPACE:
            raise UsageError("give the path the copy gets in /workspace, not /workspace itself")
        async with self.rt.journal.lock(sid):
            state = self.rt.journal.state(sid)
            self._config(state)
            if state.status in (SessionStatus.RUNNING, SessionStatus.WAITING):
                status = state.status.value if state.status else "running"
                raise ConflictError(
                    f"session {sid} is {status}: copy into it when it is paused or has ended",
                    hint=f"wait for it to stop, or `agentctl cancel {sid}`",
                )
            sandbox = await self.rt.sandboxes.ensure(state)
            assert sandbox is not None
            await asyncio.to_thread(
                sandbox.put_archive, posixpath.dirname(inside), io.BytesIO(archive)
            )
            state = self.rt.journal.state(sid)
            copied = WorkspaceCopied(path=inside, bytes=len(archive))
            checkpoint = await asyncio.to_thread(sandbox.checkpoint, state.last_seq + 2)
            parent = state.latest_checkpoint.image if state.latest_checkpoint else None
            created = CheckpointCreated(image=checkpoint.image, parent_checkpoint=parent)
            await self.rt.journal.append(sid, [copied, created])
            ended = state.status is not None and state.status.ended
        if ended:
            await self.rt.sandboxes.release(sid)
        else:
            await self.rt.sandboxes.pause(sid)
        return copied


def _sides(changes: list[Change]) -> list[tuple[str, Entry | None]]:
    """Each path a change touches and what it should become (None: removed)."""
    sides: list[tuple[str, Entry | None]] = []
    for change in changes:
        if change.old_path is not None:
            sides.append((change.old_path, None))
        sides.append((change.path, change.new))
    return sides


def container_path(path: str) -> str:
    """`path` as an absolute path inside /workspace (lexically), or a usage error."""
    if not path or "\0" in path:
        raise UsageError("give a path in the session's /workspace")
    absolute = posixpath.normpath(posixpath.join(WORKSPACE, path))
    if absolute != WORKSPACE and not absolute.startswith(WORKSPACE + "/"):
        raise UsageError(f"{path} is outside /workspace: cp reaches only the workspace")
    return absolute
