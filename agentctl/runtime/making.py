"""Making sessions: a create and a fork, each served once per client request id.

A create resolves the agent (its profile and the request's options), the
policy, the image and the budget, records the workspace it starts from, and
writes `session.created` and its first status in one batch. A fork copies its
parent's log up to a clean cut (docs/design.md §8) and starts from the
checkpoint there. Part of the runtime (agentctl.runtime.runtime), given it at
construction as a `MakerHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentctl import __version__, ids
from agentctl.config import Config
from agentctl.errors import ConflictError, UsageError
from agentctl.policy import Policy, load_policy
from agentctl.profiles import behaviour_hash, find_profile
from agentctl.protocol import (
    AgentRef,
    Budget,
    CreateSession,
    DelegatedBy,
    EventData,
    ForkSession,
    ParentRef,
    SandboxConfig,
    SandboxRestored,
    SessionCreated,
    SessionStatus,
    SessionStatusChanged,
    UserMessage,
)
from agentctl.providers.loader import endpoint_config
from agentctl.runtime.agents import Agent
from agentctl.runtime.sandbox_host import as_agentctl_error
from agentctl.state import CallPhase, SessionState, fold_events
from agentctl.workspace.instructions import instruction_names, read_instructions, system_prompt
from sandboxes import SandboxError
from store import NewEvent

if TYPE_CHECKING:
    from agentctl.mcp.hub import McpHub
    from agentctl.paths import Paths
    from agentctl.plugins import Plugins
    from agentctl.providers import Provider
    from agentctl.runtime.journal import Journal
    from agentctl.runtime.sandbox_host import SandboxHost
    from agentctl.runtime.workspaces import Workspaces
    from agentctl.tools import ToolRegistry
    from agentctl.triggers.timers import Timers
    from store import EventStore

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are an agent working in a sandboxed Linux container. The project is in /workspace. "
    "Use the tools to inspect and change files and to run commands. When the task is done, "
    "answer with a short summary and no tool calls."
)


@dataclass(frozen=True)
class Child:
    """What a child is made with beyond its request (agentctl.runtime.making)."""

    delegated_by: DelegatedBy
    cap: Budget  # at most what the parent has left
    policy: dict[str, Any] | None  # the parent's, for a child without a profile policy
    output_schema: dict[str, Any] | None


def capped(budget: Budget, cap: Budget) -> Budget:
    """Each limit of `budget` no higher than `cap`'s (a limit only `cap` has is taken)."""
    out: dict[str, Any] = {}
    for name in ("max_steps", "max_tokens", "max_cost_usd", "max_wall_s"):
        own, top = getattr(budget, name), getattr(cap, name)
        values = [v for v in (own, top) if v is not None]
        out[name] = min(values) if values else None
    return Budget.model_validate(out)


class MakerHost(Protocol):
    """What making a session needs of the runtime."""

    @property
    def store(self) -> EventStore: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def paths(self) -> Paths: ...
    @property
    def tools(self) -> ToolRegistry: ...
    @property
    def plugins(self) -> Plugins: ...
    @property
    def mcp(self) -> McpHub: ...
    @property
    def sandboxes(self) -> SandboxHost: ...
    @property
    def timers(self) -> Timers: ...
    @property
    def workspaces(self) -> Workspaces: ...

    def config(self) -> Config:
        """config.toml as it is now."""

    def load_provider(self, spec: str, base_url: str | None = None) -> Provider:
        """The model's provider (it fails early on a bad model)."""

    def spawn(self, sid: str) -> None:
        """Start the actor of a session that is `running`."""


