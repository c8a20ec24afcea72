"""Against a real llama.cpp server (llama-cpp-python, SmolLM2-135M) on loopback.

Plain text streamed as it is generated; the tool-call format of its
function-calling chat handler, including the history it used to refuse
(`"content": null` beside tool calls); tool calls written as text; a
session whose model calls a tool that runs in the sandbox; and the server
killed mid-call, then brought back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentctl.client import Client
from agentctl.config import Config, EndpointConfig
from agentctl.paths import Paths
from agentctl.protocol import LIVE_DELTA, Budget, CreateSession
from agentctl.providers import Message, load_provider
from agentctl.providers.base import Delta, Provider
from agentctl.providers.openai_chat import OpenAIChatProvider
from agentctl.tools import default_registry
from tests.support.daemon import wait_status
from tests.support.llama import write_endpoint

from .server import LlamaServer

pytestmark = pytest.mark.llama

TOOLS = default_registry().specs(["shell", "list_files"])
SYSTEM = Message("system", "You are an agent in a Linux sandbox. Use the tools.")


def smol(url: str, **options: Any) -> Provider:
    options.setdefault("params", {"temperature": 0, "seed": 1, "max_tokens": 48})
    # llama-cpp-python's function calling cannot stream tool_choice "auto"
    options.setdefault("stream_tools", False)
    config = Config(providers={"local": EndpointConfig(base_url=url, timeout_s=120, **options)})
    return load_provider("local:smol", config=config)


async def test_plain_text_streams_before_the_response_ends(llama: LlamaServer) -> None:
    provider = smol(llama.url)
    arrivals: list[tuple[float, str]] = []

    def on_delta(delta: Delta) -> None:
        arrivals.append((time.perf_counter(), delta.text))

    try:
        response = await provider.complete(
            [Message("user", "Write two sentences about the sea.")], [], step=0, on_delta=on_delta
        )
    finally:
        await provider.aclose()
    texts = [text for _, text in arrivals if text]
    assert len(texts) >= 3, arrivals  # token by token, not one block at the end
    assert "".join(texts) == response.text and response.text.strip()
    assert arrivals[0][0] < arrivals[-1][0]
    assert response.first_token_ms is not None and response.first_token_ms < response.latency_ms
    # llama-cpp-python sends no usage in a stream: counted as not reported, cost unknown.
    assert response.usage.reported is False and response.cost_usd is None


async def test_tool_calls_and_the_history_that_carries_them(llama: LlamaServer) -> None:
    provider = smol(llama.url, tool_choice="auto")
    ask = [SYSTEM, Message("user", "Run the command ls")]
    try:
        first = await provider.complete(ask, TOOLS, step=0)
        assert first.tool_calls, first
        call = first.tool_calls[0]
        assert call.name in {"shell", "list_files"} and isinstance(call.arguments, dict)
        history = [
            *ask,
            Message("assistant", first.text, tool_calls=first.tool_calls),
            *[
                Message("tool", "a.txt\nb.txt", tool_call_id=c.id, name=c.name)
                for c in first.tool_calls
            ],
        ]
        # Sent with "content": "" beside the tool calls, the history is accepted.
        second = await provider.complete(history, TOOLS, step=1)
        assert second.text or second.tool_calls
    finally:
        await provider.aclose()

    # With null (what agentctl used to send) the same server answers 500.
    assert isinstance(provider, OpenAIChatProvider)
    wire = provider.request_body(history, TOOLS)
    wire["messages"][2]["content"] = None
    wire.pop("stream", None), wire.pop("stream_options", None)
    reply = httpx.post(f"{llama.url}/chat/completions", json=wire, timeout=120)
    assert reply.status_code == 500


async def test_tool_calls_written_as_text_are_parsed_when_asked(llama: LlamaServer) -> None:
    # The server is made to write a call as bare JSON (its own JSON-schema
    # grammar), as models do when the server does not parse tool calls.
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": ["list_files"]},
            "arguments": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
        "required": ["name", "arguments"],
    }
    params = {
        "temperature": 0,
        "max_tokens": 64,
        "response_format": {"type": "json_object", "schema": schema},
    }
    ask = [Message("user", "Call the list_files tool for the folder .")]
    as_text = smol(llama.url, tool_choice="none", params=params, stream=False)
    parsing = smol(llama.url, tool_choice="none", params=params, stream=False, text_tool_calls=True)
    try:
        plain = await as_text.complete(ask, TOOLS, step=0)
        parsed = await parsing.complete(ask, TOOLS, step=0)
    finally:
        await as_text.aclose()
        await parsing.aclose()
    assert plain.tool_calls == () and '"list_files"' in plain.text
    [call] = parsed.tool_calls
    assert call.name == "list_files" and isinstance(call.arguments, dict)
    assert isinstance(call.arguments.get("path"), str)


@pytest.mark.docker
def test_a_session_where_the_model_calls_a_tool_and_the_tool_runs(
    llama: LlamaServer,
    paths: Paths,
    docker_client: object,
    sessions_cleanup: list[str],
    daemon: Client,
) -> None:
    write_endpoint(
        paths,
        llama.url,
        tool_choice='"auto"',
        stream_tools="false",
        params="{ temperature = 0, seed = 1, max_tokens = 64 }",
    )
    summary = daemon.create_session(
        CreateSession(
            task="Run the command ls",
            model="local:smol",
            policy="permissive",
            budget=Budget(max_steps=2),
        )
    )
    sessions_cleanup.append(summary.id)
    status = wait_status(daemon, summary.id, "paused", "completed", "failed", timeout=600)
    events = list(daemon.events(summary.id))
    started = [e for e in events if e.type == "tool.started"]
    finished = [e for e in events if e.type == "tool.finished"]
    assert started, [(e.type, e.data) for e in events]
    assert finished[0].data["call_id"] == started[0].data["call_id"]
    assert finished[0].data["exit_code"] is not None  # it ran in the sandbox
    # The second model call carried the tool turn back, and llama.cpp took it.
    assert [e.type for e in events].count("model.responded") == 2, daemon.session(summary.id)
    assert status in ("paused", "completed")


def test_the_server_killed_mid_call_pauses_naming_the_cause_and_resume_tries_at_once(
    tmp_path: Path, paths: Paths, daemon: Client
) -> None:
    server = LlamaServer(tmp_path / "killed.log").start()  # its own: this test kills it
    try:
        write_endpoint(
            paths,
            server.url,
            tool_choice='"none"',  # plain text, streamed
            params="{ temperature = 0, max_tokens = 64 }",
        )
        summary = daemon.create_session(
            CreateSession(task="Tell a story about a lighthouse.", model="local:smol", image="none")
        )
        for event in daemon.events(summary.id, follow=True, live=True):
            if event.type == LIVE_DELTA:
                server.kill()  # mid-response
                break
        wait_status(daemon, summary.id, "paused", timeout=120)
        paused = daemon.session(summary.id)
        # The breaker opened; its reason names what really happened.
        assert "circuit open" in paused.reason and "last error" in paused.reason, paused.reason
        assert "cannot reach" in paused.reason
        failures = [e.data["error"] for e in daemon.events(summary.id) if e.type == "model.failed"]
        assert len(failures) >= 2 and "circuit open" not in failures[0]

        server.start()  # back, on the same port
        daemon.resume(summary.id)
        try:
            wait_status(daemon, summary.id, "completed", timeout=300)
        finally:
            after = [(e.type, e.data) for e in daemon.events(summary.id) if e.seq > paused.last_seq]
        # Tried at once: a refusal by the still-open breaker would be a model.failed here.
        assert "model.failed" not in [t for t, _ in after], after
    finally:
        server.stop()
