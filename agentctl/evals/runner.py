"""Running a suite: each case N times, as normal sessions of the daemon, a few at a time.

Everything goes through the client, as any other client would do it: a case
is `create_session` (labelled eval_suite/eval_case/eval_attempt, so `ls`
shows it and the log keeps it); its approvals are answered as the case says
(approver "eval"); a watchdog cancels it past its `timeout_s`. The graders
then read its log, its files (through the archive route), and for a command
grader a fork of the session at its end, on a one-call recording that runs
the command in a sandbox restored from the session's last checkpoint: the
fork is a session too (its parent is the case's session).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentctl.errors import AgentctlError, DaemonError
from agentctl.evals import graders
from agentctl.evals.graders import GradeResult
from agentctl.evals.suite import Case, CommandGrade, FileGrade, JudgeGrade, Suite, ToolGrade
from agentctl.protocol import (
    Budget,
    CreateSession,
    Decide,
    Envelope,
    ForkSession,
    SessionStatusChanged,
    ToolFinished,
)

if TYPE_CHECKING:
    from agentctl.client import Client

APPROVER = "eval"
ENDED = ("completed", "failed", "cancelled", "paused")
RECONNECT_S = 120.0  # how long a run waits for a daemon that went away to answer again


@dataclass
class CaseRun:
    """One attempt of one case: its session, what the graders said, what it cost."""

    case: str
    attempt: int
    session: str | None = None
    status: str = "error"
    reason: str = ""
    grades: list[GradeResult] = field(default_factory=list)
    error: str | None = None  # the run could not be made or graded (not a failed grade)
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: int = 0
    tool_errors: int = 0
    approvals: int = 0
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and all(g.passed for g in self.grades)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "attempt": self.attempt,
            "session": self.session,
            "passed": self.passed,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "grades": [g.to_dict() for g in self.grades],
            "steps": self.steps,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "tool_calls": self.tool_calls,
            "tool_errors": self.tool_errors,
            "approvals": self.approvals,
            "wall_s": round(self.wall_s, 3),
        }


Connect = Callable[[], "Client"]
Progress = Callable[[CaseRun], None]


def _create_request(case: Case, suite: Suite, attempt: int) -> CreateSession:
    given: dict[str, Any] = {"model": case.model}
    if case.base_url is not None:
        given["base_url"] = case.base_url
    return CreateSession(
        task=case.task,
        **given,
        agent=case.agent,
        policy=case.policy,
        image=case.image,
        workspace=case.workspace,
        budget=Budget(max_steps=case.max_steps),
        labels={
            "eval_suite": suite.name[:200],
            "eval_case": case.name,
            "eval_attempt": str(attempt),
        },
    )


def drive(
    client: Client,
    sid: str,
    approvals: str,
    timeout_s: float,
    after: int = 0,
    reconnect: Connect | None = None,
) -> tuple[str, str, int]:
    """Follow `sid` to its end (or pause), answering its approvals; (status, reason, answered).

    Past `timeout_s` the session is cancelled (reason "eval timeout"). When the
    daemon goes away mid-stream, `reconnect` (which starts it again and waits
    until it answers) is called and the stream goes on from the cursor, for up
    to RECONNECT_S: the session is durable, and so is following it."""
    timer = threading.Timer(timeout_s, _cancel, (client, sid))
    timer.daemon = True
    timer.start()
    cursor, answered = after, 0  # a fork: the statuses it copied are not its own
    lost: float | None = None
    try:
        while True:
            try:
                for event in client.events(sid, after=cursor, follow=True):
                    cursor, lost = event.seq, None
                    if event.type != SessionStatusChanged.TYPE:
                        continue
                    status = str(event.data.get("status"))
                    if status == "waiting":
                        answered += _answer(client, sid, approvals)
                    elif status in ENDED:
                        return status, str(event.data.get("reason") or ""), answered
            except DaemonError:
                lost = lost or time.monotonic()
                if reconnect is None or time.monotonic() - lost > RECONNECT_S:
                    raise
                with contextlib.suppress(DaemonError):
                    reconnect().close()
            # else the stream closed under us (a daemon restart): go on from the cursor
    finally:
        timer.cancel()


def _cancel(client: Client, sid: str) -> None:
    with contextlib.suppress(AgentctlError):  # it ended meanwhile
        client.cancel(sid, "eval timeout")


def _answer(client: Client, sid: str, approvals: str) -> int:
    count = 0
    for approval in client.approvals(session=sid):
        if approval.session != sid:
            continue
        decision: Literal["approve", "deny"] = "approve" if approvals == "approve" else "deny"
        try:
            client.decide(
                approval.id,
                Decide(decision=decision, approver=APPROVER, reason=f"{decision} by the eval case"),
            )
            count += 1
        except AgentctlError:
            pass  # decided meanwhile (it expired, or another client answered)
    return count


def _metrics(run: CaseRun, client: Client, sid: str, events: Sequence[Envelope]) -> None:
    summary = client.session(sid)
    run.steps = summary.steps
    run.input_tokens = summary.input_tokens
    run.output_tokens = summary.output_tokens
    run.cost_usd = summary.cost_usd
    for event in events:
        if event.type == ToolFinished.TYPE:
            run.tool_calls += 1
            data = event.data
            if data.get("error") or data.get("timed_out") or data.get("exit_code") != 0:
                run.tool_errors += 1


class Runner:
    """Runs a suite's cases through the daemon; `connect` gives each worker its own client."""

    def __init__(self, suite: Suite, connect: Connect, *, data_dir: Path) -> None:
        self.suite = suite
        self.connect = connect
        self.folder = data_dir / "recordings" / "evals"

    def run(
        self, repeat: int, parallel: int, progress: Progress | None = None, only: str | None = None
    ) -> list[CaseRun]:
        jobs = [
            (case, attempt)
            for case in self.suite.cases
            if only is None or case.name == only
            for attempt in range(1, repeat + 1)
        ]
        local = threading.local()
        clients: list[Client] = []
        lock = threading.Lock()

        def work(job: tuple[Case, int]) -> CaseRun:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = self.connect()
                with lock:
                    clients.append(client)
            done = self.run_case(client, *job)
            if progress is not None:
                progress(done)
            return done

        try:
            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                return list(pool.map(work, jobs))
        finally:
            for client in clients:
                client.close()

    def run_case(self, client: Client, case: Case, attempt: int) -> CaseRun:
        run = CaseRun(case=case.name, attempt=attempt)
        started = time.monotonic()
        try:
            sid = client.create_session(_create_request(case, self.suite, attempt)).id
            run.session = sid
            run.status, run.reason, run.approvals = drive(
                client, sid, case.approvals, case.timeout_s, reconnect=self.connect
            )
            events = list(client.events(sid))
            _metrics(run, client, sid, events)
            run.grades.append(graders.grade_status(case.expect_status, run.status, run.reason))
            for grade in case.grade:
                run.grades.append(self._grade(client, case, sid, events, grade))
        except AgentctlError as exc:
            run.error = str(exc)
        finally:
            run.wall_s = time.monotonic() - started
        return run

    def _grade(
        self,
        client: Client,
        case: Case,
        sid: str,
        events: Sequence[Envelope],
        grade: CommandGrade | FileGrade | ToolGrade | JudgeGrade,
    ) -> GradeResult:
        try:
            if isinstance(grade, ToolGrade):
                return graders.grade_tool(grade, events)
            if isinstance(grade, FileGrade):
                return graders.grade_file(grade, self._file(client, sid, grade.path))
            if isinstance(grade, CommandGrade):
                return self._command(client, sid, grade)
            return self._judge(client, case, sid, events, grade)
        except AgentctlError as exc:
            return GradeResult(grade.kind, False, f"could not grade: {exc}")

    def _file(self, client: Client, sid: str, path: str) -> bytes | None:
        from agentctl.errors import NotFoundError

        try:
            data = client.read_archive(sid, path)
        except NotFoundError:
            return None
        return graders.file_in_archive(data)

    def _command(self, client: Client, sid: str, grade: CommandGrade) -> GradeResult:
        """The command in a fork of the session at its end: a sandbox as the session left it."""
        from agentctl.providers import ModelResponse, ToolCall, Usage
        from agentctl.providers.recording import RecordingHeader, write_recording

        self.folder.mkdir(parents=True, exist_ok=True)
        recording = self.folder / f"check-{sid}-{uuid.uuid4().hex[:8]}.jsonl"
        call = ToolCall(
            graders.CHECK_CALL_ID,
            "shell",
            {"command": grade.command, "timeout_s": grade.timeout_s},
        )
        responses = [
            ModelResponse("running the eval's check", (call,), Usage(), 0.0, 0.0),
            ModelResponse("checked", (), Usage(), 0.0, 0.0),
        ]
        with recording.open("w", encoding="utf-8") as fp:
            write_recording(RecordingHeader(task="eval check", session=sid), responses, fp)
        at = client.session(sid).last_seq
        fork = client.fork(
            sid,
            ForkSession(
                at=at,
                message=f"(eval check) run: {grade.command}",
                model=f"replay:{recording}",
                policy="permissive",
            ),
        ).id
        drive(client, fork, "approve", grade.timeout_s + 120, after=at, reconnect=self.connect)
        result = graders.command_result(grade.command, grade.exit_code, list(client.events(fork)))
        return GradeResult(result.kind, result.passed, f"{result.detail} (in fork {fork})")

    def _judge(
        self,
        client: Client,
        case: Case,
        sid: str,
        events: Sequence[Envelope],
        grade: JudgeGrade,
    ) -> GradeResult:
        from agentctl.config import load_config
        from agentctl.paths import get_paths
        from agentctl.providers import Message, load_provider

        try:
            diff = "".join(f.patch for f in client.diff(sid).files)
        except AgentctlError:
            diff = ""  # no sandbox, or nothing checkpointed: judged without a diff
        prompt = graders.judge_prompt(
            grade,
            case.task,
            graders.final_text(events),
            graders.short(diff, 20_000),
            graders.tool_calls_text(events),
        )
        config = load_config(get_paths().config_file, sections=())
        provider = load_provider(
            grade.model, base_url=grade.base_url, timeout_s=grade.timeout_s, config=config
        )
        messages = [Message("system", graders.JUDGE_SYSTEM), Message("user", prompt)]

        async def ask() -> str:
            async with provider:
                return (await provider.complete(messages, [], step=0)).text

        return graders.judge_verdict(asyncio.run(ask()))