class SessionMaker:
    """Creates and forks sessions for one runtime."""

    def __init__(self, runtime: MakerHost, providers: dict[str, Provider]) -> None:
        # The runtime's services, by the names the runtime gives them.
        self.store = runtime.store
        self.journal = runtime.journal
        self.paths = runtime.paths
        self.tools = runtime.tools
        self.plugins = runtime.plugins
        self.mcp = runtime.mcp
        self.sandboxes = runtime.sandboxes
        self.timers = runtime.timers
        self.workspaces = runtime.workspaces
        self.config = runtime.config
        self.load_provider = runtime.load_provider
        self.spawn = runtime.spawn
        self._providers = providers  # per session: a replay keeps the recording it began with
        # request id -> (held while it is served, how many requests hold or wait for it)
        self._requests: dict[str, tuple[asyncio.Lock, int]] = {}

    async def create_session(self, req: CreateSession, child: Child | None = None) -> str:
        """A new session; `child`: one a `delegate` call starts (agentctl.runtime.delegation)."""
        async with self._request(req.request_id, parent=None, task=req.task) as known:
            if known is not None:
                return known
            return await self._create_session(req, child)

    @contextlib.asynccontextmanager
    async def _request(
        self, request_id: str | None, *, parent: dict[str, Any] | None, task: str | None = None
    ) -> AsyncIterator[str | None]:
        """Serve a create or fork once per client request id: the session a retry
        finds (spawned again if it should run), or None to make it. The id names one
        request: a create of `task` (`parent` None) or a fork at `parent`; a request
        of another kind under it is refused, not answered with a session it did not make."""
        if request_id is None:
            yield None
            return
        lock, users = self._requests.get(request_id, (asyncio.Lock(), 0))
        self._requests[request_id] = (lock, users + 1)
        try:
            async with lock:
                known = self.journal.request_index.get(request_id)
                if known is not None:
                    created = self.journal.state(known).created
                    same = created.get("parent") == parent and (
                        task is None or created.get("task") == task
                    )
                    if not same:
                        raise ConflictError(
                            f"request id {request_id!r} was used for another request "
                            f"(it made session {known})",
                            hint="give each create or fork a request id of its own",
                        )
                    if self.journal.state(known).status is SessionStatus.RUNNING:
                        self.spawn(known)
                yield known
        finally:
            lock, users = self._requests[request_id]
            if users == 1:  # the last one: the log's index answers from now on
                del self._requests[request_id]
            else:
                self._requests[request_id] = (lock, users - 1)

    async def _create_session(self, req: CreateSession, child: Child | None = None) -> str:
        workspace = None
        if req.workspace:
            folder = Path(req.workspace).expanduser()
            if not folder.is_dir():
                raise UsageError(f"workspace {req.workspace!r} is not a folder")
            workspace = folder.resolve()
        agent = await asyncio.to_thread(self._agent, req, workspace)
        if child is not None and child.policy is not None and agent.policy is None:
            policy = Policy.from_dict(child.policy)  # a child without its own: its parent's
        else:
            policy = await asyncio.to_thread(
                load_policy, agent.policy, config_dir=self.paths.config
            )
        if req.network == "bridge" and not policy.network:
            raise UsageError(
                f"policy {policy.name!r} does not allow network access", hint="use --network none"
            )
        image = await self._resolve_image(agent.image, agent.build_hint)
        if image is None and workspace:
            raise UsageError("a workspace needs a sandbox; drop --image none")
        config = self.config()
        provider = self.load_provider(agent.model, agent.base_url)  # fails early on a bad model
        context = agent.context
        if context.window is None:  # the endpoint's declared window, if config gives one
            endpoint = endpoint_config(agent.model.partition(":")[0], config)
            if endpoint is not None and endpoint.context_window is not None:
                context = context.model_copy(update={"window": endpoint.context_window})
        if context.summary_model:  # fails early too; the compactions load their own
            await self.load_provider(context.summary_model).aclose()
        budget = _with_defaults(agent.budget, config, provider)
        if child is not None:  # at most what its parent has left
            budget = capped(budget, child.cap)
            if budget.max_cost_usd is not None:
                check_cost_known(provider)
        digest = await self._image_digest(image) if image is not None else None
        instructions = []
        if workspace is not None:
            names = instruction_names(config)
            instructions = await asyncio.to_thread(read_instructions, workspace, names)
        system = system_prompt(SYSTEM_PROMPT, instructions, agent.instructions)
        sid = ids.session_id()
        archive = head = None
        if workspace is not None:
            archive, head = await asyncio.to_thread(self.workspaces.record_start, sid, workspace)
        specs = [dataclasses.asdict(spec) for spec in self.tools.specs(agent.tools)]
        servers = await asyncio.to_thread(self.mcp.servers_for, agent.mcp)
        behaviour = behaviour_hash(
            system=system,
            tools=specs,
            policy=policy.to_dict(),
            model=agent.model,
            base_url=agent.base_url,
            image_digest=digest,
            mcp=self.mcp.shapes(servers),
        )
        created = SessionCreated(
            task=req.task,
            model=agent.model,
            base_url=agent.base_url,
            system=system,
            tools=agent.tools,
            policy=policy.to_dict(),
            sandbox=SandboxConfig(
                image=image,
                network=req.network,
                limits=req.limits,
                workspace=str(workspace) if workspace else None,
                mount_workspace=req.mount_workspace or req.mount_read_only,
                mount_read_only=req.mount_read_only,
                workspace_archive=archive,
                workspace_head=head,
            ),
            budget=budget,
            labels=agent.labels,
            instructions=instructions,
            agent=AgentRef(name=agent.name, source=agent.source, hash=behaviour),
            request_id=req.request_id,
            trigger=req.trigger,
            repeat_limit=config.guards.repeat_limit,
            plugins=self.plugins.used_by(agent.tools, agent.model),
            mcp=servers,
            context=context,
            delegated_by=child.delegated_by if child is not None else None,
            output_schema=child.output_schema if child is not None else None,
            version=__version__,
        )
        self._providers[sid] = provider
        first = self.timers.start_items(req.start_at)  # running, or waiting for --at
        await self.journal.append(sid, [created, *first])
        if self.journal.state(sid).timer_hold is None:
            self.spawn(sid)
        else:
            self.timers.arm(sid)
        return sid

    def _agent(self, req: CreateSession, workspace: Path | None) -> Agent:
        """The request's options over its profile's (if it names one). Blocking."""
        loaded = find_profile(req.agent, self.paths.config, workspace) if req.agent else None
        return Agent.of(req, loaded, self.tools.names())

    async def _resolve_image(
        self, image: str | None, build: str = "agentctl sandbox build"
    ) -> str | None:
        if image == "none":
            return None
        if image is None:
            from sandboxes import ensure_default_image

            return await asyncio.to_thread(ensure_default_image)
        try:  # checked now: a session must not start only to fail at its first tool call
            present = await self.sandboxes.has_image(image)
        except SandboxError as exc:
            error = as_agentctl_error(exc)
            raise type(error)(f"cannot check the image {image!r}: {exc}", hint=error.hint) from None
        if not present:
            raise UsageError(
                f"image {image!r} is not in the Docker engine",
                hint=f"pull or build it first (`docker pull`, `{build}`), "
                "or leave --image out for the default image",
            )
        return image

    async def _image_digest(self, image: str) -> str | None:
        """The image's content id, for the agent's hash (None if it went meanwhile)."""
        return await asyncio.to_thread(self.sandboxes.engine().image_id, image)

    async def fork(self, sid: str, req: ForkSession) -> str:
        # The parent's lock is held until the fork has its container: `gc` takes the
        # locks of the ended sessions it cleans, so it cannot remove the checkpoint
        # image a fork is starting from.
        async with self._request(req.request_id, parent={"session": sid, "seq": req.at}) as known:
            if known is not None:
                return known
            async with self.journal.lock(sid):
                new_sid = await self._fork_locked(sid, req)
        self.spawn(new_sid)
        return new_sid

    async def _fork_locked(self, sid: str, req: ForkSession) -> str:
        parent = self.journal.durable_state(sid)  # a fork copies what the log holds
        events = await asyncio.to_thread(self.store.read_stream, sid, 0, req.at)
        if req.at > parent.last_seq:
            raise UsageError(
                f"session {sid} has {parent.last_seq} events; --at {req.at} is beyond its end"
            )
        prefix = fold_events(events)
        if not _clean_cut(prefix):
            raise UsageError(
                f"seq {req.at} of {sid} is inside a step (a tool call and its result, or a write not yet checkpointed)",
                hint=f"nearest valid points: {_nearest_valid(await asyncio.to_thread(self.store.read_stream, sid), req.at)}",
            )
        created = SessionCreated.model_validate(events[0].data)
        created.parent = ParentRef(session=sid, seq=req.at)
        created.request_id = req.request_id
        new_sid = ids.session_id()
        if req.model:
            provider = self.load_provider(req.model, created.base_url)
            if created.budget.max_cost_usd is not None:
                check_cost_known(provider)
            self._providers[new_sid] = provider
            created.model = req.model
            created.model_since_step = prefix.steps  # a new recording starts at its first line
        if req.policy:
            created.policy = (
                await asyncio.to_thread(load_policy, req.policy, config_dir=self.paths.config)
            ).to_dict()
        copied = [NewEvent(SessionCreated.TYPE, created.model_dump(mode="json"), ts=events[0].ts)]
        copied += [NewEvent(e.type, e.data, ts=e.ts) for e in events[1:]]
        if prefix.running_since is not None:
            # The parent kept running after the cut; the fork did not: stop its clock
            # there, or the gap until now would count against its wall-time budget.
            paused = SessionStatusChanged(
                status=SessionStatus.PAUSED, reason=f"forked from {sid} at {req.at}"
            )
            copied.append(
                NewEvent(
                    SessionStatusChanged.TYPE, paused.model_dump(mode="json"), ts=events[-1].ts
                )
            )
        # The fork exists, whole, in one batch: its copy, its message and `running`.
        # A daemon killed after it finishes the fork on start like any running
        # session (the first step makes its container from the checkpoint and
        # records `sandbox.restored`), and a retried request finds it by its id.
        tail: list[EventData] = []
        if req.message:
            tail.append(UserMessage(text=req.message))
        running = SessionStatusChanged(
            status=SessionStatus.RUNNING, reason=f"forked from {sid} at {req.at}"
        )
        tail.append(running)
        copied += self.journal.shape(tail, self.journal.now())
        async with self.journal.lock(new_sid):
            await self.journal.append_copy(new_sid, copied)
            if created.sandbox.image is not None:
                checkpoint = prefix.latest_checkpoint
                try:
                    if checkpoint and checkpoint.image:
                        image = checkpoint.image
                        if not await self.sandboxes.has_image(image):
                            # made on another worker's engine: its first step pulls it
                            # from the registry, not this request (docs/scale.md)
                            return new_sid
                        sandbox = await self.sandboxes.start_from(new_sid, created.sandbox, image)
                    else:  # before the first checkpoint: the session's image and its workspace
                        image = created.sandbox.image
                        sandbox = await self.sandboxes.create(new_sid, created.sandbox)
                except Exception as exc:
                    # The fork is in the log, `running`: its actor makes the container
                    # (as after a crash here), or pauses it on the fault, retried on start.
                    log.warning("the fork %s has no container yet: %s", new_sid, exc)
                    return new_sid
                restored = SandboxRestored(container=sandbox.name, image=image)
                await self.journal.append(new_sid, [restored])
        return new_sid


