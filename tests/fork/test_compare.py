"""`compare` and the other pure parts of replay, on synthetic event lists."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from agentctl.divergence import Divergence, args_hash, compare, executed_calls
from agentctl.policy import load_policy, policy_toml, preset
from agentctl.providers.recording import load_recording
from agentctl.replay import script_of, write_session_recording


@dataclass
class Ev:
    seq: int
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))


class Log:
    """Builds a log the way the step machine writes one."""

    def __init__(self, task: str = "t") -> None:
        self.events: list[Ev] = []
        created = {
            "task": task,
            "model": "replay:x.jsonl",
            "tools": ["shell"],
            "policy": preset("default").to_dict(),
            "sandbox": {"image": "img"},
            "version": "0",
        }
        self.add("session.created", created)
        self.status("running", "created")

    def add(self, type_: str, data: dict[str, Any] | None = None) -> Log:
        self.events.append(Ev(len(self.events) + 1, type_, data or {}))
        return self

    def status(self, status: str, reason: str = "", **extra: Any) -> Log:
        return self.add("session.status", {"status": status, "reason": reason, **extra})

    def respond(self, *calls: tuple[str, str, dict[str, Any]], text: str = "") -> Log:
        tool_calls = [{"id": i, "name": n, "args": a} for i, n, a in calls]
        return self.add(
            "model.responded",
            {
                "text": text,
                "tool_calls": tool_calls,
                "usage": {"input_tokens": 1, "output_tokens": 2},
            },
        )

    def run(self, call_id: str, name: str, args: dict[str, Any], exit_code: int | None = 0) -> Log:
        self.add(
            "tool.proposed",
            {"call_id": call_id, "name": name, "args": args, "tier": "allow", "rule": "r"},
        )
        self.add(
            "tool.started", {"call_id": call_id, "name": name, "args": args, "idempotency_key": "k"}
        )
        return self.add("tool.finished", {"call_id": call_id, "exit_code": exit_code, "output": ""})

    def refuse(self, call_id: str, name: str, args: dict[str, Any]) -> Log:
        self.add(
            "tool.proposed",
            {"call_id": call_id, "name": name, "args": args, "tier": "deny", "rule": "r"},
        )
        return self.add(
            "tool.finished",
            {"call_id": call_id, "exit_code": None, "output": "", "error": "denied"},
        )

    def step(self, call_id: str, command: str, exit_code: int = 0) -> Log:
        args = {"command": command}
        return self.respond((call_id, "shell", args)).run(call_id, "shell", args, exit_code)


def two_steps(second_exit: int = 0, second_command: str = "make test") -> Log:
    return (
        Log()
        .step("c1", "echo 1 > f1.txt")
        .step("c2", second_command, second_exit)
        .respond(text="done")
        .status("completed")
    )


def test_identical_runs_have_no_divergence() -> None:
    assert compare(two_steps().events, two_steps().events) is None


def test_timestamps_seqs_and_outputs_do_not_matter() -> None:
    replay = two_steps()
    replay.events.insert(2, Ev(0, "sandbox.created", {"container": "x", "image": "y"}))
    for i, event in enumerate(replay.events, start=1):
        event.seq = i
        if event.type == "tool.finished":
            event.data["output"] = "other output"
            event.data["duration_ms"] = 99.0
    assert compare(two_steps().events, replay.events) is None


def test_an_exit_code_that_differs_names_the_step() -> None:
    divergence = compare(two_steps().events, two_steps(second_exit=1).events)
    assert divergence is not None
    assert (divergence.kind, divergence.step, divergence.index) == ("exit_code", 2, 1)
    assert divergence.original is not None and divergence.replay is not None
    assert (divergence.original.exit_code, divergence.replay.exit_code) == (0, 1)
    assert divergence.replay.name == "shell" and divergence.replay.call_id == "c2"
    assert "step 2" in divergence.describe() and "exited 1" in divergence.describe()
    data = divergence.to_dict()
    assert data["replay"]["exit_code"] == 1 and data["message"] == divergence.describe()


def test_arguments_that_differ_are_a_hash_divergence() -> None:
    divergence = compare(two_steps().events, two_steps(second_command="make check").events)
    assert divergence is not None and divergence.kind == "args"
    assert divergence.original is not None and divergence.replay is not None
    assert divergence.original.args_hash == args_hash({"command": "make test"})
    assert divergence.replay.args_hash == args_hash({"command": "make check"})


def test_another_tool_is_a_tool_divergence() -> None:
    other = Log().step("c1", "echo 1 > f1.txt")
    other.respond(("c2", "read_file", {"path": "x"})).run("c2", "read_file", {"path": "x"})
    other.respond(text="done").status("completed")
    divergence = compare(two_steps().events, other.events)
    assert divergence is not None and divergence.kind == "tool" and divergence.step == 2


def test_fewer_or_more_calls() -> None:
    short = Log().step("c1", "echo 1 > f1.txt").respond(text="done").status("completed")
    missing = compare(two_steps().events, short.events)
    assert missing is not None and missing.kind == "missing" and missing.step == 2
    assert missing.replay is None and missing.original is not None
    extra = compare(short.events, two_steps().events)
    assert extra is not None and extra.kind == "extra" and extra.index == 1


def test_a_refused_call_is_not_an_executed_call() -> None:
    refused = Log().step("c1", "echo 1 > f1.txt")
    refused.respond(("c2", "shell", {"command": "make test"})).refuse(
        "c2", "shell", {"command": "make test"}
    )
    refused.respond(text="done").status("completed")
    assert [c.call_id for c in executed_calls(refused.events)] == ["c1"]
    divergence = compare(two_steps().events, refused.events)
    assert divergence is not None and divergence.kind == "missing" and divergence.step == 2


def test_same_calls_but_another_end_is_a_status_divergence() -> None:
    paused = Log().step("c1", "echo 1 > f1.txt").step("c2", "make test")
    paused.status("paused", "model error: recording exhausted")
    divergence = compare(two_steps().events, paused.events)
    assert divergence == Divergence("status", 2, 2, None, None, "completed", "paused")
    assert "completed (original) vs paused (replay)" in divergence.describe()


def test_the_args_that_ran_count_not_the_args_proposed() -> None:
    """An approver who edited the arguments: the replay must run the edited ones."""
    edited = Log().respond(("c1", "shell", {"command": "rm -rf build"}))
    edited.add(
        "tool.started",
        {
            "call_id": "c1",
            "name": "shell",
            "args": {"command": "rm -rf build/tmp"},
            "idempotency_key": "k",
        },
    )
    edited.add("tool.finished", {"call_id": "c1", "exit_code": 0, "output": ""})
    (call,) = executed_calls(edited.events)
    assert call.args_hash == args_hash({"command": "rm -rf build/tmp"})


def test_args_hash_is_canonical() -> None:
    assert args_hash({"b": 1, "a": "é"}) == args_hash({"a": "é", "b": 1})
    assert args_hash({"a": 1}) != args_hash({"a": "1"})


def test_a_call_rerun_after_a_crash_counts_once() -> None:
    log = Log().respond(("c1", "read_file", {"path": "x"}))
    log.add(
        "tool.started",
        {"call_id": "c1", "name": "read_file", "args": {"path": "x"}, "idempotency_key": "k1"},
    )
    log.add(
        "tool.started",
        {"call_id": "c1", "name": "read_file", "args": {"path": "x"}, "idempotency_key": "k2"},
    )
    log.add("tool.finished", {"call_id": "c1", "exit_code": 0, "output": ""})
    assert len(executed_calls(log.events)) == 1


# --- the script a replay follows ---------------------------------------------------------


def test_script_keeps_each_decision_by_step_and_call() -> None:
    log = Log().step("c1", "ls")
    log.respond(("c2", "shell", {"command": "rm x"}), ("c3", "shell", {"command": "rm y"}))
    log.add(
        "approval.requested",
        {
            "approval_id": "a1",
            "call_id": "c2",
            "name": "shell",
            "args": {"command": "rm x"},
            "tier": "ask",
        },
    )
    log.add(
        "approval.decided",
        {
            "approval_id": "a1",
            "decision": "approved",
            "approver": "ann",
            "args": {"command": "rm -i x"},
            "reason": "safer",
        },
    )
    log.add(
        "approval.requested",
        {
            "approval_id": "a2",
            "call_id": "c3",
            "name": "shell",
            "args": {"command": "rm y"},
            "tier": "ask",
        },
    )
    log.add(
        "approval.decided",
        {"approval_id": "a2", "decision": "denied", "approver": "ann", "reason": "keep y"},
    )
    script = script_of(log.events)
    approve, deny = script.answer(2, "c2"), script.answer(2, "c3")
    assert (approve.approve, approve.args, approve.reason) == (
        True,
        {"command": "rm -i x"},
        "safer",
    )
    assert (deny.approve, deny.reason, deny.cancel) == (False, "keep y", False)
    assert script.answer(1, "c1").approve  # ran without asking in the original
    assert not script.answer(3, "c9").approve  # never ran


def test_script_knows_a_cancel_and_the_later_messages() -> None:
    log = Log().step("c1", "ls").respond(text="first answer").status("completed")
    log.add("message.user", {"text": "now do more"}).status("running", "new message")
    log.status("paused", "budget")
    log.status("running", "resumed", budget={"max_steps": 9})
    log.respond(("c2", "shell", {"command": "rm x"}))
    log.add(
        "approval.requested",
        {"approval_id": "a1", "call_id": "c2", "name": "shell", "args": {}, "tier": "ask"},
    )
    log.add(
        "approval.decided",
        {"approval_id": "a1", "decision": "denied", "approver": "agentctl", "reason": "stop"},
    )
    log.status("cancelled", "stop")
    script = script_of(log.events)
    assert [
        (w.step, w.message, w.budget.max_steps if w.budget else None) for w in script.wakes
    ] == [
        (2, "now do more", None),
        (2, None, 9),
    ]
    assert script.answer(3, "c2").cancel


# --- recordings and policies ---------------------------------------------------------------


def test_a_session_recording_reads_back(tmp_path: Any) -> None:
    log = two_steps()
    buffer = io.StringIO()
    assert write_session_recording(log.events, "ses_x", buffer) == 3
    path = tmp_path / "r.jsonl"
    path.write_text(buffer.getvalue())
    recording = load_recording(path)
    assert recording.header.session == "ses_x" and recording.header.task == "t"
    assert [r.text for r in recording.responses] == ["", "", "done"]
    assert recording.responses[1].tool_calls[0].arguments == {"command": "make test"}


def _rules(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in rule.items() if k != "line"} for rule in policy["rules"]]


@pytest.mark.parametrize("name", ["default", "strict", "permissive"])
def test_a_stored_policy_written_back_is_the_same_policy(tmp_path: Any, name: str) -> None:
    stored = preset(name).to_dict()
    path = tmp_path / "policy.toml"
    path.write_text(policy_toml(stored))
    again = load_policy(str(path)).to_dict()
    assert _rules(again) == _rules(stored)
    assert (again["default_tier"], again["network"]) == (stored["default_tier"], stored["network"])


def test_a_policy_with_timeouts_round_trips(tmp_path: Any) -> None:
    from agentctl.policy import parse_policy

    text = """
