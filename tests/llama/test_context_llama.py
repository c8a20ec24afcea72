"""Context compaction against a real llama.cpp server whose context is 512 tokens.

A conversation of long user notes outgrows SmolLM2's 512-token context in a few
turns. Without a declared window the server refuses the request that passes it
and the session fails; with `context_window = 512` the session compacts (the
summary written by the same real model) and answers every note, and its replay
— on the recording of that session, no model called — compacts at the same
points with the same summaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.divergence import compare
from agentctl.paths import Paths
from agentctl.policy import policy_toml
from agentctl.protocol import ContextCompacted, CreateSession, ResumeSession, SessionStatus
from agentctl.providers.retry import reset_breakers
from agentctl.replay import replay_request, script_of, write_session_recording
from agentctl.runtime import Runtime
from store import DuckDBEventStore
from tests.runtime.harness import settle, start_runtime
from tests.support.llama import require

from .server import LlamaServer

pytestmark = pytest.mark.llama

N_CTX = 512
TASK = "I will send you short notes about a garden. Answer each note in one sentence."
TOPICS = ["tomatoes", "roses", "the pond", "the apple tree", "the compost", "the bees"]


def note(i: int, topic: str) -> str:
    return (
        f"Note {i}: today I looked after {topic}. The morning was cold and wet, so I waited "
        f"until noon, then checked every part of {topic}, wrote down what had changed since "
        f"last week, and cleared the weeds around {topic}. Tomorrow I will water {topic} "
        "again, and look for snails, which were everywhere after the rain."
    )


@pytest.fixture(scope="module")
def small_llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    require()
    server = LlamaServer(tmp_path_factory.mktemp("llama512") / "server.log", n_ctx=N_CTX)
    server.start()
    yield server
    server.stop()


def configure(paths: Paths, url: str, window: int | None) -> None:
    lines = [
        "[providers.local]",
        f'base_url = "{url}"',
        "timeout_s = 120",
        "stream = false",  # llama-cpp-python reports usage only when not streaming
        "params = { temperature = 0, seed = 1, max_tokens = 40 }",
    ]
    if window is not None:
        lines.append(f"context_window = {window}")
    paths.config_file.write_text("\n".join(lines) + "\n")
    agents = paths.config / "agents"
    agents.mkdir(parents=True, exist_ok=True)
    (agents / "diary.toml").write_text('model = "local:smol"\ntools = []\n')


async def converse(rt: Runtime, rounds: int) -> tuple[str, SessionStatus]:
    sid = await rt.create_session(
        CreateSession(task=TASK, agent="diary", image="none", policy="permissive")
    )
    status = await settle(rt, sid, timeout=300)
    for i, topic in enumerate(TOPICS[:rounds], start=1):
        if status is not SessionStatus.COMPLETED:
            break
        await rt.resume(sid, ResumeSession(message=note(i, topic)))
        status = await settle(rt, sid, timeout=300)
    return sid, status


async def test_without_a_window_the_real_server_refuses_the_conversation(
    tmp_path: Path, paths: Paths, small_llama: LlamaServer
) -> None:
    reset_breakers()
    configure(paths, small_llama.url, window=None)
    rt = await start_runtime(DuckDBEventStore(tmp_path / "events.duckdb"))
    try:
        sid, status = await converse(rt, rounds=len(TOPICS))
        assert status is SessionStatus.FAILED
        reason = rt.journal.state(sid).reason
        assert f"maximum context length is {N_CTX} tokens" in reason, reason
    finally:
        await rt.stop()


async def test_past_a_real_512_token_window_the_session_compacts_and_replays(
    tmp_path: Path, paths: Paths, small_llama: LlamaServer
) -> None:
    reset_breakers()
    configure(paths, small_llama.url, window=N_CTX)
    rt = await start_runtime(DuckDBEventStore(tmp_path / "events.duckdb"))
    try:
        sid, status = await converse(rt, rounds=len(TOPICS))
        state = rt.journal.state(sid)
        assert status is SessionStatus.COMPLETED, state.reason
        assert state.steps == len(TOPICS) + 1  # every note answered
        events = list(rt.store.read_stream(sid))
        done = [e.data for e in events if e.type == ContextCompacted.TYPE]
        assert done, "the conversation never passed 80% of 512 tokens"
        for c in done:
            assert c["window"] == N_CTX and c["summary"].strip()
            assert c["tokens_after"] < c["tokens_before"]
            assert c["usage"]["input_tokens"] > 0  # the real model wrote it, and counted
        # the server counted every request within its window
        for e in events:
            if e.type == "model.responded":
                used = e.data["usage"]
                assert used["input_tokens"] + used["output_tokens"] <= N_CTX

        # The replay, on this session's recording (`replay:`): no model is called.
        folder = tmp_path / "replay"
        folder.mkdir()
        recording = folder / "r.jsonl"
        with recording.open("w") as fp:
            write_session_recording(events, sid, fp)
        policy = folder / "p.toml"
        policy.write_text(policy_toml(state.created["policy"]))
        request = replay_request(events, sid, recording, policy, "none")
        request = request.model_copy(update={"agent": "diary"})  # its tools: none, as the original
        rid = await rt.create_session(request)
        for wake in script_of(events).wakes:
            assert await settle(rt, rid) is SessionStatus.COMPLETED
            await rt.resume(rid, ResumeSession(message=wake.message))
        assert await settle(rt, rid) is SessionStatus.COMPLETED
        replayed = list(rt.store.read_stream(rid))
        assert compare(events, replayed) is None
        again = [e.data for e in replayed if e.type == ContextCompacted.TYPE]
        assert [c["summary"] for c in again] == [c["summary"] for c in done]
        assert [c["kept_from_seq"] for c in again] == [c["kept_from_seq"] for c in done]
    finally:
        await rt.stop()