def check_cost_known(provider: Provider) -> None:
    if not provider.price_known:
        raise UsageError(
            f"no price is known for {provider.spec}, so a cost budget cannot be kept",
            hint='add it to [prices] in config.toml (e.g. "MODEL" = [USD per 1M input, '
            "USD per 1M output]; [0, 0] for a free local model), or use --max-tokens",
        )


def _with_defaults(budget: Budget, config: Config, provider: Provider) -> Budget:
    """The session's budget: what was asked, and config's `[budget]` for the rest.

    An explicit `--max-cost` on a model without a price is refused; a default
    one from config is dropped for such a model (it could never be checked).
    """
    if budget.max_cost_usd is not None:
        check_cost_known(provider)
    defaults = config.budget.model_dump(exclude_none=True)
    if not provider.price_known:
        defaults.pop("max_cost_usd", None)
    return Budget.model_validate({**defaults, **budget.model_dump(exclude_none=True)})


def _clean_cut(state: SessionState) -> bool:
    """A fork may start here: no call half-done, no write outside a checkpoint."""
    if state.step_mutated:
        return False
    return all(c.phase is CallPhase.FINISHED for c in state.calls.values())


def _nearest_valid(events: Sequence[Any], at: int) -> str:
    state = SessionState()
    valid: list[int] = []
    from agentctl.state import apply_event

    for event in events:
        apply_event(state, event)
        if _clean_cut(state):
            valid.append(event.seq)
    before = [s for s in valid if s < at]
    after = [s for s in valid if s > at]
    parts = []
    if before:
        parts.append(f"{before[-1]} (before)")
    if after:
        parts.append(f"{after[0]} (after)")
    return ", ".join(parts) or "none"


__all__ = ["SYSTEM_PROMPT", "Child", "MakerHost", "SessionMaker", "capped", "check_cost_known"]
