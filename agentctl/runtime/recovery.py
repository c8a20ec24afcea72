"""Recovery on start: what lives outside the log is made to agree with it.

The log is the truth, but a session's side effects outside it — its
container, its checkpoint images, the artifact files of long outputs, the
spill files those are written to — are made *before* the event that records
them. A daemon killed in between leaves a thing no event names. So on start,
before any session runs again, `sweep` removes each such orphan:

- a container of a session whose log records none (killed between `docker
  create` and `sandbox.created`): nothing used it, the next step makes a new
  one (`create(replace=True)` would remove it too);
- a container of a session that completed or was cancelled (killed between
  the end and the release);
- a checkpoint image of a live session that no `checkpoint.created` names
  (killed between `docker commit` and the event): the step is checkpointed
  again;
- an artifact file of a live session that no `tool.finished` names (killed
  between the move and the event), and every spill file (killed mid-call).

Completion records inside a sandbox are the shell tool's own: the next shell
call removes those of earlier calls (see `agentctl.tools`).

Then `retry_fault_pauses` resumes the sessions a fault paused (the engine
failed, or a bug): each is retried on a start, at most `MAX_AUTO_RESUMES`
times in a row without the session running on its own in between, and each
attempt is a `session.status` event that says which attempt it is.

Nothing here runs while an actor does: the runtime calls both before it
spawns any session, so an image or file an actor is about to record cannot be
mistaken for an orphan. A worker among several (docs/scale.md) drives no
session yet when it starts, and other workers may share its engine: it
removes the containers of ended sessions only, and leaves a live session's
container and images to the worker that drives it (a new container replaces
a leftover one: `create(replace=True)`).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from agentctl.errors import ConflictError
from agentctl.protocol import SessionStatus, SessionStatusChanged, ToolFinished
from agentctl.state import SessionState

if TYPE_CHECKING:
    from agentctl.runtime.host import Host

log = logging.getLogger(__name__)

MAX_AUTO_RESUMES = 3
PARTIAL_DIR = ".partial"  # under the artifacts folder: spill files of calls in progress
_RELEASED = (SessionStatus.COMPLETED, SessionStatus.CANCELLED)


def spill_dir(artifacts: Path) -> Path:
    folder = artifacts / PARTIAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sweep(runtime: Host) -> list[str]:
    """Remove what a crash left outside the log; a line per thing removed. Blocking."""
    removed = _sweep_files(runtime)
    states = runtime.journal.states
    if any((s.created.get("sandbox") or {}).get("image") for s in states.values()) or any(
        d.get("sandbox_image") for d in runtime.journal.dormant.values()
    ):
        try:
            removed += _sweep_engine(runtime)
        except Exception as exc:  # an engine that is down now is retried by the steps
            log.warning("could not check the sandboxes for leftovers: %s", exc)
    for line in removed:
        log.info("recovery: removed %s", line)
    return removed


def _live(state: SessionState) -> bool:
    return state.status is not None and not state.status.ended


def _sweep_files(runtime: Host) -> list[str]:
    artifacts = runtime.paths.artifacts
    removed = []
    for leftover in spill_dir(artifacts).iterdir():
        _remove_path(leftover)
        removed.append(f"spill file {leftover.name}")
    for sid, state in runtime.journal.states.items():
        folder = artifacts / sid
        if not _live(state) or not folder.is_dir():
            continue
        named = set()
        for e in runtime.store.read_stream(sid):
            if e.type == ToolFinished.TYPE:
                if e.data.get("artifact"):
                    named.add(str(e.data["artifact"]))
                named.update(str(a) for a in e.data.get("attachments") or ())
        for path in folder.iterdir():
            if f"{sid}/{path.name}" not in named:
                _remove_path(path)
                removed.append(f"artifact {sid}/{path.name}")
    return removed


def _sweep_engine(runtime: Host) -> list[str]:
    driver = runtime.sandboxes.engine()
    states = runtime.journal.states
    removed = []
    for stream in sorted(driver.streams()):
        state = runtime.journal.find(stream)  # an ended session's container: fold it now
        if state is None:  # another data directory's, or a test's: not ours to judge
            continue
        # A live session's container may be another worker's, made a moment
        # ago on this engine (workers sharing one engine): judged only by the
        # process that drives the session. An ended one's is nobody's.
        mine = runtime.drives(stream)
        if state.status in _RELEASED or (mine and _live(state) and state.container is None):
            driver.remove_stream(stream)
            removed.append(f"container of {stream} ({state.status})")
    orphans = [
        cp
        for cp in driver.list_checkpoints()
        if (state := states.get(cp.stream)) is not None
        and _live(state)
        and runtime.drives(cp.stream)
        and cp.image not in {c.image for c in state.checkpoints}
    ]
    report = driver.remove_checkpoints(orphans)
    removed += [f"checkpoint {image}" for image in report.removed]
    return removed


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


async def retry_fault_pauses(runtime: Host) -> list[str]:
    """Resume the sessions a fault paused, within the bound; their ids."""
    resumed = []
    for sid, state in list(runtime.journal.states.items()):
        if state.status is not SessionStatus.PAUSED or state.fault is None:
            continue
        if state.auto_resumes >= MAX_AUTO_RESUMES:
            continue
        attempt = state.auto_resumes + 1
        status = SessionStatusChanged(
            status=SessionStatus.RUNNING,
            reason=f"retried after a daemon restart (attempt {attempt} of {MAX_AUTO_RESUMES}); "
            f"it had paused: {state.reason}",
            auto_resume=attempt,
        )
        try:
            async with runtime.journal.lock(sid):
                await runtime.journal.append(sid, [status])
        except ConflictError:  # another worker, starting too, retried it first
            continue
        resumed.append(sid)
    return resumed


def fault_reason(sid: str, what: str, attempts: int) -> str:
    """A pause reason for a fault, in words: what failed and what happens next."""
    if attempts >= MAX_AUTO_RESUMES:
        then = (
            f"it was retried {attempts} times after daemon restarts and failed each time; "
            f"fix the cause, then `agentctl resume {sid}`"
        )
    else:
        then = f"the daemon retries it when it next starts, or `agentctl resume {sid}` retries now"
    return f"{what}; {then}"
