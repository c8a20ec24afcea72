"""`agentctl eval` on a suite with a passing and a failing case, in real Docker sandboxes.

The suite (tests/evals/suites/ci.toml) runs the demo's recording (the agent
fixes the bug: every grader passes) and an agent that looks and stops (its
command grader fails in the sandbox, and prints escape sequences and Rich
markup on purpose). Checked: the exit code of the `--min-pass-rate` gate on
both sides of the pass rate, the JSON document, the JUnit XML (parsed), the
table's escaping, and that every case was a session of the daemon.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.client import Client
from tests.support.cli import ROOT, Run

pytestmark = pytest.mark.docker

SUITE = ROOT / "tests" / "evals" / "suites" / "ci.toml"
SMOKE = ROOT / "recordings" / "evals" / "smoke.toml"


@pytest.fixture
def cleanup(docker_client: object, daemon: Client) -> Iterator[None]:
    """Remove the containers and checkpoint images of this test's sessions (nothing else)."""
    yield
    from sandboxes import DockerSandboxDriver

    driver = DockerSandboxDriver()
    for session in daemon.sessions():
        try:
            driver.remove_stream(session.id)
            for checkpoint in driver.list_checkpoints(session.id):
                driver.client.images.remove(checkpoint.image, force=True)
        except Exception as exc:  # cleanup must not hide the test's result
            print(f"cleanup of {session.id}: {exc}", file=sys.stderr)


def test_a_passing_and_a_failing_case_gate_json_junit(
    daemon: Client, cli: Run, cleanup: None, tmp_path: Path
) -> None:
    junit = tmp_path / "eval.xml"
    result = cli(
        "eval", str(SUITE), "--repeat", "2", "--parallel", "2", "--min-pass-rate", "0.75",
        "--json", "--junit", str(junit), timeout=600,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # 2 of 4 runs pass: below the gate
    doc = json.loads(result.stdout)
    assert doc["gate_passed"] is False and doc["min_pass_rate"] == 0.75
    overall = doc["overall"]
    assert (overall["runs"], overall["passed"], overall["pass_rate"]) == (4, 2, 0.5)
    cases = {case["name"]: case for case in doc["cases"]}
    good, bad = cases["demo-fix"], cases["looks-and-stops"]
    assert (good["runs"], good["passed"]) == (2, 2)
    assert (bad["runs"], bad["passed"]) == (2, 0)
    # the demo runs its failing test once: 1 failed tool call of 6, per run
    assert (good["tool_calls"], good["tool_errors"], good["steps_mean"]) == (12, 2, 6.0)
    assert bad["cost_usd_total"] == pytest.approx(0.004)
    assert bad["tokens_total"] == 2 * (400 + 30 + 450 + 20)
    for attempt in bad["attempts"]:
        grades = {g["kind"]: g for g in attempt["grades"]}
        assert grades["status"]["passed"]  # it completed: what it did was wrong
        assert not grades["command"]["passed"] and "exited 1" in grades["command"]["detail"]
        assert not grades["tool"]["passed"]
    for attempt in good["attempts"]:
        assert attempt["passed"] and attempt["approvals"] == 1  # the edit asked; approved
        assert [g["kind"] for g in attempt["grades"]] == ["status", "command", "file", "tool"]

    # every run was a session of the daemon, labelled (and the command graders' forks)
    sessions = {s.id: s for s in daemon.sessions()}
    runs = [a for case in doc["cases"] for a in case["attempts"]]
    for attempt in runs:
        labels = sessions[attempt["session"]].labels
        assert labels["eval_suite"] == "ci" and labels["eval_case"] == attempt["case"]
    forks = [s for s in sessions.values() if s.parent is not None]
    assert {f.parent.session for f in forks if f.parent} == {a["session"] for a in runs}

    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    testcases = root.findall("./testsuite/testcase")
    assert sorted(tc.get("name") or "" for tc in testcases) == [
        "demo-fix#1", "demo-fix#2", "looks-and-stops#1", "looks-and-stops#2",
    ]  # fmt: skip
    failed = [tc for tc in testcases if tc.find("failure") is not None]
    assert {tc.get("classname") for tc in failed} == {"ci.looks-and-stops"}
    failure = failed[0].find("failure")
    assert failure is not None and "command" in (failure.get("message") or "")
    assert "\x1b" not in (failure.text or "")  # XML cannot hold it; replaced

    # the gate at the pass rate passes; the table escapes what the sandbox printed
    table = cli("eval", str(SUITE), "--min-pass-rate", "0.5", timeout=600)
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout
    assert "[bold red]boom[/]" in table.stdout  # shown as text, not as markup
    assert "looks-and-stops#1" in table.stdout and "overall" in table.stdout


def test_the_shipped_smoke_suite_passes(daemon: Client, cli: Run, cleanup: None) -> None:
    result = cli("eval", str(SMOKE), "--min-pass-rate", "1", "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["overall"]["passed"] == doc["overall"]["runs"] == 1
