"""A run past its timeout is cancelled and fails; the graders' pure parts (tool patterns,
the judge's verdict, files from an archive, JUnit XML of hostile text)."""

from __future__ import annotations

import io
import json
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agentctl.client import Client
from agentctl.evals import graders, report
from agentctl.evals.runner import CaseRun
from agentctl.evals.suite import FileGrade, ToolGrade
from agentctl.protocol import Envelope
from tests.support.cli import Run, final
from tests.support.daemon import Response, reply


def test_a_run_past_its_timeout_is_cancelled_and_fails(
    daemon: Client, cli: Run, recording: Callable[[list[Response]], str], tmp_path: Path
) -> None:
    model = recording([reply("sleeping", ("wait", {"seconds": 3600})), final()])
    suite = tmp_path / "slow.toml"
    suite.write_text(
        f'[[case]]\nname = "sleeper"\ntask = "sleep"\nmodel = "{model}"\n'
        'image = "none"\ntimeout_s = 2\n'
    )
    result = cli("eval", str(suite), "--json", "--min-pass-rate", "1")
    assert result.returncode == 1, result.stderr
    [attempt] = json.loads(result.stdout)["cases"][0]["attempts"]
    assert attempt["status"] == "cancelled" and "eval timeout" in attempt["reason"]
    assert 2 <= attempt["wall_s"] < 30
    assert daemon.session(attempt["session"]).status.value == "cancelled"


def envelope(seq: int, type: str, **data: object) -> Envelope:
    return Envelope(session="s", seq=seq, offset=seq, ts=datetime.now(UTC), type=type, data=data)


def test_tool_patterns_must_and_must_not() -> None:
    events = [
        envelope(1, "tool.proposed", call_id="a", name="shell", args={"command": "rm -rf build"}),
        envelope(2, "tool.proposed", call_id="b", name="shell", args={"command": "ls"}),
        envelope(3, "tool.proposed", call_id="c", name="read_file", args="{not json"),
    ]
    rm = ToolGrade(kind="tool", tool="shell", args=r'"command":"rm\b')
    assert graders.grade_tool(rm, events).passed
    assert not graders.grade_tool(rm.model_copy(update={"present": False}), events).passed
    assert not graders.grade_tool(rm.model_copy(update={"min_count": 2}), events).passed
    assert graders.grade_tool(ToolGrade(kind="tool", tool="shell", min_count=2), events).passed
    garbled = ToolGrade(kind="tool", tool="read_file", args=r"^\{not")
    assert graders.grade_tool(garbled, events).passed  # a string argument is searched as is
    assert graders.grade_tool(
        ToolGrade(kind="tool", tool="edit_file", present=False), events
    ).passed


def test_the_judges_verdict() -> None:
    assert graders.judge_verdict('{"pass": true, "reason": "ok"}') == graders.GradeResult(
        "judge", True, "ok"
    )
    assert not graders.judge_verdict('Thinking... {"pass": false} done').passed
    assert not graders.judge_verdict('{"pass": "yes"}').passed  # not a boolean
    assert not graders.judge_verdict("PASS").passed


def test_a_file_from_an_archive() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("stats.py")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"x = 1\n"))
    content = graders.file_in_archive(buffer.getvalue())
    assert content == b"x = 1\n"
    grade = FileGrade(kind="file", path="stats.py", matches=r"^x = \d$")
    assert graders.grade_file(grade, content).passed
    assert not graders.grade_file(grade.model_copy(update={"contains": "y"}), content).passed
    assert not graders.grade_file(grade, None).passed
    assert graders.grade_file(grade.model_copy(update={"exists": False}), None).passed
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo("stats.py")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    assert graders.file_in_archive(buffer.getvalue()) is None  # a folder is not the file


def test_junit_of_hostile_text_parses() -> None:
    run = CaseRun(case="c", attempt=1, session="s", status="completed")
    run.grades.append(graders.GradeResult("command", False, "out: \x1b[2J\x00 <b>&</b> ]]>"))
    ok = CaseRun(case="c", attempt=2, session="t", status="completed")
    broken = CaseRun(case="d", attempt=1, error="daemon unreachable")
    root = ET.fromstring(report.junit("s<u>ite", [run, ok, broken], 1.5))
    assert root.get("name") == "s<u>ite"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None and failure.text == "command: out: \ufffd[2J\ufffd <b>&</b> ]]>"
    assert root.find("./testsuite/testcase[@name='d#1']/error") is not None
