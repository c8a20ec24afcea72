"""Odd and oversized model replies: an error result the model sees, or a clean, explained end.

Never "paused: internal error" with a traceback, and the daemon answers throughout.
"""

from __future__ import annotations

import json

from agentctl.client import Client
from tests.support.hostile import assert_alive, events, run_to_end

from .server import HostileModelServer, Raw, completion, shell


def test_a_reply_larger_than_an_event_is_cut_and_says_so(
    daemon: Client, model: HostileModelServer
) -> None:
    model.send(completion("A" * 3_000_000))
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    responded = events(daemon, sid, "model.responded")[0]
    text = responded.data["text"]
    assert len(text.encode()) < 300_000
    assert "[cut: 3000002 bytes, more than the 256000 the log keeps of it]" in text
    assert_alive(daemon)


def test_control_characters_that_bloat_json_are_cut_by_their_json_size(
    daemon: Client, model: HostileModelServer
) -> None:
    model.send(completion("\x01" * 400_000))  # 6 bytes of JSON each
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    responded = events(daemon, sid, "model.responded")[0]
    assert len(json.dumps(responded.data["text"])) < 300_000


def test_call_arguments_too_large_for_the_log_are_an_error_result(
    daemon: Client, model: HostileModelServer
) -> None:
    big = json.dumps({"path": "big.txt", "content": "x" * 2_000_000})
    model.send(completion("writing", [("c1", "write_file", big)]))
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    (finished,) = events(daemon, sid, "tool.finished")
    assert "more than the 512000 the calls of one reply may carry" in finished.data["error"]
    (told,) = model.tool_results()
    assert "split the work into smaller calls" in told["content"]
    assert_alive(daemon)


def test_nul_bytes_in_text_and_arguments(daemon: Client, model: HostileModelServer) -> None:
    model.send(completion("a\x00b", [("c\x00d", "read_file", json.dumps({"path": "x\x00y"}))]))
    sid, status = run_to_end(daemon, model)
    assert status == "completed", daemon.session(sid).reason
    responded = events(daemon, sid, "model.responded")[0]
    assert responded.data["text"] == "a\ufffdb"
    (call,) = responded.data["tool_calls"]
    assert call["id"] == "call_0_0"  # not the model's: a NUL is no id
    (finished,) = events(daemon, sid, "tool.finished")
    assert "NUL byte" in finished.data["error"]
    assert_alive(daemon)


def test_lone_surrogates_are_replaced(daemon: Client, model: HostileModelServer) -> None:
    # json.dumps writes "\ud800" as an escape: valid JSON, but no UTF-8 text
    model.send(completion("x\ud800y", [("c1", "read_file", json.dumps({"path": "\udfff"}))]))
    sid, status = run_to_end(daemon, model)
    assert status == "completed", daemon.session(sid).reason
    responded = events(daemon, sid, "model.responded")[0]
    assert responded.data["text"] == "x\ufffdy"


def test_negative_token_counts_fail_the_session_with_a_reason(
    daemon: Client, model: HostileModelServer
) -> None:
    model.send(completion("hi", prompt_tokens=-1_000_000, completion_tokens=5))
    sid, status = run_to_end(daemon, model, budget={"max_tokens": 100})
    assert status == "failed"
    reason = daemon.session(sid).reason
    assert "invalid token count (input_tokens=-1000000)" in reason, reason
    assert "internal error" not in reason
    assert daemon.session(sid).input_tokens == 0
    assert_alive(daemon)


def test_absurd_token_counts_fail_too(daemon: Client, model: HostileModelServer) -> None:
    model.send(completion("hi", prompt_tokens=10, completion_tokens=10**15))
    sid, status = run_to_end(daemon, model)
    assert status == "failed"
    assert "output_tokens=1000000000000000" in daemon.session(sid).reason


