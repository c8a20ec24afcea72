"""One running MCP server, spoken to with the official SDK's `Client`.

The SDK's transports are anyio context managers that must be entered and
left by one task, so each connection has its own task that holds the client
open until it is closed; calls are made from the step machine's task over
the client's session. A server that dies takes its connection with it: the
next call starts a new one (`McpHub`), and the call that was in flight gets
an error result.

Where it runs: a host-scope stdio server is a subprocess of the daemon; a
sandbox-scope one is `docker exec -i` into the session's container (see
`Sandbox.stdio_argv`), so it sees the workspace, the sandbox's limits and its
network setting, and nothing of the host; an HTTP server is reached from the
daemon with the headers of its configuration (keys resolved at connect time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agentctl import __version__
from agentctl.keys import KeyStore
from agentctl.mcp.config import ServerConfig, resolve
from agentctl.mcp.faults import ServerDown

if TYPE_CHECKING:
    from sandboxes import Sandbox

log = logging.getLogger(__name__)

# What a server may be asked for by a person: the step machine's queue answers it.
Elicit = Callable[[types.ElicitRequestParams], Awaitable[types.ElicitResult | types.ErrorData]]

START_TIMEOUT_S = 60.0
# Passed through to `docker exec`, so that it finds the same engine as the daemon.
_DOCKER_ENV = (
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CONTEXT",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
)


class Connection:
    def __init__(
        self,
        config: ServerConfig,
        *,
        keys: KeyStore,
        sandbox: Sandbox | None = None,
        errlog: Path | None = None,
        elicit: Elicit | None = None,
    ) -> None:
        self.config = config
        self._keys = keys
        self._sandbox = sandbox
        self._errlog_path = errlog
        self._elicit = elicit
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self.dead = asyncio.Event()
        self.error: str | None = None
        self.tools: list[types.Tool] = []
        self._asking = 0  # questions of the server's waiting for a person
        self._deadline: asyncio.Timeout | None = None  # the call in flight's
        self._left = 0.0  # of its time, when its clock last stopped
        self._since = 0.0  # when its clock last started

    @property
    def alive(self) -> bool:
        return self._client is not None and not self.dead.is_set()

    @property
    def protocol(self) -> str | None:
        return self._client.protocol_version if self._client is not None else None

    # -- lifecycle ---------------------------------------------------------------

    async def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the server and list its tools, or raise ServerDown saying why."""
        self._task = asyncio.create_task(self._hold(), name=f"mcp:{self.config.name}")
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError:
            await self.close()
            raise ServerDown(f"did not answer within {timeout_s:g} s of starting") from None
        if self._client is None:
            raise ServerDown(self.error or "could not be started")
        try:
            async with asyncio.timeout(timeout_s):
                self.tools = await self._list_tools()
        except TimeoutError:
            await self.close()
            raise ServerDown(f"did not list its tools within {timeout_s:g} s") from None
        except Exception as exc:
            await self.close()
            raise ServerDown(f"could not list its tools: {_describe(exc)}") from None

    async def _list_tools(self) -> list[types.Tool]:
        assert self._client is not None
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(100):  # a paginator that never ends must not hang the session
            page = await self._client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def _hold(self) -> None:
        errlog = self._open_errlog()
        try:
            async with Client(
                self._transport(errlog),
                mode="auto",  # 2026-07-28 where the server has it, else the handshake of 2025-11-25
                elicitation_callback=self._on_elicit if self._elicit else None,
                client_info=types.Implementation(name="agentctl", version=__version__),
                cache=None,
            ) as client:
                self._client = client
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.error = self._why(exc)
                log.info("MCP server %s: %s", self.config.name, self.error)
        finally:
            self._client = None
            self.dead.set()
            self._ready.set()
            if errlog is not None:
                errlog.close()

    async def close(self) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            async with asyncio.timeout(5):
                await asyncio.shield(task)
        except (TimeoutError, Exception):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # -- calls -------------------------------------------------------------------

    async def call(self, tool: str, args: dict[str, Any], timeout_s: float) -> types.CallToolResult:
        """The tool's result; TimeoutError after `timeout_s` of the server's time (the clock
        stops while a person answers a question it asked); ServerDown if it went away."""
        client = self._client
        if client is None or self.dead.is_set():
            raise ServerDown(self.error or "is not running")
        loop = asyncio.get_running_loop()
        self._left, self._since = timeout_s, loop.time()
        try:
            async with asyncio.timeout(timeout_s) as deadline:
                self._deadline = deadline
                return await client.call_tool(tool, args)
        except MCPError as exc:
            if exc.code != types.CONNECTION_CLOSED:
                raise
            with contextlib.suppress(TimeoutError):  # the process's exit follows its streams
                async with asyncio.timeout(2):
                    await self.dead.wait()
            raise ServerDown(f"exited during the call ({self.error or exc})") from None
        finally:
            self._deadline = None

    async def _on_elicit(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        assert self._elicit is not None
        loop = asyncio.get_running_loop()
        if self._asking == 0 and self._deadline is not None:  # stop the call's clock
            self._left -= loop.time() - self._since
            self._deadline.reschedule(None)
        self._asking += 1
        try:
            return await self._elicit(params)
        finally:
            self._asking -= 1
            if self._asking == 0 and self._deadline is not None:
                self._since = loop.time()
                self._deadline.reschedule(self._since + max(self._left, 0.0))

    # -- transports ----------------------------------------------------------------

    def _transport(self, errlog: TextIO | None) -> Any:
        config = self.config
        if config.url is not None:
            headers = resolve(config.headers, self._keys)
            http = httpx2.AsyncClient(
                headers=headers, timeout=httpx2.Timeout(30.0, read=300.0), follow_redirects=False
            )
            return streamable_http_client(config.url, http_client=http)
        env = resolve(config.env, self._keys)
        if config.scope == "host":
            params = StdioServerParameters(
                command=config.command[0], args=config.command[1:], env=env
            )
        else:
            if self._sandbox is None:
                raise ServerDown("runs in the session's sandbox, and this session has none")
            argv = self._sandbox.stdio_argv(config.command, env_names=sorted(env))
            passed = {k: os.environ[k] for k in _DOCKER_ENV if k in os.environ}
            params = StdioServerParameters(command=argv[0], args=argv[1:], env={**passed, **env})
        return stdio_client(params, errlog=errlog) if errlog is not None else stdio_client(params)

    def _open_errlog(self) -> TextIO | None:
        if self._errlog_path is None:
            return None
        try:
            self._errlog_path.parent.mkdir(parents=True, exist_ok=True)
            return self._errlog_path.open("w", encoding="utf-8", errors="replace")
        except OSError:
            return None

    def _why(self, exc: BaseException) -> str:
        text = _describe(exc)
        if text == "Connection closed":  # the SDK's words for a server that went away
            text = "it exited" if self._client is not None else "it exited before it answered"
        tail = self._errlog_tail()
        return f"{text}; its stderr ends: {tail}" if tail else text

    def _errlog_tail(self, limit: int = 300) -> str:
        if self._errlog_path is None:
            return ""
        try:
            with self._errlog_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - limit))
                data = handle.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return " ".join(data.split())[-limit:]


def _describe(exc: BaseException) -> str:
    """One line for a failure, from the innermost exception of a group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"cannot start it: {exc.strerror or 'not found'}: {exc.filename}"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:500]


__all__ = ["Connection", "Elicit", "ServerDown"]
