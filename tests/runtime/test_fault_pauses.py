"""A session paused by a fault outside it (the engine failed) is retried on start.

The fault is injected by a driver that refuses to create containers (beside
the real driver, which does the work once the fault is gone). The pause
says in words what failed and what happens next; each retry on a start is a
`session.status` event with its attempt number; after `MAX_AUTO_RESUMES`
retries in a row the session stays paused and says what a person must do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentctl.protocol import ResumeSession, SessionStatus
from agentctl.runtime.recovery import MAX_AUTO_RESUMES
from sandboxes import DockerSandboxDriver, EngineUnavailableError, Sandbox, SandboxSpec
from store import DuckDBEventStore

from .harness import call, create, final, settle, start_runtime, write_recording

pytestmark = pytest.mark.docker


class RefusingDriver(DockerSandboxDriver):
    """The real driver, but `create` fails as an engine that stopped answering would."""

    def create(self, stream: str, spec: SandboxSpec, *, replace: bool = False) -> Sandbox:
        raise EngineUnavailableError("the Docker engine does not answer (injected)")


def _statuses(store: DuckDBEventStore, sid: str) -> list[dict[str, Any]]:
    return [e.data for e in store.read_stream(sid) if e.type == "session.status"]


async def _paused_by_a_fault(
    tmp_path: Path, sessions_cleanup: list[str]
) -> tuple[DuckDBEventStore, str]:
    """A store holding one session that the refusing driver paused (the runtime stopped)."""
    rec = write_recording(
        tmp_path / "r.jsonl", [call("shell", {"command": "echo hi > f.txt"}), final()]
    )
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    rt = await start_runtime(store, driver=RefusingDriver())
    sid = await rt.create_session(create("t", rec, image=None))
    sessions_cleanup.append(sid)
    assert await settle(rt, sid) is SessionStatus.PAUSED
    await rt.stop()
    return store, sid


async def test_a_fault_pause_is_retried_on_start_and_completes(
    tmp_path: Path, docker_client: Any, sessions_cleanup: list[str]
) -> None:
    store, sid = await _paused_by_a_fault(tmp_path, sessions_cleanup)
    paused = _statuses(store, sid)[-1]
    assert paused["fault"] == "sandbox"
    assert "the sandbox failed" in paused["reason"] and "does not answer" in paused["reason"]
    assert f"agentctl resume {sid}" in paused["reason"]
    assert "daemon log" not in paused["reason"]

    rt = await start_runtime(store)  # the engine is back
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    retried = [s for s in _statuses(store, sid) if s.get("auto_resume")]
    assert [s["auto_resume"] for s in retried] == [1]
    assert f"attempt 1 of {MAX_AUTO_RESUMES}" in retried[0]["reason"]
    await rt.stop()
    store.close()


async def test_fault_retries_are_bounded_then_a_person_is_told_what_to_do(
    tmp_path: Path, docker_client: Any, sessions_cleanup: list[str]
) -> None:
    store, sid = await _paused_by_a_fault(tmp_path, sessions_cleanup)
    for _ in range(MAX_AUTO_RESUMES + 2):  # restarts while the fault lasts
        rt = await start_runtime(store, driver=RefusingDriver())
        assert await settle(rt, sid) is SessionStatus.PAUSED
        await rt.stop()
    attempts = [s["auto_resume"] for s in _statuses(store, sid) if s.get("auto_resume")]
    assert attempts == list(range(1, MAX_AUTO_RESUMES + 1))
    last = _statuses(store, sid)[-1]
    assert f"retried {MAX_AUTO_RESUMES} times" in last["reason"]
    assert f"agentctl resume {sid}" in last["reason"]

    rt = await start_runtime(store)  # fixed; not retried by itself any more: a person resumes
    assert rt.journal.state(sid).status is SessionStatus.PAUSED
    await rt.resume(sid, ResumeSession())
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    await rt.stop()
    store.close()
