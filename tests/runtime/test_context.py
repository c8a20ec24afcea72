"""Context compaction end to end: a real DuckDB log, a real loopback HTTP server speaking
the OpenAI chat API (a scripted model that reads each request and, like a real server,
refuses one longer than its context window), the real replay and fork machinery.

The model calls the `blob` tool (2 KB of output a call) twelve times, then answers.
Twelve results do not fit its 3,072-token window: without compaction the session fails
with the server's "maximum context length"; with it, it compacts and completes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from agentctl.divergence import compare
from agentctl.paths import get_paths
from agentctl.policy import policy_toml
from agentctl.protocol import (
    SUMMARY_HEADER,
    ContextCompacted,
    ContextPolicy,
    CreateSession,
    ForkSession,
    ResumeSession,
    SessionStatus,
)
from agentctl.providers.retry import reset_breakers
from agentctl.replay import replay_request, write_session_recording
from agentctl.runtime import Runtime
from agentctl.runtime.context import SUMMARY_PROMPT
from agentctl.tools import Tool, ToolContext, ToolOutcome
from store import DuckDBEventStore
from tests.providers.fake_server import FakeModelServer, Reply

from .harness import registry, settle, start_runtime

WINDOW = 3072  # the server's context, in tokens of 4 characters (the tools' schemas count)
CALLS = 12
TASK = "Call blob until it has been called twelve times, then say done."


class BlobArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


def blob_tool() -> Tool:
    def run(ctx: ToolContext, args: BlobArgs) -> ToolOutcome:
        return ToolOutcome(exit_code=0, output=f"blob {args.n}\n" + "x" * 2000)

    return Tool("blob", "print a blob", BlobArgs, idempotent=True, run=run, needs_sandbox=False)


def _tokens(body: dict[str, Any]) -> int:
    return math.ceil(len(json.dumps(body["messages"]) + json.dumps(body.get("tools", []))) / 4)


def _reply(body: dict[str, Any], message: dict[str, Any], n: int) -> Reply:
    usage = {"prompt_tokens": _tokens(body), "completion_tokens": 10}
    return Reply.json(
        {
            "id": f"r{n}",
            "object": "chat.completion",
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage,
        }
    )


def model(body: Any) -> Reply:
    """A deterministic model: blob 1..CALLS, then `done`; a summary when asked for one."""
    if _tokens(body) > WINDOW:
        return Reply.error(
            400, f"This model's maximum context length is {WINDOW} tokens; got {_tokens(body)}"
        )
    messages = body["messages"]
    if messages[0]["content"] == SUMMARY_PROMPT:
        seen = sorted({int(w) for w in messages[1]["content"].split() if w.isdigit()})
        text = f"blob was called for {seen[:3]}...; continue from the last result."
        return _reply(body, {"role": "assistant", "content": text}, 0)
    last = messages[-1]
    if last["role"] == "tool":
        n = int(last["content"].split()[1]) + 1
    elif last["content"] == TASK:
        n = 1
    else:  # a later user message: answered in words
        return _reply(body, {"role": "assistant", "content": "noted: " + last["content"]}, 99)
    if n > CALLS:
        return _reply(body, {"role": "assistant", "content": "done"}, n)
    call = {
        "id": f"call_{n}",
        "type": "function",
        "function": {"name": "blob", "arguments": json.dumps({"n": n})},
    }
    return _reply(body, {"role": "assistant", "content": "", "tool_calls": [call]}, n)


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    reset_breakers()
    fake = FakeModelServer()
    fake.start()
    fake.responder = model
    yield fake
    fake.stop()
    reset_breakers()


def write_config(url: str, window: int | None) -> None:
    lines = ["[providers.local]", f'base_url = "{url}/v1"', "stream = false"]
    if window is not None:
        lines.append(f"context_window = {window}")
    get_paths().ensure().config_file.write_text("\n".join(lines) + "\n")


async def runtime(tmp_path: Path) -> Runtime:
    return await start_runtime(DuckDBEventStore(tmp_path / "events.duckdb"), registry(blob_tool()))


def request(**kwargs: Any) -> CreateSession:
    return CreateSession(task=TASK, model="local:m", image="none", policy="permissive", **kwargs)


def chats(server: FakeModelServer) -> list[list[dict[str, Any]]]:
    """The conversations the server was sent (summary requests left out)."""
    return [
        r.body["messages"]
        for r in server.requests
        if r.body["messages"][0]["content"] != SUMMARY_PROMPT
    ]


def assert_pairs_whole(messages: list[dict[str, Any]]) -> None:
    """Every tool result follows the assistant turn that called it, and every call has its
    result: a request never starts or ends a tool exchange half-way."""
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "assistant":
            assert not open_calls, f"calls without results: {open_calls}"
            open_calls = {c["id"] for c in message.get("tool_calls") or []}
        elif message["role"] == "tool":
            assert message["tool_call_id"] in open_calls, message["tool_call_id"]
            open_calls.discard(message["tool_call_id"])


def compactions(rt: Runtime, sid: str) -> list[dict[str, Any]]:
    return [e.data for e in rt.store.read_stream(sid) if e.type == ContextCompacted.TYPE]


async def test_without_compaction_the_session_fails_on_the_servers_context_limit(
    tmp_path: Path, server: FakeModelServer
) -> None:
    write_config(server.url, window=None)
    rt = await runtime(tmp_path)
    try:
        sid = await rt.create_session(request())
        assert await settle(rt, sid) is SessionStatus.FAILED
        assert "maximum context length" in rt.journal.state(sid).reason
        assert compactions(rt, sid) == []
    finally:
        await rt.stop()


async def test_a_session_past_its_window_compacts_completes_and_replays_identically(
    tmp_path: Path, server: FakeModelServer
) -> None:
    write_config(server.url, window=WINDOW)
    rt = await runtime(tmp_path)
    try:
        sid = await rt.create_session(request())
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        state = rt.journal.state(sid)
        assert state.last_assistant_text == "done" and state.steps == CALLS + 1
        done = compactions(rt, sid)
        assert len(done) >= 2  # twelve 2 KB results in a 12 KB window: more than once
        for c in done:
            assert c["tokens_before"] > 0.8 * WINDOW > c["tokens_after"]
            assert c["window"] == WINDOW and c["model"] == "local:m"
            assert c["replaced_from_seq"] <= c["replaced_to_seq"] < c["kept_from_seq"]
            assert c["usage"]["input_tokens"] > 0  # the summary call's own usage
        # Every request fit the window, and kept each tool call with its result.
        sent = chats(server)
        assert all(_tokens(r.body) <= WINDOW for r in server.requests)
        for messages in sent:
            assert_pairs_whole(messages)
        # After a compaction the request is: system, task, summary, the turns after the cut.
        last = sent[-1]
        assert [m["role"] for m in last[:3]] == ["system", "user", "user"]
        assert last[1]["content"] == TASK
        assert last[2]["content"] == f"{SUMMARY_HEADER}\n{done[-1]['summary']}"
        kept_ids = {m["tool_call_id"] for m in last if m["role"] == "tool"}
        assert "call_1" not in kept_ids and f"call_{CALLS}" in kept_ids
        # The full history stays in the log: every result is there.
        events = list(rt.store.read_stream(sid))
        finished = [e.data["call_id"] for e in events if e.type == "tool.finished"]
        assert finished == [f"call_{n}" for n in range(1, CALLS + 1)]
        # Each request recorded its estimated size.
        sizes = [e.data["context_tokens"] for e in events if e.type == "model.requested"]
        assert all(isinstance(s, int) and 0 < s <= WINDOW for s in sizes)

        # The replay: the recording holds the summaries; the model is not asked again.
        asked = len(server.requests)
        folder = tmp_path / "replay"
        folder.mkdir()
        recording = folder / "r.jsonl"
        with recording.open("w") as fp:
            write_session_recording(events, sid, fp)
        policy = folder / "p.toml"
        policy.write_text(policy_toml(state.created["policy"]))
        rid = await rt.create_session(replay_request(events, sid, recording, policy, "none"))
        assert await settle(rt, rid) is SessionStatus.COMPLETED
        assert len(server.requests) == asked
        replayed = list(rt.store.read_stream(rid))
        assert compare(events, replayed) is None
        again = compactions(rt, rid)
        keys = ("summary", "kept_from_seq", "replaced_from_seq", "replaced_to_seq")
        assert [{k: c[k] for k in keys} for c in again] == [{k: c[k] for k in keys} for c in done]
        assert [c["tokens_before"] for c in again] == [c["tokens_before"] for c in done]
        assert [e.type for e in replayed] == [e.type for e in events]
    finally:
        await rt.stop()


async def test_a_fork_after_a_compaction_keeps_it_and_a_resume_builds_on_it(
    tmp_path: Path, server: FakeModelServer
) -> None:
    write_config(server.url, window=WINDOW)
    rt = await runtime(tmp_path)
    try:
        sid = await rt.create_session(request())
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        events = list(rt.store.read_stream(sid))
        first = next(e for e in events if e.type == ContextCompacted.TYPE)
        summary = first.data["summary"]

        # A fork cut right after the first compaction continues from its summary.
        server.requests.clear()
        fid = await rt.fork(sid, ForkSession(at=first.seq))
        assert await settle(rt, fid) is SessionStatus.COMPLETED
        forked = list(rt.store.read_stream(fid))
        assert next(e.data for e in forked if e.type == ContextCompacted.TYPE) == first.data
        request_after = chats(server)[0]
        assert request_after[2]["content"] == f"{SUMMARY_HEADER}\n{summary}"
        kept_from = first.data["kept_from_seq"]
        kept = {
            e.data["call_id"] for e in events if e.type == "tool.finished" and e.seq >= kept_from
        }
        sent = {m["tool_call_id"] for m in request_after if m["role"] == "tool"}
        assert sent and sent <= kept  # none of the replaced results was sent again
        assert rt.journal.state(fid).last_assistant_text == "done"

        # A resume of the compacted session: its request is built from the last summary.
        server.requests.clear()
        await rt.resume(sid, ResumeSession(message="and what now?"))
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        (resumed,) = chats(server)
        last_summary = compactions(rt, sid)[-1]["summary"]
        assert resumed[2]["content"] == f"{SUMMARY_HEADER}\n{last_summary}"
        assert resumed[-1] == {"role": "user", "content": "and what now?"}
        assert rt.journal.state(sid).last_assistant_text == "noted: and what now?"
    finally:
        await rt.stop()


async def test_a_restarted_runtime_folds_the_compacted_conversation_from_the_log(
    tmp_path: Path, server: FakeModelServer
) -> None:
    write_config(server.url, window=WINDOW)
    rt = await runtime(tmp_path)
    sid = await rt.create_session(request())
    assert await settle(rt, sid) is SessionStatus.COMPLETED
    before = rt.journal.state(sid).transcript
    await rt.stop()
    rt.store.close()
    rt = await runtime(tmp_path)
    try:
        after = rt.journal.state(sid).transcript
        assert [(t.role, t.content) for t in after] == [(t.role, t.content) for t in before]
        assert any(t.summary for t in after)
    finally:
        await rt.stop()


def test_a_context_window_is_refused_below_its_floor() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 64"):
        ContextPolicy(window=10)


async def test_a_runtime_stopped_during_the_summary_call_compacts_once_after_its_restart(
    tmp_path: Path, server: FakeModelServer
) -> None:
    import asyncio
    import threading

    asked = threading.Event()

    def hang_first_summary(body: Any) -> Reply:
        if body["messages"][0]["content"] == SUMMARY_PROMPT and not asked.is_set():
            asked.set()
            return Reply.never()
        return model(body)

    server.responder = hang_first_summary
    write_config(server.url, window=WINDOW)
    rt = await runtime(tmp_path)
    sid = await rt.create_session(request())
    assert await asyncio.to_thread(asked.wait, 60)
    await rt.stop()  # as a daemon stopped mid-call: nothing of the summary is in the log
    assert rt.journal.state(sid).status is SessionStatus.RUNNING
    assert compactions(rt, sid) == []
    rt.store.close()
    rt = await runtime(tmp_path)  # the running session goes on, and compacts again
    try:
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        done = compactions(rt, sid)
        assert len(done) >= 2
        assert len({c["kept_from_seq"] for c in done}) == len(done)  # each cut once
        assert rt.journal.state(sid).last_assistant_text == "done"
    finally:
        await rt.stop()


async def test_a_configured_summary_model_writes_the_summaries(
    tmp_path: Path, server: FakeModelServer
) -> None:
    cheap = FakeModelServer()
    cheap.start()
    cheap.responder = model
    try:
        write_config(server.url, window=WINDOW)
        config = get_paths().config_file
        config.write_text(
            config.read_text() + f'\n[providers.cheap]\nbase_url = "{cheap.url}/v1"\n'
            "stream = false\n"
        )
        rt = await runtime(tmp_path)
        try:
            # the request names the summary model; the window still comes from the endpoint
            sid = await rt.create_session(request(context=ContextPolicy(summary_model="cheap:s")))
            assert await settle(rt, sid) is SessionStatus.COMPLETED
            created = rt.journal.state(sid).created["context"]
            assert created["window"] == WINDOW and created["summary_model"] == "cheap:s"
            done = compactions(rt, sid)
            assert done and all(c["model"] == "cheap:s" for c in done)
            summaries = [r for r in cheap.requests if r.body["model"] == "s"]
            assert len(summaries) == len(done) and len(cheap.requests) == len(done)
            assert all(r.body["messages"][0]["content"] == SUMMARY_PROMPT for r in summaries)
            assert not any(
                r.body["messages"][0]["content"] == SUMMARY_PROMPT for r in server.requests
            )
        finally:
            await rt.stop()
    finally:
        cheap.stop()


async def test_a_failed_summary_call_pauses_the_session_and_a_resume_compacts(
    tmp_path: Path, server: FakeModelServer
) -> None:
    refused: list[int] = []

    def refuse_first_summary(body: Any) -> Reply:
        if body["messages"][0]["content"] == SUMMARY_PROMPT and not refused:
            refused.append(1)
            return Reply.error(400, "scripted refusal of the summary")
        return model(body)

    server.responder = refuse_first_summary
    write_config(server.url, window=WINDOW)
    rt = await runtime(tmp_path)
    try:
        sid = await rt.create_session(request())
        assert await settle(rt, sid) is SessionStatus.PAUSED
        reason = rt.journal.state(sid).reason
        assert reason.startswith("context compaction failed:") and "scripted refusal" in reason
        assert compactions(rt, sid) == []
        await rt.resume(sid, ResumeSession())
        assert await settle(rt, sid) is SessionStatus.COMPLETED
        assert compactions(rt, sid) and rt.journal.state(sid).last_assistant_text == "done"
    finally:
        await rt.stop()
