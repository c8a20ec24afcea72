"""`agentctl eval add SUITE --from SESSION`: a session becomes a case with its recording, and
the case runs; a failed session makes a case that fails the gate until it is fixed.
Sessions here need no sandbox (`image = "none"`)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from agentctl.client import Client
from agentctl.protocol import CreateSession
from tests.support.cli import Run, final, read
from tests.support.daemon import Response, wait_status


def session(
    daemon: Client, recording: Callable[[list[Response]], str], replies: list[Response]
) -> str:
    req = CreateSession(task="read f0.txt", model=recording(replies), image="none")
    sid = daemon.create_session(req).id
    wait_status(daemon, sid, "completed", "failed")
    return sid


def test_a_session_becomes_a_case_that_runs(
    daemon: Client, cli: Run, recording: Callable[[list[Response]], str], tmp_path: Path
) -> None:
    sid = session(daemon, recording, [read("f0.txt"), final("read it")])
    suite = tmp_path / "evals" / "mine.toml"
    suite.parent.mkdir()
    added = cli("eval", "add", str(suite), "--from", sid)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"regression-{sid}"
    [case] = tomllib.loads(suite.read_text())["case"]
    assert case["model"] == f"replay:mine/regression-{sid}.jsonl"
    assert case["image"] == "none" and case["task"] == "read f0.txt"
    recorded = (suite.parent / "mine" / f"regression-{sid}.jsonl").read_text().splitlines()
    assert json.loads(recorded[0])["session"] == sid and len(recorded) == 3  # header + 2
    assert (suite.parent / "mine" / f"regression-{sid}.policy.toml").is_file()

    result = cli("eval", str(suite), "--json", "--min-pass-rate", "1")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["overall"]["passed"] == 1
    [attempt] = doc["cases"][0]["attempts"]
    assert attempt["session"] != sid and attempt["steps"] == 2
    assert (attempt["tool_calls"], attempt["tool_errors"]) == (1, 1)  # no sandbox: read fails

    # the same name again: refused, the suite unchanged, nothing else written
    before = suite.read_bytes()
    again = cli("eval", "add", str(suite), "--from", sid)
    assert again.returncode == 2 and "is there already" in again.stderr
    assert suite.read_bytes() == before


def test_a_failed_session_makes_a_failing_regression_case(
    daemon: Client, cli: Run, recording: Callable[[list[Response]], str], tmp_path: Path
) -> None:
    sid = session(daemon, recording, [read("f0.txt")])  # the recording ends too early
    assert daemon.session(sid).status.value == "failed"
    suite = tmp_path / "reg.toml"
    assert cli("eval", "add", str(suite), "--from", sid, "--name", "early-end").returncode == 0
    result = cli("eval", str(suite), "--min-pass-rate", "1", "--json")
    assert result.returncode == 1, result.stderr
    [attempt] = json.loads(result.stdout)["cases"][0]["attempts"]
    status = attempt["grades"][0]
    assert status["kind"] == "status" and not status["passed"]
    assert "ended failed" in status["detail"] and "expected completed" in status["detail"]


def test_a_bad_suite_file_is_left_as_it_was(
    daemon: Client, cli: Run, recording: Callable[[list[Response]], str], tmp_path: Path
) -> None:
    sid = session(daemon, recording, [final("hi")])
    suite = tmp_path / "broken.toml"
    suite.write_text("[[case]\n")
    result = cli("eval", "add", str(suite), "--from", sid)
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    assert suite.read_text() == "[[case]\n"
    assert not (tmp_path / "broken").exists() or not any((tmp_path / "broken").iterdir())
