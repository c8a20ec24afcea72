"""A hostile model: an OpenAI-compatible server on loopback that sends whatever a test scripts.

Unlike tests/providers/fake_server.py (which plays well-formed replies to
test the client), this one exists to attack the runtime: chosen call ids,
arguments that are not JSON, control sequences, NUL bytes, lone surrogates,
replies of many megabytes, negative token counts, bodies that are not JSON.
A reply is raw bytes, so anything a network peer could send can be sent.

It is a plain `http.server` in a thread, bound to 127.0.0.1 port 0. Every
request it receives is kept (`requests`), so a test can check what the
runtime told the model: the error result of a refused call, the id it
echoed. When nothing is scripted it answers a final "done", so a session
that asks once more than the test expected ends instead of hanging.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Raw:
    body: bytes
    status: int = 200
    content_type: str = "application/json"


def completion(
    text: str | None = "",
    calls: Sequence[tuple[str, str, str]] = (),
    *,
    prompt_tokens: Any = 10,
    completion_tokens: Any = 5,
) -> dict[str, Any]:
    """A Chat Completions reply; `calls` as (id, name, arguments as the raw JSON string)."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in calls
        ]
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "model": "hostile",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


def shell(command: str) -> str:
    return json.dumps({"command": command})


class HostileModelServer:
    def __init__(self) -> None:
        self.replies: deque[Raw] = deque()
        self.requests: list[Any] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    outer.requests.append(json.loads(raw))
                except ValueError:
                    outer.requests.append(raw)
                reply = outer.replies.popleft() if outer.replies else outer.final()
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @staticmethod
    def final(text: str = "done") -> Raw:
        return Raw(json.dumps(completion(text)).encode())

    def send(self, *replies: dict[str, Any] | Raw | bytes) -> None:
        """Script the next replies: a dict is sent as JSON (ensure_ascii, so any code point
        travels, even a lone surrogate), bytes as they are."""
        for reply in replies:
            if isinstance(reply, Raw):
                self.replies.append(reply)
            elif isinstance(reply, bytes):
                self.replies.append(Raw(reply))
            else:
                self.replies.append(Raw(json.dumps(reply).encode()))

    def tool_results(self, request: int = -1) -> list[dict[str, Any]]:
        """The tool messages of a request the runtime sent (the last by default)."""
        body = self.requests[request]
        return [m for m in body["messages"] if m.get("role") == "tool"]

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
