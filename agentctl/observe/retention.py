"""Retention: remove what old ended sessions leave outside the log, never the log itself.

`collect_garbage` picks the sessions that ended (completed, failed,
cancelled) before the cutoff and removes their checkpoint images, any
leftover container, and their artifacts folder. Events are never touched:
the log stays whole, and `trace`, `stats` and `export` still see those
sessions (a fork or a resume from a removed checkpoint then has no files to
start from, which is the point of removing them).

What is never removed:
- anything of a session that is not ended (running, waiting, paused);
- a checkpoint image a live session still references — a fork's log holds
  the checkpoints of its ancestry up to the fork point, and the image its
  container was restored from, so folding its log names every image it may
  need;
- anything of another agentctl data directory sharing the Docker engine:
  only the checkpoints of the chosen sessions are listed for removal.

Each chosen session's lock is held while its leftovers go, so a resume that
would restore from a checkpoint waits, and the session is checked to still
be ended once the locks are held.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentctl.paths import Paths
from agentctl.protocol import GcResult
from agentctl.runtime import Runtime
from agentctl.state import SessionState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Plan:
    sessions: list[str]
    with_sandbox: list[str]
    protected: set[str]


def _plan(runtime: Runtime, cutoff: datetime) -> _Plan:
    states = list(runtime.journal.durable.values())
    doomed = [
        s
        for s in states
        if s.created
        and s.status is not None
        and s.status.ended
        and s.updated_at is not None
        and s.updated_at < cutoff
    ]
    protected: set[str] = set()
    for state in states:
        if state.status is None or not state.status.ended:
            protected |= _images_of(state)
    # The ended sessions start-up left dormant: their snapshots say enough.
    dormant = [
        (summary.id, bool(runtime.journal.dormant[summary.id].get("sandbox_image")))
        for summary in runtime.journal.dormant_summaries()
        if summary.status.ended and summary.updated_at < cutoff
    ]
    return _Plan(
        sessions=sorted([s.session_id for s in doomed] + [sid for sid, _ in dormant]),
        with_sandbox=sorted(
            [s.session_id for s in doomed if (s.created.get("sandbox") or {}).get("image")]
            + [sid for sid, sandbox in dormant if sandbox]
        ),
        protected=protected,
    )


def _images_of(state: SessionState) -> set[str]:
    images = {c.image for c in state.checkpoints if c.image}
    if state.image:
        images.add(state.image)
    return images


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue
    return total


def _remove_artifacts(
    paths: Paths, sessions: list[str], dry_run: bool, in_use: frozenset[str] = frozenset()
) -> tuple[list[str], int]:
    removed: list[str] = []
    freed = 0
    for sid in sessions:
        # The workspace the session started from (diff/apply), unless a fork still uses it.
        start = paths.data / "workspaces" / f"{sid}.tar"
        if str(start) not in in_use:
            for path in (start, start.with_name(start.name + ".index.json")):
                if path.is_file():
                    freed += path.stat().st_size
                    if not dry_run:
                        path.unlink()
                    removed.append(f"workspaces/{path.name}")
        # Its checkpoint's export, kept for the next diff (`Workspaces._checkpoint_tree`).
        for path in sorted((paths.data / "workspaces" / "exports").glob(f"{sid}.*")):
            freed += path.stat().st_size
            if not dry_run:
                path.unlink()
            removed.append(f"workspaces/exports/{path.name}")
        folder = paths.artifacts / sid
        if not folder.is_dir():
            continue
        freed += _size(folder)
        if not dry_run:
            shutil.rmtree(folder)
        removed.append(f"{sid}/")
    return removed, freed


def _remove_images(
    runtime: Runtime, plan: _Plan, dry_run: bool
) -> tuple[list[str], list[str], int, list[str]]:
    """(removed, kept because a live session needs them, bytes freed, warnings)."""
    if not plan.with_sandbox:
        return [], [], 0, []
    from sandboxes import DockerSandboxDriver, SandboxError

    try:
        driver = runtime.sandboxes.driver or DockerSandboxDriver()
        wanted = set(plan.with_sandbox)
        checkpoints = [cp for cp in driver.list_checkpoints() if cp.stream in wanted]
        kept = sorted(cp.image for cp in checkpoints if cp.image in plan.protected)
        doomed = [cp for cp in checkpoints if cp.image not in plan.protected]
        if dry_run:
            return sorted(cp.image for cp in doomed), kept, sum(cp.size for cp in doomed), []
        for sid in plan.with_sandbox:
            driver.remove_stream(sid)  # a container left behind by a failed release
        report = driver.remove_checkpoints(doomed)
    except SandboxError as exc:
        log.warning("gc: checkpoint images not removed: %s", exc)
        return [], [], 0, [f"checkpoint images not removed: {exc}"]
    skipped = sorted({cp.image for cp in doomed} - set(report.removed))
    warnings = [f"{image} is still used by a container; kept" for image in skipped]
    return sorted(report.removed), kept, report.freed_bytes, warnings


async def collect_garbage(
    runtime: Runtime, paths: Paths, older_than: timedelta, *, dry_run: bool = False
) -> GcResult:
    cutoff = datetime.now(UTC) - older_than
    candidates = _plan(runtime, cutoff).sessions
    async with AsyncExitStack() as stack:
        for sid in candidates:  # one caller takes several locks only here: sorted, no deadlock
            await stack.enter_async_context(runtime.journal.lock(sid))
        plan = _plan(runtime, cutoff)  # again, under the locks: nothing chosen can be live now
        plan = _Plan(
            sessions=[s for s in plan.sessions if s in candidates],
            with_sandbox=[s for s in plan.with_sandbox if s in candidates],
            protected=plan.protected,
        )
        images, kept, images_bytes, warnings = await asyncio.to_thread(
            _remove_images, runtime, plan, dry_run
        )
        doomed = set(plan.sessions)
        in_use = frozenset(
            str((state.created.get("sandbox") or {}).get("workspace_archive"))
            for sid, state in runtime.journal.durable.items()
            if sid not in doomed
        ) | frozenset(
            str(data.get("workspace_archive"))
            for sid, data in runtime.journal.dormant.items()
            if sid not in doomed
        )
        artifacts, artifacts_bytes = await asyncio.to_thread(
            _remove_artifacts, paths, plan.sessions, dry_run, in_use
        )
    if dry_run and images:
        warnings.append("image sizes of a dry run are their full sizes; removal frees less")
    log.info(
        "gc older than %s: %d sessions, %d images, %d artifact folders, %d bytes%s",
        older_than,
        len(plan.sessions),
        len(images),
        len(artifacts),
        images_bytes + artifacts_bytes,
        " (dry run)" if dry_run else "",
    )
    return GcResult(
        older_than_s=older_than.total_seconds(),
        dry_run=dry_run,
        sessions=plan.sessions,
        images=images,
        artifacts=artifacts,
        kept_images=kept,
        images_bytes=images_bytes,
        artifacts_bytes=artifacts_bytes,
        freed_bytes=images_bytes + artifacts_bytes,
        warnings=warnings,
    )
