"""What a worker's start recovers when several workers share one log and one engine.

- A fault pause is retried once: a worker whose driver refuses containers (the
  injected fault, beside the real driver) pauses the session and stops; two
  workers with the real driver then start at the same moment, each retries
  the fault pauses it finds, the expected seq lets one retry through, and
  whichever worker claims the session completes it.
- A starting worker's sweep leaves alone the container another worker is
  making on the same engine (made, its `sandbox.created` not yet appended).

Real PostgreSQL, real Docker.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from agentctl.daemon.workers import Worker
from agentctl.paths import get_paths
from agentctl.protocol import SessionStatus
from agentctl.providers.retry import RetryPolicy
from agentctl.runtime import Runtime
from sandboxes import DockerSandboxDriver, Sandbox, SandboxSpec
from store.postgres_store import PostgresEventStore
from tests.support.postgres import PostgresServer

from .harness import call, create, final, write_recording
from .test_fault_pauses import RefusingDriver

pytestmark = pytest.mark.docker


async def _worker(url: str, **kwargs: Any) -> tuple[Runtime, Worker]:
    store = PostgresEventStore(url)
    rt = Runtime(
        store,
        paths=get_paths().ensure(),
        retry_policy=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05),
        **kwargs,
    )
    worker = Worker(store, rt, lease_s=3.0)
    rt.use_ownership(worker)
    await rt.start()
    await worker.start()
    return rt, worker


async def _stop(rt: Runtime, worker: Worker) -> None:
    await rt.stop()
    await worker.stop()
    rt.store.close()


async def _until(rt: Runtime, sid: str, status: SessionStatus, timeout: float = 30.0) -> None:
    """Poll the worker's folded state (it follows the other workers' commits)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (state := rt.journal.find(sid)) is None or state.status is not status:
        assert loop.time() < deadline, None if state is None else state.status
        await asyncio.sleep(0.02)


async def test_a_fault_pause_is_retried_once_when_two_workers_start_together(
    tmp_path: Path,
    docker_client: Any,
    sessions_cleanup: list[str],
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    rec = write_recording(
        tmp_path / "r.jsonl", [call("shell", {"command": "echo hi > f.txt"}), final()]
    )
    rt, worker = await _worker(url, driver=RefusingDriver())
    sid = await rt.create_session(create("t", rec, image=None))
    sessions_cleanup.append(sid)
    await _until(rt, sid, SessionStatus.PAUSED)
    assert rt.journal.state(sid).fault is not None
    await _stop(rt, worker)

    workers = await asyncio.gather(_worker(url), _worker(url))  # the engine is back
    try:
        for rt, _ in workers:
            await _until(rt, sid, SessionStatus.COMPLETED)
    finally:
        for rt, worker in workers:
            await _stop(rt, worker)
    with PostgresEventStore(url) as store:
        events = store.read_stream(sid)
    retried = [e.data["auto_resume"] for e in events if e.data.get("auto_resume")]
    assert retried == [1]
    assert [e.type for e in events].count("tool.finished") == 1


class HoldingDriver(DockerSandboxDriver):
    """The real driver, holding on after its first container is made (before the event)."""

    def __init__(self) -> None:
        super().__init__()
        self.made = threading.Event()
        self.go = threading.Event()

    def create(self, stream: str, spec: SandboxSpec, *, replace: bool = False) -> Sandbox:
        sandbox = super().create(stream, spec, replace=replace)
        self.made.set()
        assert self.go.wait(60)
        return sandbox


async def test_a_starting_worker_leaves_another_worker_s_new_container_alone(
    tmp_path: Path,
    docker_client: Any,
    sessions_cleanup: list[str],
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    rec = write_recording(
        tmp_path / "r.jsonl", [call("shell", {"command": "echo hi > f.txt"}), final()]
    )
    holding = HoldingDriver()
    first = await _worker(url, driver=holding)
    second = None
    try:
        sid = await first[0].create_session(create("t", rec, image=None))
        sessions_cleanup.append(sid)
        assert await asyncio.to_thread(holding.made.wait, 60)
        assert sid in holding.streams()  # made, not yet recorded in the log
        second = await _worker(url)  # its start sweeps the engine both share
        assert sid in holding.streams()
        holding.go.set()
        await _until(first[0], sid, SessionStatus.COMPLETED)
    finally:
        holding.go.set()
        for rt, worker in (first, *([second] if second else [])):
            await _stop(rt, worker)
    with PostgresEventStore(url) as store:
        events = store.read_stream(sid)
    [finished] = [e.data for e in events if e.type == "tool.finished"]
    assert finished["exit_code"] == 0, finished
    assert [e.type for e in events].count("sandbox.created") == 1