def test_arguments_that_are_not_json_are_an_error_result(
    daemon: Client, model: HostileModelServer
) -> None:
    model.send(completion("", [("c1", "read_file", "{not json"), ("c2", "read_file", "[1, 2]")]))
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    errors = [e.data["error"] for e in events(daemon, sid, "tool.finished")]
    assert "are not valid JSON" in errors[0]
    assert "must be a JSON object" in errors[1]


def test_hostile_ids_and_names(daemon: Client, model: HostileModelServer) -> None:
    calls = [
        ("a" * 300, "read_file", json.dumps({"path": "x"})),
        ("dup", "read_file", json.dumps({"path": "x"})),
        ("dup", "read_file", json.dumps({"path": "y"})),
        ("\x1b[2J", "read_file", json.dumps({"path": "x"})),
        ("ok", "../../bin/sh", "{}"),
        ("ok2", "shell\x1b]0;t\x07" + "n" * 500, "{}"),
    ]
    model.send(completion("", calls))
    sid, status = run_to_end(daemon, model)
    assert status == "completed", daemon.session(sid).reason
    responded = events(daemon, sid, "model.responded")[0]
    ids = [c["id"] for c in responded.data["tool_calls"]]
    assert ids == ["call_0_0", "dup", "dup_2", "call_0_3", "ok", "ok2"]
    assert len(responded.data["tool_calls"][5]["name"]) < 200
    finished = events(daemon, sid, "tool.finished")
    assert [f.data["call_id"] for f in finished] == ids
    assert "unknown tool '../../bin/sh'" in finished[4].data["error"]
    # the conversation echoes the ids the log holds, so the model can pair results
    assert [m["tool_call_id"] for m in model.tool_results()] == ids


def test_too_many_calls_in_one_reply(daemon: Client, model: HostileModelServer) -> None:
    calls = [(f"c{i}", "read_file", json.dumps({"path": "x"})) for i in range(1000)]
    model.send(completion("", calls))
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    assert len(events(daemon, sid, "tool.finished")) == 64


def test_bodies_that_are_not_a_completion(daemon: Client, model: HostileModelServer) -> None:
    for body in (b"\x00\xff garbage", b'{"choices": "no"}', b"[]", b'{"choices": [{}]}'):
        model.reset()
        model.send(*[Raw(body)] * 10)  # every retry gets it too
        sid, status = run_to_end(daemon, model)
        assert status in ("failed", "paused"), body
        reason = daemon.session(sid).reason
        assert reason.startswith("model error:"), reason
        assert "internal error" not in reason
    assert_alive(daemon)


def test_a_shell_call_without_a_sandbox_is_an_error_result(
    daemon: Client, model: HostileModelServer
) -> None:
    model.send(completion("", [("c1", "shell", shell("id"))]))
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    (finished,) = events(daemon, sid, "tool.finished")
    assert finished.data["error"] == "this session has no sandbox"


def test_ids_made_unique_never_collide_with_the_models(
    daemon: Client, model: HostileModelServer
) -> None:
    calls = [(cid, "read_file", json.dumps({"path": "x"})) for cid in ("x", "x", "x_1")]
    model.send(completion("", calls))
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    ids = [c["id"] for c in events(daemon, sid, "model.responded")[0].data["tool_calls"]]
    assert ids == ["x", "x_1", "x_1_2"]
    assert len(events(daemon, sid, "tool.finished")) == 3  # none folded into another


def test_one_oversized_call_does_not_starve_the_others(
    daemon: Client, model: HostileModelServer
) -> None:
    big = json.dumps({"path": "big.txt", "content": "x" * 600_000})
    small = json.dumps({"path": "x"})
    model.send(completion("", [("c1", "write_file", big), ("c2", "read_file", small)]))
    sid, status = run_to_end(daemon, model)
    assert status == "completed"
    first, second = (e.data for e in events(daemon, sid, "tool.finished"))
    assert "more than the 512000" in first["error"]
    assert second["error"] == "this session has no sandbox"  # it was proposed, not refused
