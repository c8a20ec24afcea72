"""A scriptable fake model server on loopback: real HTTP, no mocks.

It answers any POST (so it serves both `/v1/chat/completions` and
`/v1/messages`) with the next scripted `Reply`, and records every request it
received so tests can assert what the client sent. A streamed reply
(`Reply.sse`) is sent event by event and can stop at a gate until the test
opens it, so a test can look at the client while the reply is half sent;
a client that goes away mid-stream is recorded (`disconnected`). It runs uvicorn in a
background thread on a socket bound to 127.0.0.1 port 0, so the port is free
and known before the server starts.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the test ends): the client must time out
    chunks: tuple[bytes, ...] = ()  # a streamed body, sent chunk by chunk
    gate_after: int | None = None  # stop after this many chunks until `open_gate()`

    @classmethod
    def sse(
        cls,
        events: Sequence[Any],
        *,
        done: bool = True,
        gate_after: int | None = None,
        status: int = 200,
    ) -> Reply:
        """Server-sent events: each item a JSON payload, or (name, payload), or raw text."""
        chunks = []
        for item in events:
            name = None
            if isinstance(item, tuple):
                name, item = item
            data = item if isinstance(item, str) else json.dumps(item)
            head = f"event: {name}\n" if name else ""
            chunks.append(f"{head}data: {data}\n\n".encode())
        if done:
            chunks.append(b"data: [DONE]\n\n")
        return cls(
            status=status,
            headers={"content-type": "text/event-stream"},
            chunks=tuple(chunks),
            gate_after=gate_after,
        )

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status=status,
            body=json.dumps(payload).encode(),
            headers={"content-type": "application/json", **(headers or {})},
        )

    @classmethod
    def raw(cls, text: str, status: int = 200, content_type: str = "application/json") -> Reply:
        return cls(status=status, body=text.encode(), headers={"content-type": content_type})

    @classmethod
    def error(
        cls, status: int, message: str = "scripted error", headers: dict[str, str] | None = None
    ) -> Reply:
        return cls.json({"error": {"message": message, "type": "test"}}, status, headers)

    @classmethod
    def never(cls) -> Reply:
        return cls(hang=True)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # the decoded JSON, or the raw text when it was not JSON


class FakeModelServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        # Answers a request when no scripted reply is left (a model that reads the request).
        self.responder: Callable[[Any], Reply] | None = None
        self.requests: list[ReceivedRequest] = []
        self.gate = threading.Event()
        self.at_gate = threading.Event()  # a streamed reply is waiting at its gate
        self.disconnected = threading.Event()  # a client left before a streamed reply ended
        self._release = threading.Event()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def open_gate(self) -> None:
        self.gate.set()

    def reset(self) -> None:
        self._release.set()  # let any request still hanging from the last test finish
        self._release = threading.Event()
        self.gate.set()
        self.gate = threading.Event()
        self.at_gate = threading.Event()
        self.disconnected = threading.Event()
        self.replies.clear()
        self.requests.clear()
        self.responder = None

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake model server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._release.set()
        self.gate.set()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(
            ReceivedRequest(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        try:
            reply = self.replies.popleft()
        except IndexError:
            if self.responder is None:
                return Response(b'{"error": {"message": "no scripted reply"}}', status_code=599)
            reply = self.responder(body)
        if reply.chunks:
            return StreamingResponse(
                self._stream(reply, request), status_code=reply.status, headers=reply.headers
            )
        if reply.hang:
            release = self._release
            deadline = time.monotonic() + 10
            while not release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return Response(b"{}", status_code=504)
        return Response(reply.body, status_code=reply.status, headers=reply.headers)

    async def _stream(self, reply: Reply, request: Request) -> Any:
        gate, at_gate, disconnected = self.gate, self.at_gate, self.disconnected
        finished = False

        async def client_left() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        async def hold() -> bool:
            """Wait at the gate; False when the client went away meanwhile."""
            at_gate.set()
            # Long enough for a loaded machine; stop() and reset() open it at the end.
            opened = asyncio.ensure_future(asyncio.to_thread(gate.wait, 60))
            left = asyncio.ensure_future(client_left())
            done, _ = await asyncio.wait({opened, left}, return_when=asyncio.FIRST_COMPLETED)
            left.cancel()
            return left not in done

        try:
            for index, chunk in enumerate(reply.chunks):
                if index == reply.gate_after and not await hold():
                    return
                yield chunk
            gate_at_end = reply.gate_after is not None and reply.gate_after >= len(reply.chunks)
            if gate_at_end and not await hold():
                return
            finished = True
        finally:
            if not finished:
                disconnected.set()


def openai_chunks(
    pieces: Sequence[str] = (),
    tool_calls: Sequence[tuple[int, str, str, Sequence[str]]] = (),
    usage: dict[str, int] | None = None,
    reasoning: Sequence[str] = (),
    finish: str | None = "stop",
) -> list[dict[str, Any]]:
    """Chat Completions stream chunks; tool calls as (index, id, name, argument pieces)."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-stream",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    out = [chunk({"role": "assistant"})]
    out += [chunk({"reasoning_content": r}) for r in reasoning]
    out += [chunk({"content": p}) for p in pieces]
    for index, call_id, name, parts in tool_calls:
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        out += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            for part in parts
        ]
    if finish is not None:
        out.append(chunk({}, finish))
    if usage is not None:
        out.append({"id": "chatcmpl-stream", "choices": [], "usage": usage})
    return out


def openai_completion(
    text: str | None = "",
    tool_calls: Sequence[tuple[str, str, str]] = (),
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
) -> dict[str, Any]:
    """A Chat Completions reply; tool calls as (id, name, arguments JSON string)."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in tool_calls
        ]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def anthropic_message(
    text: str = "",
    tool_uses: Sequence[tuple[str, str, dict[str, Any]]] = (),
    input_tokens: int = 13,
    output_tokens: int = 5,
) -> dict[str, Any]:
    """A Messages API reply; tool uses as (id, name, input)."""
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    for tid, name, tool_input in tool_uses:
        content.append({"type": "tool_use", "id": tid, "name": name, "input": tool_input})
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": "tool_use" if tool_uses else "end_turn",
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
