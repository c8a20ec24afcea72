"""The runtime: sessions as asyncio actors over the event log.

A running session is one asyncio task driving the step machine. A session
that waits for a person holds no task: it is state in the log, woken by the
decision event. Approval deadlines are timers re-armed from the log on start,
so they survive restarts; one found past its deadline expires at once.

The daemon hosts one `Runtime`; tests and benchmarks can host one in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentctl import __version__, ids
from agentctl.config import Config, load_config
from agentctl.crashpoints import CrashPoints
from agentctl.errors import ConflictError, ForbiddenError, NotFoundError, UsageError
from agentctl.identity import Identity
from agentctl.identity import claimed as claimed_identity
from agentctl.keys import KeyStore
from agentctl.mcp.elicit import answer_of
from agentctl.mcp.hub import McpHub
from agentctl.paths import Paths
from agentctl.plugins import Plugins, lacking, missing
from agentctl.policy import Policy, load_policy
from agentctl.profiles import behaviour_hash, find_profile
from agentctl.protocol import (
    AgentRef,
    ApprovalContext,
    ApprovalDecided,
    ApprovalView,
    Budget,
    CreateSession,
    Decide,
    Decision,
    ForkSession,
    ParentRef,
    PluginRef,
    ResumeSession,
    SandboxConfig,
    SandboxEvent,
    SessionCreated,
    SessionStatus,
    SessionStatusChanged,
    SessionSummary,
    UserMessage,
)
from agentctl.providers import Provider, load_provider
from agentctl.providers.retry import RetryPolicy, breaker_for
from agentctl.redact import Redactor
from agentctl.runtime import recovery
from agentctl.runtime.agents import Agent
from agentctl.runtime.journal import Journal
from agentctl.runtime.live import LiveBus
from agentctl.runtime.sandbox_host import SandboxHost, as_agentctl_error
from agentctl.runtime.steps import Fault, StepMachine
from agentctl.runtime.summary import summarize
from agentctl.runtime.workspaces import Workspaces
from agentctl.state import CallPhase, SessionState, fold_events
from agentctl.tools import ToolRegistry, default_registry
from agentctl.triggers.clock import Clock, Handle, SystemClock
from agentctl.triggers.escalation import escalation_for
from agentctl.triggers.host import Triggers
from agentctl.triggers.timers import Timers
from agentctl.workspace.instructions import instruction_names, read_instructions, system_prompt
from sandboxes import DockerSandboxDriver, SandboxError
from store import EventStore, NewEvent, StoredEvent

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are an agent working in a sandboxed Linux container. The project is in /workspace. "
    "Use the tools to inspect and change files and to run commands. When the task is done, "
    "answer with a short summary and no tool calls."
)


class Runtime:
    def __init__(
        self,
        store: EventStore,
        *,
        paths: Paths,
        driver: DockerSandboxDriver | None = None,
        tools: ToolRegistry | None = None,
        crash: CrashPoints | None = None,
        retry_policy: RetryPolicy | None = None,
        output_cap: int = 64_000,
        tool_timeout_s: float = 120.0,
        artifact_cap: int = 256 * 1024 * 1024,
        clock: Clock | None = None,
        plugins: Plugins | None = None,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.paths = paths
        self.tools = tools or default_registry()
        self.plugins = plugins or Plugins()
        for plugin_tool in self.plugins.tools.values():
            self.tools.register(plugin_tool)
        self.crash = crash or CrashPoints()
        self.keys = KeyStore(paths.config)
        redactor = Redactor(extra=self.keys.secrets, extra_version=self._keys_version)
        self.journal = Journal(store, crash=self.crash, redact=redactor)
        self.live = LiveBus(redact=redactor)
        self.sandboxes = SandboxHost(
            self.journal,
            driver,
            hook=self.crash.reach if self.crash.armed else None,
            spill_dir=recovery.spill_dir(paths.artifacts),
        )
        self.steps = StepMachine(self)
        self.workspaces = Workspaces(self)
        self.retry_policy = retry_policy or RetryPolicy()
        self.output_cap = output_cap
        self.tool_timeout_s = tool_timeout_s
        self.artifact_cap = artifact_cap  # bytes of whole outputs kept per session
        self.stopping = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, Handle] = {}
        self._providers: dict[
            str, Provider
        ] = {}  # per session: a replay keeps the recording it began with
        self._policies: dict[str, Policy] = {}
        # request id -> (held while it is served, how many requests hold or wait for it)
        self._requests: dict[str, tuple[asyncio.Lock, int]] = {}
        self._model_calls: dict[str, asyncio.Task[Any]] = {}  # in flight, cancelled on stop
        self.started_at = datetime.now(UTC)
        self.timers = Timers(self)
        self.triggers = Triggers(self)  # schedules, webhooks, alerts
        self.mcp = McpHub(self)  # MCP servers: connections per session, status per server
        self._background: set[asyncio.Task[Any]] = set()

    def _keys_version(self) -> object:
        try:
            stat = self.keys.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def config(self) -> Config:
        """config.toml as it is now: an edit applies to the next session without a restart."""
        return load_config(self.paths.config_file)

    def load_provider(self, spec: str, base_url: str | None = None) -> Provider:
        return load_provider(
            spec,
            base_url=base_url,
            config=self.config(),
            keys=self.keys,
            plugins=self.plugins.providers,
        )

    def missing_plugins(self, state: SessionState) -> list[str]:
        """What the session uses of plugins that this daemon lacks, in words (empty: none)."""
        refs = [PluginRef.model_validate(r) for r in state.created.get("plugins") or []]
        return missing(refs, self.plugins) if refs else []

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild state from the log, clear what a crash left outside it, retry the
        sessions a fault paused, resume `running` ones, re-arm deadlines."""
        await asyncio.to_thread(self.journal.load)
        await asyncio.to_thread(recovery.sweep, self)  # before any actor runs: see recovery
        await recovery.retry_fault_pauses(self)
        for sid, state in self.journal.states.items():
            if state.status is SessionStatus.RUNNING:
                self._spawn(sid)
            elif state.status is SessionStatus.WAITING:
                await self.sandboxes.hold(state)
                for approval in state.pending_approvals:
                    self.schedule_expiry(sid, approval.approval_id)
                self.timers.arm(sid)
        await self.triggers.start()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let each actor reach a durable point (it checks `stopping` between actions)."""
        self.stopping = True
        for timer in self._timers.values():
            timer.cancel()
        for call in list(self._model_calls.values()):
            # An answer that is not committed is asked again on resume (docs/design.md §4);
            # waiting for it would hold the shutdown for as long as the model takes.
            call.cancel()
        self.timers.cancel_all()
        await self.triggers.stop()
        # Timer firings, alert retries: the log says what is left of them.
        for job in list(self._background):
            job.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:  # left to resume: the log says where they were
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for provider in self._providers.values():
            await provider.aclose()
        await self.mcp.close_all()

    def _spawn(self, sid: str) -> None:
        if self.stopping:
            return
        task = self._tasks.get(sid)
        if task is not None and not task.done():
            return
        self._tasks[sid] = asyncio.create_task(self._run(sid), name=f"session:{sid}")

    async def _run(self, sid: str) -> None:
        try:
            # A decision or resume can land while the actor is on its way out
            # (pausing the sandbox after `waiting`); its _spawn then saw a live
            # task and did nothing. So look again before leaving.
            while not self.stopping:
                await self.steps.drive(sid)
                if self.journal.state(sid).status is not SessionStatus.RUNNING:
                    break
        except asyncio.CancelledError:
            raise
        except SandboxError as exc:  # the engine, not the session: retried on the next start
            log.warning("session %s paused: its sandbox failed: %s", sid, exc)
            await self._fault_pause(sid, "sandbox", f"the sandbox failed: {as_agentctl_error(exc)}")
        except Exception as exc:
            log.exception("session %s stopped on an unexpected error", sid)
            what = f"an internal error stopped it ({type(exc).__name__}: {exc})"
            await self._fault_pause(sid, "internal", what)

    async def _fault_pause(self, sid: str, fault: Fault, what: str) -> None:
        try:
            state = self.journal.state(sid)
            reason = recovery.fault_reason(sid, what, state.auto_resumes)
            await self.steps._pause(sid, reason, fault=fault)
        except Exception:
            log.exception("could not record the pause of %s", sid)

    def background(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `work` as a task the runtime keeps (a timer firing, a schedule, an alert)."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def wait_idle(self, sid: str) -> None:
        """Until the session's actor (if any) has stopped (tests, in-process use)."""
        task = self._tasks.get(sid)
        if task is not None:
            await asyncio.shield(task)

    # -- services the step machine uses -------------------------------------------------

    def provider_for(self, state: SessionState) -> Provider:
        provider = self._providers.get(state.session_id)
        if provider is None:
            provider = self.load_provider(state.created["model"], state.created.get("base_url"))
            self._providers[state.session_id] = provider
        return provider

    def tools_for(self, state: SessionState) -> ToolRegistry:
        """The built-in tools and the session's MCP tools (from its log)."""
        if not state.mcp_listed:
            return self.tools
        return self.tools.with_tools(self.mcp.tools_of(state))

    def policy_of(self, state: SessionState) -> Policy:
        policy = self._policies.get(state.session_id)
        if policy is None:
            policy = self._policies[state.session_id] = Policy.from_dict(state.created["policy"])
        return policy

    def schedule_expiry(self, sid: str, approval_id: str) -> None:
        approval = self.journal.state(sid).approvals.get(approval_id)
        if approval is None or approval.expires_at is None or not approval.pending:
            return
        old = self._timers.pop(approval_id, None)
        if old is not None:
            old.cancel()
        self._timers[approval_id] = self.clock.call_at(
            approval.expires_at,
            lambda: self.background(self._expire(sid, approval_id), f"expire:{approval_id}"),
        )

    async def _expire(self, sid: str, approval_id: str) -> None:
        self._timers.pop(approval_id, None)
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            approval = state.approvals.get(approval_id)
            if approval is None or not approval.pending:
                return
            escalated = escalation_for(approval, self.clock.now())
            if escalated is not None:  # the next approvers get a new deadline
                await self.journal.append(sid, [("approval.escalated", escalated)])
                self.schedule_expiry(sid, approval_id)
                return
            decided = ApprovalDecided(
                approval_id=approval_id,
                decision=Decision.EXPIRED,
                approver="agentctl",
                reason=f"no decision before {approval.expires_at:%Y-%m-%d %H:%M:%S}Z; on expiry: {approval.on_expiry}",
            )
            if approval.on_expiry == "pause":
                status = SessionStatusChanged(
                    status=SessionStatus.PAUSED, reason=f"approval {approval_id} expired"
                )
            else:
                status = SessionStatusChanged(
                    status=SessionStatus.RUNNING, reason=f"approval {approval_id} expired: denied"
                )
            items: list[tuple[str, object]] = [("approval.decided", decided)]
            if len(state.pending_approvals) == 1:
                items.append(("session.status", status))
            await self.journal.append(sid, items)
        self.mcp.answered(approval_id)
        if self.journal.state(sid).status is SessionStatus.RUNNING:
            self._spawn(sid)

    # -- commands ------------------------------------------------------------------------

    async def create_session(self, req: CreateSession) -> str:
        async with self._request(req.request_id, parent=None, task=req.task) as known:
            if known is not None:
                return known
            return await self._create_session(req)

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
                        self._spawn(known)
                yield known
        finally:
            lock, users = self._requests[request_id]
            if users == 1:  # the last one: the log's index answers from now on
                del self._requests[request_id]
            else:
                self._requests[request_id] = (lock, users - 1)

    async def _create_session(self, req: CreateSession) -> str:
        workspace = None
        if req.workspace:
            folder = Path(req.workspace).expanduser()
            if not folder.is_dir():
                raise UsageError(f"workspace {req.workspace!r} is not a folder")
            workspace = folder.resolve()
        agent = await asyncio.to_thread(self._agent, req, workspace)
        policy = await asyncio.to_thread(load_policy, agent.policy, config_dir=self.paths.config)
        if req.network == "bridge" and not policy.network:
            raise UsageError(
                f"policy {policy.name!r} does not allow network access", hint="use --network none"
            )
        image = await self._resolve_image(agent.image, agent.build_hint)
        if image is None and workspace:
            raise UsageError("a workspace needs a sandbox; drop --image none")
        config = self.config()
        provider = self.load_provider(agent.model, agent.base_url)  # fails early on a bad model
        budget = _with_defaults(agent.budget, config, provider)
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
            version=__version__,
        )
        self._providers[sid] = provider
        first = self.timers.start_items(req.start_at)  # running, or waiting for --at
        await self.journal.append(sid, [("session.created", created), *first])
        if self.journal.state(sid).timer_hold is None:
            self._spawn(sid)
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

    async def post_message(self, sid: str, text: str) -> None:
        await self._wake(sid, message=text, budget=None, reason="new message")

    async def resume(self, sid: str, req: ResumeSession) -> None:
        await self._wake(sid, message=req.message, budget=req.budget, reason="resumed")

    async def _wake(
        self, sid: str, *, message: str | None, budget: Budget | None, reason: str
    ) -> None:
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            status = state.status
            if status is SessionStatus.CANCELLED:
                raise ConflictError(f"session {sid} was cancelled; fork it to continue")
            gaps = self.missing_plugins(state)
            if gaps:
                raise ConflictError(lacking(sid, gaps))
            if status is SessionStatus.WAITING and state.timer_hold:
                raise ConflictError(f"session {sid} is {state.reason}; it continues then")
            if status is SessionStatus.WAITING:
                pending = ", ".join(a.approval_id for a in state.pending_approvals)
                raise ConflictError(
                    f"session {sid} is waiting for approval ({pending}); decide it first"
                )
            if status is SessionStatus.RUNNING and message is None and budget is None:
                self._spawn(sid)
                return
            if status is SessionStatus.COMPLETED and message is None:
                raise ConflictError(
                    f"session {sid} is completed; give a new message to continue it"
                )
            items: list[tuple[str, object]] = []
            if message is not None:
                items.append(("message.user", UserMessage(text=message)))
            merged = None
            if budget is not None:
                if budget.max_cost_usd is not None:
                    _check_cost_known(self.provider_for(state))
                merged = Budget.model_validate(
                    {**state.budget, **budget.model_dump(exclude_none=True)}
                )
            if reason == "resumed":
                # A person resumed: the endpoint may be back. Try at once rather
                # than wait out the breaker that paused the session.
                breaker_for(self.provider_for(state).endpoint).allow_trial()
            if status is not SessionStatus.RUNNING or merged is not None:
                items.append(
                    (
                        "session.status",
                        SessionStatusChanged(
                            status=SessionStatus.RUNNING, reason=reason, budget=merged
                        ),
                    )
                )
            await self.journal.append(sid, items)
        self._spawn(sid)

    async def cancel(self, sid: str, reason: str = "cancelled by operator") -> None:
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            if state.status is not None and state.status.ended:
                raise ConflictError(f"session {sid} has already ended ({state.status.value})")
            task = self._tasks.get(sid)
            if task is not None and not task.done():
                task.cancel()
            items: list[tuple[str, object]] = [
                (
                    "approval.decided",
                    ApprovalDecided(
                        approval_id=a.approval_id,
                        decision=Decision.DENIED,
                        approver="agentctl",
                        reason=reason,
                    ),
                )
                for a in state.pending_approvals
            ]
            items.append(
                (
                    "session.status",
                    SessionStatusChanged(status=SessionStatus.CANCELLED, reason=reason),
                )
            )
            await self.journal.append(sid, items)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await self.mcp.close_session(sid)
        await self.sandboxes.release(sid)

    async def decide(
        self, approval_id: str, req: Decide, identity: Identity | None = None
    ) -> StoredEvent:
        """Record a decision; the `approval.decided` event as stored.

        `identity` is who the daemon verified (None: an in-process caller, trusted
        with `req.approver`); a rule's `approvers` must include them."""
        who = identity or claimed_identity(req.approver)
        sid = self.journal.approval_index.get(approval_id)
        if sid is None:
            raise NotFoundError(f"no approval {approval_id!r}", hint="see `agentctl approvals`")
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            approval = state.approvals[approval_id]
            if not approval.pending:
                when = (
                    f" at {approval.decided_at:%Y-%m-%d %H:%M:%S}Z" if approval.decided_at else ""
                )
                raise ConflictError(
                    f"approval {approval_id} was already {approval.decision} by {approval.decided_by}{when}"
                    + (f" ({approval.reason})" if approval.reason else "")
                )
            if not who.may_decide(approval.approvers):
                step = (
                    f" (escalation step {approval.escalation_step})"
                    if approval.escalation_step
                    else ""
                )
                log.warning("refused a decision on %s by %s", approval_id, who.describe())
                raise ForbiddenError(
                    f"approval {approval_id} may be decided only by {', '.join(approval.approvers)}"
                    f"{step}; you are {who.describe()}"
                )
            args = None
            if req.decision == "approve":
                from agentctl.tools import ToolCallError

                args = approval.args
                if approval.kind == "elicitation":  # the answer to the server's question
                    try:
                        args = answer_of(approval.context.get("answer_schema"), req.args or {})
                    except ToolCallError as exc:
                        raise UsageError(str(exc), hint="approve with --args ANSWER") from None
                elif req.args is not None:
                    try:
                        _, parsed = self.tools_for(state).validate(approval.name, req.args)
                        args = parsed.model_dump(exclude_none=True)
                    except ToolCallError as exc:
                        raise UsageError(str(exc)) from None
            decided = ApprovalDecided(
                approval_id=approval_id,
                decision=Decision.APPROVED if req.decision == "approve" else Decision.DENIED,
                approver=who.user,
                reason=req.reason,
                args=args,
                verified_user=who.user if who.verified else None,
                claimed=req.approver if req.approver != who.user else None,
                via=who.via,
            )
            items: list[tuple[str, object]] = [("approval.decided", decided)]
            if len(state.pending_approvals) == 1 and state.status is SessionStatus.WAITING:
                items.append(
                    (
                        "session.status",
                        SessionStatusChanged(
                            status=SessionStatus.RUNNING,
                            reason=f"approval {approval_id} {decided.decision.value}",
                        ),
                    )
                )
            stored = await self.journal.append(sid, items)
        self.mcp.answered(approval_id)  # a server waiting for this answer gets it
        timer = self._timers.pop(approval_id, None)
        if timer is not None:
            timer.cancel()
        if self.journal.state(sid).status is SessionStatus.RUNNING:
            self._spawn(sid)
        return stored[0]

    async def fork(self, sid: str, req: ForkSession) -> str:
        # The parent's lock is held until the fork has its container: `gc` takes the
        # locks of the ended sessions it cleans, so it cannot remove the checkpoint
        # image a fork is starting from.
        async with self._request(req.request_id, parent={"session": sid, "seq": req.at}) as known:
            if known is not None:
                return known
            async with self.journal.lock(sid):
                new_sid = await self._fork_locked(sid, req)
        self._spawn(new_sid)
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
                _check_cost_known(provider)
            self._providers[new_sid] = provider
            created.model = req.model
            created.model_since_step = prefix.steps  # a new recording starts at its first line
        if req.policy:
            created.policy = (
                await asyncio.to_thread(load_policy, req.policy, config_dir=self.paths.config)
            ).to_dict()
        copied = [NewEvent("session.created", created.model_dump(mode="json"), ts=events[0].ts)]
        copied += [NewEvent(e.type, e.data, ts=e.ts) for e in events[1:]]
        if prefix.running_since is not None:
            # The parent kept running after the cut; the fork did not: stop its clock
            # there, or the gap until now would count against its wall-time budget.
            paused = SessionStatusChanged(
                status=SessionStatus.PAUSED, reason=f"forked from {sid} at {req.at}"
            )
            copied.append(
                NewEvent("session.status", paused.model_dump(mode="json"), ts=events[-1].ts)
            )
        # The fork exists, whole, in one batch: its copy, its message and `running`.
        # A daemon killed after it finishes the fork on start like any running
        # session (the first step makes its container from the checkpoint and
        # records `sandbox.restored`), and a retried request finds it by its id.
        tail: list[tuple[str, object]] = []
        if req.message:
            tail.append(("message.user", UserMessage(text=req.message)))
        running = SessionStatusChanged(
            status=SessionStatus.RUNNING, reason=f"forked from {sid} at {req.at}"
        )
        tail.append(("session.status", running))
        copied += self.journal.shape(tail, datetime.now(UTC))
        async with self.journal.lock(new_sid):
            await self.journal.append_copy(new_sid, copied)
            if created.sandbox.image is not None:
                checkpoint = prefix.latest_checkpoint
                try:
                    if checkpoint and checkpoint.image:
                        image = checkpoint.image
                        sandbox = await self.sandboxes.start_from(new_sid, created.sandbox, image)
                    else:  # before the first checkpoint: the session's image and its workspace
                        image = created.sandbox.image
                        sandbox = await self.sandboxes.create(new_sid, created.sandbox)
                except Exception as exc:
                    # The fork is in the log, `running`: its actor makes the container
                    # (as after a crash here), or pauses it on the fault, retried on start.
                    log.warning("the fork %s has no container yet: %s", new_sid, exc)
                    return new_sid
                restored = SandboxEvent(container=sandbox.name, image=image)
                await self.journal.append(new_sid, [("sandbox.restored", restored)])
        return new_sid

    # -- queries (projections of the log) ------------------------------------------------

    def session(self, sid: str) -> SessionSummary:
        dormant = self.journal.dormant_summary(sid)  # an ended session, from its snapshot
        if dormant is not None:
            return dormant
        state = self.journal.durable_state(sid)
        if not state.created:  # a schedule's, a hook's or the alerts' stream
            raise NotFoundError(f"no session {sid!r}", hint="see `agentctl ls`")
        return summarize(state)

    def sessions(self, status: str | None = None, limit: int | None = None) -> list[SessionSummary]:
        """The sessions by creation time (with `limit`, the newest `limit` of them).

        Live sessions are summarised from their fold, ended ones come from
        their snapshots (see `Journal.load`), so this costs no read of the log.
        """
        out = [summarize(s) for s in self.journal.durable.values() if s.created]
        out += self.journal.dormant_summaries()
        if status:
            out = [s for s in out if s.status.value == status]
        out.sort(key=lambda s: s.created_at)
        return out[-limit:] if limit is not None and limit > 0 else out

    def approvals(self, session_id: str | None = None) -> list[ApprovalView]:
        states: Sequence[SessionState]
        if session_id:
            states = [self.journal.durable_state(session_id)]
        else:
            # An ended session may still hold a pending approval (its snapshot counts them).
            for summary in self.journal.dormant_summaries():
                if summary.pending_approvals:
                    self.journal.find(summary.id)
            states = list(self.journal.durable.values())
        return [
            ApprovalView(
                id=a.approval_id,
                session=s.session_id,
                call_id=a.call_id,
                tool=a.name,
                args=a.args,
                tier=a.tier,
                rule=a.context.get("rule", ""),
                context=ApprovalContext.model_validate(a.context),
                requested_at=a.requested_at,
                expires_at=a.expires_at,
                on_expiry=a.on_expiry,
                seq=a.requested_seq,
                approvers=a.approvers,
                escalation_step=a.escalation_step,
            )
            for s in states
            for a in s.pending_approvals
        ]

    def counts_by_status(self) -> dict[str, int]:
        counts = {s.value: 0 for s in SessionStatus}
        for state in self.journal.durable.values():
            if state.status is not None:
                counts[state.status.value] += 1
        for summary in self.journal.dormant_summaries():
            counts[summary.status.value] += 1
        return counts


def _check_cost_known(provider: Provider) -> None:
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
        _check_cost_known(provider)
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