default = "deny"
network = false
[[rule]]
tool = "shell"
command = '^\\s*git\\s+"push"'
tier = "ask"
timeout = "10m"
on_expiry = "pause"
"""
    stored = parse_policy(text, source="p.toml").to_dict()
    path = tmp_path / "again.toml"
    path.write_text(policy_toml(stored))
    again = load_policy(str(path)).to_dict()
    assert again["rules"][0] | {"line": None} == stored["rules"][0] | {"line": None}
    assert (again["default_tier"], again["network"]) == ("deny", False)


def test_a_policy_with_approvers_escalation_argument_globs_and_hints_round_trips(
    tmp_path: Any,
) -> None:
    """Everything a stored policy says comes back: a replay (and an eval case made from a
    session) is judged by the same rules, not by a weaker copy of them."""
    from agentctl.policy import parse_policy

    text = """
default = "ask"
network = true
hints = false
[[rule]]
tool = "mcp.fs.write_file"
args = { path = "/workspace/docs/*", "mode \\"x\\"" = "w*" }
tier = "ask"
timeout = "5m"
on_expiry = "pause"
approvers = ["alice", "bob@example.com"]
escalate = [{ approvers = ["carol"], timeout = "30m" }, { approvers = ["dave"], timeout = 60 }]
name = "docs need two looks"
[[rule]]
tool = "shell"
command = "rm *"
tier = "deny"
"""
    stored = parse_policy(text, source="p.toml").to_dict()
    rule = stored["rules"][0]
    assert rule["approvers"] and rule["escalate"] and rule["args"] and stored["hints"] is False
    path = tmp_path / "again.toml"
    path.write_text(policy_toml(stored))
    again = load_policy(str(path)).to_dict()
    assert _rules(again) == _rules(stored)
    assert {k: v for k, v in again.items() if k not in ("rules", "name")} == {
        k: v for k, v in stored.items() if k not in ("rules", "name")
    }
