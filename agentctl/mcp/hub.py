"""The daemon's MCP servers: one connection per session and server, started on demand.

A connection is started when a session lists its tools (its first step) or
calls one and none is running: so after a daemon restart, or after a server
crashed or hung, the next call starts it again. Each server also has a line
of status across sessions (`mcp ls`): what happened to it last, in words.

A call's fault is the model's result, never a stuck session: a server that
cannot start, exits mid-call, outlives its timeout, breaks its output schema
or floods its output gives an error outcome (`exit_code` None or 1, `error`
saying what) and a status line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentctl import ids
from agentctl.errors import UsageError
from agentctl.mcp.config import ServerConfig, ServerStore
from agentctl.mcp.elicit import ElicitHost, ask_person
from agentctl.mcp.faults import ServerDown
from agentctl.mcp.tools import McpToolSpec, as_tool, outcome_of, spec_of
from agentctl.plugins import TOOLS_GROUP
from agentctl.policy import Policy
from agentctl.protocol import McpListed, McpServerView, ToolView
from agentctl.runtime.sandbox_host import extra_labels
from agentctl.tools import Tool, ToolContext, ToolOutcome

if TYPE_CHECKING:
    import mcp_types as types

    from agentctl.keys import KeyStore
    from agentctl.mcp.connection import Connection, Elicit
    from agentctl.paths import Paths
    from agentctl.plugins import Plugins
    from agentctl.runtime.sandbox_host import SandboxHost
    from agentctl.state import SessionState
    from agentctl.tools import ToolRegistry
    from sandboxes import Sandbox

log = logging.getLogger(__name__)


@dataclass
class ServerStatus:
    state: str = "not started"  # not started | running | failed | stopped
    line: str = ""
    at: datetime | None = None
    protocol: str | None = None
    tools: list[str] = field(default_factory=list)
    calls: int = 0
    faults: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "line": self.line,
            "at": self.at.isoformat() if self.at else None,
            "protocol": self.protocol,
            "tools": list(self.tools),
            "calls": self.calls,
            "faults": self.faults,
        }


class HubHost(ElicitHost, Protocol):
    """What the hub needs of the runtime (see agentctl.runtime.host)."""

    @property
    def paths(self) -> Paths: ...

    @property
    def keys(self) -> KeyStore: ...

    @property
    def plugins(self) -> Plugins: ...

    @property
    def sandboxes(self) -> SandboxHost: ...

    @property
    def tools(self) -> ToolRegistry: ...

    @property
    def artifact_cap(self) -> int:
        """Bytes of whole outputs kept per session."""


class McpHub:
    def __init__(self, runtime: HubHost) -> None:
        self.rt = runtime
        self.store = ServerStore(runtime.paths.config)
        self._conns: dict[tuple[str, str], Connection] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.status: dict[str, ServerStatus] = {}
        self._tools: dict[tuple[str, int], list[Tool]] = {}
        # Elicitations arrive during a call: the session's call in flight, and the answers.
        self._current: dict[str, tuple[str, str]] = {}  # session -> (call id, tool name)
        self._waiters: dict[str, asyncio.Future[None]] = {}  # approval id -> decided
        self.used_answers: set[str] = set()  # elicitation approvals this process answered with

    # -- which servers, which tools ---------------------------------------------

    def config(self, name: str) -> ServerConfig:
        server = self.store.get(name)
        if server is None:
            raise ServerDown("is no longer configured (agentctl mcp add it again)")
        return server

    def servers_for(self, wanted: list[str] | None) -> list[str]:
        """The servers a new session uses: the profile's, else every configured one."""
        known = self.store.servers()
        if wanted is None:
            return sorted(known)
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise UsageError(
                f"unknown MCP servers {', '.join(unknown)}", hint="agentctl mcp ls lists them"
            )
        return list(dict.fromkeys(wanted))

    def shapes(self, names: list[str]) -> dict[str, Any]:
        """What of each server shapes an agent (for its behaviour hash): how it is
        started and reached, with the names of its env and headers but not their values."""
        known = self.store.servers()
        return {
            name: known[name].model_dump(mode="json", exclude={"env", "headers", "name"})
            | {"env": sorted(known[name].env), "headers": sorted(known[name].headers)}
            for name in names
            if name in known
        }

    def tools_of(self, state: SessionState) -> list[Tool]:
        """The session's MCP tools, from its log (cached per listing count)."""
        key = (state.session_id, len(state.mcp_listed))
        tools = self._tools.get(key)
        if tools is None:
            tools = []
            for listed in state.mcp_listed.values():
                sandboxed = listed.get("scope") == "sandbox"
                for raw in listed.get("tools", []):
                    spec = McpToolSpec.model_validate(raw)
                    tools.append(as_tool(spec, self._call, needs_sandbox=sandboxed))
            self._tools = {k: v for k, v in self._tools.items() if k[0] != state.session_id}
            self._tools[key] = tools
        return tools

    async def listing(self, sid: str, server: str, sandbox: Sandbox | None) -> McpListed:
        """The server's tools for the session's log, starting it if it is not running."""
        try:
            config = self.config(server)
        except ServerDown as exc:
            return McpListed(server=server, scope="?", error=str(exc))
        try:
            conn = await self._connection(sid, config, sandbox)
        except ServerDown as exc:
            return McpListed(server=server, scope=config.where, error=f"not started: {exc}")
        specs: list[dict[str, Any]] = []
        skipped: list[str] = []
        for tool in conn.tools:
            spec = spec_of(server, tool)
            if isinstance(spec, str):
                skipped.append(spec)
            else:
                specs.append(spec.model_dump())
        return McpListed(
            server=server, scope=config.where, tools=specs, skipped=skipped, protocol=conn.protocol
        )

    # -- connections ---------------------------------------------------------------

    async def _connection(
        self, sid: str, config: ServerConfig, sandbox: Sandbox | None
    ) -> Connection:
        key = (sid, config.name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            conn = self._conns.get(key)
            if conn is not None and conn.alive:
                return conn
            if conn is not None:
                await conn.close()
            from agentctl.mcp.connection import Connection  # the SDK, loaded on first use

            conn = Connection(
                config,
                keys=self.rt.keys,
                sandbox=sandbox if config.where == "sandbox" else None,
                errlog=self._errlog(sid, config.name),
                elicit=self._elicit_callback(sid),
            )
            try:
                await conn.start()  # the call timeout is for calls: a start may be slower
            except UsageError as exc:  # a key it names is not set
                await conn.close()
                self._note(config.name, "failed", f"not started: {exc}", fault=True)
                raise ServerDown(str(exc)) from None
            except ServerDown as exc:
                self._note(config.name, "failed", f"not started: {exc}", fault=True)
                raise
            self._conns[key] = conn
            status = self._note(config.name, "running", "started", protocol=conn.protocol)
            status.tools = [t.name for t in conn.tools]
            return conn

    def _elicit_callback(self, sid: str) -> Elicit:
        async def elicit(params: types.ElicitRequestParams) -> types.ElicitResult | types.ErrorData:
            current = self._current.get(sid)
            if current is None:  # a question outside any call: nobody to put it to
                import mcp_types

                return mcp_types.ElicitResult(action="decline")
            return await ask_person(self.rt, sid, current[0], current[1], params)

        return elicit

    def waiter(self, approval_id: str) -> asyncio.Future[None]:
        future = self._waiters.get(approval_id)
        if future is None or future.done():
            future = self._waiters[approval_id] = asyncio.get_running_loop().create_future()
        return future

    def answered(self, approval_id: str) -> None:
        """An approval was decided: a server waiting for it (elicitation) gets its answer."""
        future = self._waiters.pop(approval_id, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _errlog(self, sid: str, server: str) -> Path:
        return self.rt.paths.data / "mcp-logs" / f"{sid}-{server}.log"

    async def close_session(self, sid: str) -> None:
        for key in [k for k in self._conns if k[0] == sid]:
            conn = self._conns.pop(key)
            await conn.close()
        self._tools = {k: v for k, v in self._tools.items() if k[0] != sid}

    async def close_all(self) -> None:
        conns = list(self._conns.values())
        self._conns.clear()
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)

    def _note(
        self,
        server: str,
        state: str,
        line: str,
        *,
        fault: bool = False,
        protocol: str | None = None,
    ) -> ServerStatus:
        status = self.status.setdefault(server, ServerStatus())
        status.state, status.line, status.at = state, line, datetime.now(UTC)
        if protocol:
            status.protocol = protocol
        if fault:
            status.faults += 1
        return status

    # -- calls -----------------------------------------------------------------------

    async def _call(self, spec: McpToolSpec, ctx: ToolContext, args: dict[str, Any]) -> ToolOutcome:
        if ctx.call_id is not None:  # a question the server asks now is about this call
            self._current[ctx.session_id] = (ctx.call_id, spec.name)
        try:
            return await self._call_server(spec, ctx, args)
        finally:
            self._current.pop(ctx.session_id, None)

    async def _call_server(
        self, spec: McpToolSpec, ctx: ToolContext, args: dict[str, Any]
    ) -> ToolOutcome:
        started = time.perf_counter()
        server = spec.server
        self.status.setdefault(server, ServerStatus()).calls += 1
        try:
            config = self.config(server)
            conn = await self._connection(ctx.session_id, config, ctx.sandbox)
        except ServerDown as exc:
            return ToolOutcome(
                exit_code=None,
                error=f"MCP server {server} not started: {exc}",
                duration_ms=_ms(started),
            )
        timeout = config.timeout_s or ctx.timeout_s
        try:
            result = await conn.call(spec.tool, args, timeout)
        except TimeoutError:
            await self._drop(ctx.session_id, server, conn)
            line = f"{spec.tool} timed out after {timeout:g} s; stopped, it starts again at the next call"
            self._note(server, "stopped", line, fault=True)
            return ToolOutcome(
                exit_code=None,
                error=f"MCP server {server}: {line}",
                timed_out=True,
                duration_ms=_ms(started),
            )
        except ServerDown as exc:
            await self._drop(ctx.session_id, server, conn)
            line = f"{str(exc).replace('the call', spec.tool)}; it starts again at the next call"
            self._note(server, "failed", line, fault=True)
            return ToolOutcome(
                exit_code=None, error=f"MCP server {server} {line}", duration_ms=_ms(started)
            )
        except Exception as exc:  # the server's error reply, a malformed or schema-breaking result
            if not conn.alive:
                await self._drop(ctx.session_id, server, conn)
                why = f"exited during {spec.tool} ({conn.error or exc}); it starts again at the next call"
                self._note(server, "failed", why, fault=True)
                return ToolOutcome(
                    exit_code=None, error=f"MCP server {server} {why}", duration_ms=_ms(started)
                )
            text = " ".join(str(exc).split())[:500] or type(exc).__name__
            if isinstance(exc, RuntimeError) and "structured content" in text.lower():
                text = f"the server's result breaks the tool's output schema: {text}"
            self._note(server, "running", f"{spec.tool} failed: {text}", fault=True)
            return ToolOutcome(
                exit_code=None, error=f"MCP server {server}: {text}", duration_ms=_ms(started)
            )
        outcome = outcome_of(
            result,
            spec,
            ctx,
            artifacts=self.rt.paths.artifacts / ctx.session_id,
            spill_dir=self.rt.sandboxes.spill_dir or self.rt.paths.artifacts,
            duration_ms=_ms(started),
            artifact_cap=self.rt.artifact_cap,
        )
        if outcome.error:
            self._note(server, "running", f"{spec.tool}: {outcome.error}", fault=True)
        elif outcome.truncated:
            self._note(server, "running", f"{spec.tool}: output over the cap, truncated")
        else:
            self._note(server, "running", f"{spec.tool} answered")
        return outcome

    async def _drop(self, sid: str, server: str, conn: Connection) -> None:
        if self._conns.get((sid, server)) is conn:
            del self._conns[(sid, server)]
        await conn.close()

    # -- for mcp ls / tools ls ---------------------------------------------------------

    async def views(self, probe: bool = True) -> list[McpServerView]:
        """Every configured server with its status and its tools (started briefly to list
        them when `probe`; a sandbox-scope one in a throwaway sandbox of the default image)."""
        servers = await asyncio.to_thread(self.store.servers)
        needs_box = probe and any(s.where == "sandbox" for s in servers.values())
        box = await self._probe_sandbox() if needs_box else None
        try:
            listings = await asyncio.gather(
                *(self._probe(s, box) if probe else _none() for s in servers.values())
            )
        finally:
            if box is not None:
                await asyncio.to_thread(box.destroy)
        views = []
        for config, listing in zip(servers.values(), listings, strict=True):
            status = self.status.get(config.name, ServerStatus())
            view = McpServerView(
                name=config.name,
                scope=config.where,
                command=list(config.command),
                url=config.url,
                env=sorted(config.env),
                headers=sorted(config.headers),
                state=status.state,
                line=status.line,
                at=status.at,
                protocol=status.protocol,
                calls=status.calls,
                faults=status.faults,
            )
            if listing is not None:
                view.skipped = list(listing.skipped)
                view.protocol = listing.protocol or view.protocol
                view.tools = [
                    ToolView(
                        name=t["name"],
                        source=f"mcp:{config.name}",
                        idempotent=t["idempotent"],
                        tier=t["hint"],
                        rule="tool hint",
                        description=t["description"],
                    )
                    for t in listing.tools
                ]
                if listing.error:
                    if status.state == "not started":
                        view.state = "failed"
                    view.line = view.line or listing.error
                elif status.state == "not started":
                    view.state = "stopped"  # it answered, and runs when a session needs it
                    view.line = f"listed {len(listing.tools)} tools when asked just now"
            views.append(view)
        return views

    async def _probe(self, config: ServerConfig, box: Sandbox | None) -> McpListed:
        sandbox = box if config.where == "sandbox" else None
        if config.where == "sandbox" and box is None:
            return McpListed(server=config.name, scope="sandbox", error="no sandbox to start it in")
        from agentctl.mcp.connection import Connection

        conn = Connection(
            config, keys=self.rt.keys, sandbox=sandbox, errlog=self._errlog("probe", config.name)
        )
        try:
            await conn.start()
        except (ServerDown, UsageError) as exc:
            return McpListed(server=config.name, scope=config.where, error=f"not started: {exc}")
        finally:
            await conn.close()
        specs = [spec_of(config.name, t) for t in conn.tools]
        return McpListed(
            server=config.name,
            scope=config.where,
            tools=[x.model_dump() for x in specs if not isinstance(x, str)],
            skipped=[x for x in specs if isinstance(x, str)],
            protocol=conn.protocol,
        )

    async def _probe_sandbox(self) -> Sandbox | None:
        from sandboxes import SandboxSpec, ensure_default_image

        try:
            image = await asyncio.to_thread(ensure_default_image)
            spec = SandboxSpec(image=image, labels=extra_labels())
            name = f"mcp-probe-{ids.session_id().removeprefix('ses_')}"
            return await asyncio.to_thread(
                self.rt.sandboxes.engine().create, name, spec, replace=True
            )
        except Exception as exc:  # no engine, no image: the sandbox servers say so
            log.warning("no sandbox to list sandbox-scope MCP servers in: %s", exc)
            return None

    async def tool_views(self, policy: Policy) -> list[ToolView]:
        """Every tool a new session would get, built-in and MCP, with its tier under `policy`."""
        views = []
        plugins = self.rt.plugins.origins
        for tool in self.rt.tools.tools():
            verdict = policy.evaluate(tool.name, {})
            plugin = plugins.get((TOOLS_GROUP, tool.name))
            views.append(
                ToolView(
                    name=tool.name,
                    source=f"plugin:{plugin.distribution or plugin.name}" if plugin else "builtin",
                    idempotent=tool.idempotent,
                    tier=verdict.tier.value,
                    rule=verdict.rule,
                    description=tool.description,
                )
            )
        for server in await self.views():
            for view in server.tools:
                verdict = policy.evaluate(view.name, {}, hint=view.tier)
                views.append(
                    view.model_copy(update={"tier": verdict.tier.value, "rule": verdict.rule})
                )
        return views


async def _none() -> None:
    return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


__all__ = ["McpHub", "ServerStatus"]
