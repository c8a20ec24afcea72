"""Windows a review of issue 13 found in the crash-recovery work.

- a request id is a key for one request: reused with a different request
  (a create's id on a fork, a fork's on another fork point) it must not
  answer with a session that request did not make;
- a fork whose container cannot be made (the engine failed) exists whole in
  the log as `running`: it must run (and pause on the fault, retried on the
  next start), not sit `running` with no actor;
- an artifact's file name comes from the model's call id: it must stay in
  the session's artifacts folder.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from agentctl.errors import ConflictError
from agentctl.protocol import ForkSession, SessionStatus
from agentctl.tools import Tool, ToolContext, ToolOutcome
from sandboxes import DockerSandboxDriver, EngineUnavailableError, Sandbox, SandboxSpec
from store import DuckDBEventStore

from .harness import call, create, final, registry, settle, start_runtime, write_recording


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _long_output_tool() -> Tool:
    """An in-process tool whose whole output is over the cap: kept as an artifact."""

    def run(ctx: ToolContext, args: _Args) -> ToolOutcome:
        spill = tempfile.NamedTemporaryFile(delete=False, suffix=".log")  # noqa: SIM115
        spill.write(b"x" * 100)
        spill.close()
        return ToolOutcome(exit_code=0, output="x…", truncated=True, full_output=Path(spill.name))

    return Tool("long", "print a lot", _Args, idempotent=False, run=run, needs_sandbox=False)


async def test_a_request_id_reused_for_another_request_is_refused(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    rt = await start_runtime(store)
    sid = await rt.create_session(create("t", rec, request_id="req_1"))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    assert await rt.create_session(create("t", rec, request_id="req_1")) == sid  # a retry
    with pytest.raises(ConflictError):  # a fork is not the create that used the id
        await rt.fork(sid, ForkSession(at=2, request_id="req_1"))
    fork = await rt.fork(sid, ForkSession(at=2, request_id="req_2"))
    assert await rt.fork(sid, ForkSession(at=2, request_id="req_2")) == fork  # a retry
    with pytest.raises(ConflictError):  # another fork point is another request
        await rt.fork(sid, ForkSession(at=4, request_id="req_2"))
    with pytest.raises(ConflictError):  # and a create is not a fork
        await rt.create_session(create("t", rec, request_id="req_2"))
    await rt.stop()
    store.close()


class _NoSandboxForForks(DockerSandboxDriver):
    """The real driver, but it cannot make a container (an engine that stopped answering)."""

    def create(self, stream: str, spec: SandboxSpec, *, replace: bool = False) -> Sandbox:
        raise EngineUnavailableError("the Docker engine does not answer (injected)")


@pytest.mark.docker
async def test_a_fork_whose_container_fails_runs_and_pauses_on_the_fault(
    tmp_path: Path, docker_client: Any, sessions_cleanup: list[str]
) -> None:
    rec = write_recording(tmp_path / "r.jsonl", [final()])
    shell = write_recording(tmp_path / "s.jsonl", [call("shell", {"command": "true"}), final()])
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    rt = await start_runtime(store, driver=_NoSandboxForForks())
    sid = await rt.create_session(create("t", rec, image=None))  # a sandbox, never made
    sessions_cleanup.append(sid)
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    fork = await rt.fork(sid, ForkSession(at=2, model=f"replay:{shell}", request_id="req_f"))
    sessions_cleanup.append(fork)
    # Not `running` with nothing driving it: the actor met the fault and said so.
    assert await settle(rt, fork) is SessionStatus.PAUSED
    state = rt.journal.state(fork)
    assert state.fault == "sandbox"
    assert f"agentctl resume {fork}" in state.reason
    await rt.stop()

    rt = await start_runtime(store)  # the engine is back: the fault pause is retried
    assert await settle(rt, fork) is SessionStatus.COMPLETED
    assert "sandbox.created" in [e.type for e in store.read_stream(fork)]
    await rt.stop()
    store.close()


async def test_an_artifact_name_from_the_model_stays_in_its_folder(
    tmp_path: Path, agentctl_home: Path
) -> None:
    escape = "../../../escaped"
    rec = write_recording(tmp_path / "r.jsonl", [call("long", {}, call_id=escape), final()])
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    rt = await start_runtime(store, tools=registry(_long_output_tool()))
    sid = await rt.create_session(create("t", rec))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    [finished] = [e.data for e in store.read_stream(sid) if e.type == "tool.finished"]
    artifacts = rt.paths.artifacts
    kept = (artifacts / finished["artifact"]).resolve()
    assert kept.is_file()
    assert kept.parent == (artifacts / sid).resolve()
    assert not list(agentctl_home.rglob("escaped*"))
    await rt.stop()
    store.close()


@pytest.mark.docker
async def test_a_wait_killed_before_its_container_was_paused_is_paused_on_start(
    tmp_path: Path, docker_client: Any, sessions_cleanup: list[str], monkeypatch: Any
) -> None:
    from agentctl.crashpoints import CRASH_EXIT_CODE

    from .test_crash_points import drive, lines_in, read, recording, session_of

    rec = recording(tmp_path / "rec.jsonl")
    db = tmp_path / "e.duckdb"
    # statuses: running, waiting (w1, no container yet), running, waiting (w2): killed
    # once that `waiting` is durable, before `docker pause`
    crashed = drive(db, rec, "after:session.status:4", tmp_path, "default")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    sid = session_of(db)
    sessions_cleanup.append(sid)
    label = f"agentctl.stream={sid}"
    [container] = docker_client.containers.list(all=True, filters={"label": label})
    # The runtime pauses before `waiting` is durable; a pause that did not happen (it
    # failed, or the daemon died first) leaves the container running: made so here.
    if container.status == "paused":
        container.unpause()
    container.reload()
    assert container.status == "running"

    monkeypatch.setenv("AGENTCTL_HOME", str(tmp_path))
    store = DuckDBEventStore(db)
    rt = await start_runtime(store)
    assert rt.journal.state(sid).status is SessionStatus.WAITING
    container.reload()
    # docs/design.md §5: a session waiting has its container paused
    assert container.status == "paused"
    await rt.stop()
    store.close()

    done = drive(db, rec, None, tmp_path, "default")  # a decision unpauses it and it goes on
    assert done.returncode == 0, done.stderr
    assert lines_in(read(db)) == [f"line-{i}" for i in range(1, 12)]


class _FailingCommit(DockerSandboxDriver):
    """The real driver, but its `fail_at`-th checkpoint fails after the commit (a fault)."""

    def __init__(self, fail_at: int | None) -> None:
        self.commits = 0
        self.fail_at = fail_at
        super().__init__(hook=self._step)

    def _step(self, step: str) -> None:
        if step == "sandbox:committed":
            self.commits += 1
            if self.commits == self.fail_at:
                raise RuntimeError("the engine lost the commit (injected)")


@pytest.mark.docker
async def test_fault_retries_count_again_once_the_session_made_progress(
    tmp_path: Path, docker_client: Any, sessions_cleanup: list[str]
) -> None:
    # Each start the session makes a step of progress on its own, then meets a new fault:
    # it never failed "3 times in a row without running on its own", so it is never left
    # for a person.
    steps = 5
    rec = write_recording(
        tmp_path / "r.jsonl",
        [call("shell", {"command": f"echo {i} >> /workspace/f"}, f"w{i}") for i in range(steps)]
        + [call("shell", {"command": "cat /workspace/f"}, "cat"), final()],
    )
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    rt = await start_runtime(store, driver=_FailingCommit(1))
    sid = await rt.create_session(create("t", rec, image=None))
    sessions_cleanup.append(sid)
    assert await settle(rt, sid) is SessionStatus.PAUSED
    await rt.stop()
    for _ in range(steps - 1):
        rt = await start_runtime(store, driver=_FailingCommit(2))
        assert rt.journal.state(sid).status is SessionStatus.RUNNING  # retried
        assert await settle(rt, sid) is SessionStatus.PAUSED
        assert rt.journal.state(sid).fault == "internal"
        await rt.stop()
    rt = await start_runtime(store, driver=_FailingCommit(None))
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    [cat] = [
        e.data
        for e in store.read_stream(sid)
        if e.type == "tool.finished" and e.data["call_id"] == "cat"
    ]
    assert cat["output"].split() == [str(i) for i in range(steps)]
    await rt.stop()
    store.close()


@pytest.mark.docker
def test_a_record_whose_pid_names_another_process_is_not_waited_for(
    docker_client: Any, sessions_cleanup: list[str]
) -> None:
    # A command killed with its container (restarted since), and its pid now another
    # process's: recovery must not wait out the call's whole timeout for it.
    from agentctl.runtime.sandbox_host import extra_labels
    from agentctl.tools import _record_dir, _recorded_command, _recover_shell
    from sandboxes import ensure_default_image

    stream = "ses_review13pidreuse"
    sessions_cleanup.append(stream)
    driver = DockerSandboxDriver()
    sandbox = driver.create(
        stream, SandboxSpec(image=ensure_default_image(), labels=extra_labels()), replace=True
    )
    key = f"{stream}:c1:1"
    assert sandbox.exec(_recorded_command("true", key), timeout_s=30).exit_code == 0
    # The record as a command cut off leaves it (no exit code), its pid now pid 1's.
    cut_off = f'd="{_record_dir(key)}"; rm -f "$d/rc"; sed -i "s/^[0-9]*/1/" "$d/pid"'
    assert sandbox.exec(cut_off, timeout_s=30).exit_code == 0

    result: dict[str, object] = {}
    ctx = ToolContext(session_id=stream, sandbox=sandbox, timeout_s=600, call_key=key)
    worker = threading.Thread(
        target=lambda: result.update(outcome=_recover_shell(ctx)), daemon=True
    )
    worker.start()
    worker.join(30)  # it used to wait the call's timeout (and 30 s) before giving up
    assert not worker.is_alive(), "recovery waits for a process that is not the command"
    assert result == {"outcome": None}  # not finished: the call goes back to a person
