"""The runtime: sessions as asyncio actors over the event log.

A running session is one asyncio task driving the step machine. A session
that waits for a person holds no task: it is state in the log, woken by the
decision event. Approval deadlines are timers re-armed from the log on start,
so they survive restarts; one found past its deadline expires at once.

The daemon hosts one `Runtime`; tests and benchmarks can host one in-process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from agentctl.config import Config, load_config
from agentctl.crashpoints import CrashPoints
from agentctl.errors import ConflictError, NotFoundError
from agentctl.identity import Identity
from agentctl.keys import KeyStore
from agentctl.mcp.hub import McpHub
from agentctl.paths import Paths
from agentctl.plugins import Plugins, lacking, missing
from agentctl.policy import Policy
from agentctl.protocol import (
    ApprovalContext,
    ApprovalDecided,
    ApprovalView,
    Budget,
    CreateSession,
    Decide,
    Decision,
    EventData,
    ForkSession,
    PluginRef,
    ResumeSession,
    SessionStatus,
    SessionStatusChanged,
    SessionSummary,
    UserMessage,
)
from agentctl.providers import Provider, load_provider
from agentctl.providers.retry import RetryPolicy, breaker_for
from agentctl.redact import Redactor
from agentctl.runtime import recovery
from agentctl.runtime.approvals import Decisions
from agentctl.runtime.delegation import Delegations
from agentctl.runtime.journal import Journal
from agentctl.runtime.leases import Ownership
from agentctl.runtime.live import LiveBus
from agentctl.runtime.making import SessionMaker, check_cost_known
from agentctl.runtime.sandbox_host import SandboxHost, as_agentctl_error
from agentctl.runtime.steps import Fault, StepMachine
from agentctl.runtime.summary import summarize
from agentctl.runtime.workspaces import Workspaces
from agentctl.state import SessionState
from agentctl.tools import ToolRegistry, default_registry
from agentctl.triggers.clock import Clock, SystemClock
from agentctl.triggers.host import Triggers
from agentctl.triggers.timers import Timers
from sandboxes import SandboxError
from store import EventStore, StoredEvent

if TYPE_CHECKING:
    from sandboxes import DockerSandboxDriver

log = logging.getLogger(__name__)


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
        self.journal = Journal(store, crash=self.crash, redact=redactor, now=self.clock.now)
        self.live = LiveBus(redact=redactor)
        self.sandboxes = SandboxHost(
            self.journal,
            driver,
            hook=self.crash.reach if self.crash.armed else None,
            spill_dir=recovery.spill_dir(paths.artifacts),
            # `[sandbox] registry`: read once, at start (the engine is the daemon's)
            registry=load_config(paths.config_file, sections=("sandbox",)).sandbox.registry,
        )
        self.steps = StepMachine(self)
        self.workspaces = Workspaces(self)
        self.retry_policy = retry_policy or RetryPolicy()
        self.output_cap = output_cap
        self.tool_timeout_s = tool_timeout_s
        self.artifact_cap = artifact_cap  # bytes of whole outputs kept per session
        self.stopping = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._providers: dict[
            str, Provider
        ] = {}  # per session: a replay keeps the recording it began with
        self._policies: dict[str, Policy] = {}
        self.model_calls: dict[str, asyncio.Future[Any]] = {}  # in flight, cancelled on stop
        self.started_at = self.clock.now()
        self.timers = Timers(self)
        self.triggers = Triggers(self)  # schedules, webhooks, alerts
        self.mcp = McpHub(self)  # MCP servers: connections per session, status per server
        self.decisions = Decisions(self)  # approvals: decisions and deadlines
        self.maker = SessionMaker(self, self._providers)  # creates and forks
        self.delegations = Delegations(self)  # the `delegate` tool's child sessions
        self._background: set[asyncio.Task[Any]] = set()
        # Set by a daemon that is one worker among several (agentctl.daemon.workers):
        # it then drives only the sessions it holds a lease on. None: all of them.
        self.ownership: Ownership | None = None

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
        if self.ownership is not None:
            # A worker among several: the sessions a fault paused are retried (by
            # the first worker to start; the expected seq refuses the others), then
            # every live session is offered, and each worker adopts the ones it
            # claims (`leases.adopt`, which also wakes a parent whose child ended).
            await recovery.retry_fault_pauses(self)
            for sid, state in self.journal.states.items():
                if state.status in (SessionStatus.RUNNING, SessionStatus.WAITING):
                    self.ownership.offer(sid)
            await self.triggers.start()
            return
        await recovery.retry_fault_pauses(self)
        for sid, state in self.journal.states.items():
            if state.status is SessionStatus.RUNNING:
                self.spawn(sid)
            elif state.status is SessionStatus.WAITING:
                await self.sandboxes.hold(state)
                for approval in state.pending_approvals:
                    self.schedule_expiry(sid, approval.approval_id)
                self.timers.arm(sid)
        await self.delegations.recover()  # a child that ended while the daemon was down
        await self.triggers.start()

    def use_ownership(self, ownership: Ownership) -> None:
        """Be one worker among several: drive only what `ownership` holds (before `start`)."""
        self.ownership = ownership
        # A held session's append that conflicts means another writer: no more appends
        # from here until it is adopted again (a non-owner's decision may just retry).
        self.journal.on_conflict = ownership.holds
        # and its appends name the lease, which the store checks as it commits them
        self.journal.lease_of = ownership.lease

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let each actor reach a durable point (it checks `stopping` between actions)."""
        self.stopping = True
        self.decisions.cancel_all()
        for call in list(self.model_calls.values()):
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

    def actor(self, sid: str) -> asyncio.Task[None] | None:
        """The task driving a session, if one was started (it may be done)."""
        return self._tasks.get(sid)

    def drives(self, sid: str) -> bool:
        """Whether this process drives the session (not so if another worker holds it)."""
        return self.ownership is None or self.ownership.holds(sid)

    def spawn(self, sid: str) -> None:
        if self.stopping:
            return
        if self.ownership is not None and not self.ownership.holds(sid):
            self.ownership.offer(sid)  # whichever worker claims it drives it
            return
        task = self._tasks.get(sid)
        if task is not None and not task.done():
            return
        self._tasks[sid] = asyncio.create_task(self._run(sid), name=f"session:{sid}")

    async def _run(self, sid: str) -> None:
        try:
            # A decision or resume can land while the actor is on its way out
            # (pausing the sandbox after `waiting`); its spawn then saw a live
            # task and did nothing. So look again before leaving.
            while not self.stopping:
                await self.steps.drive(sid)
                state = self.journal.state(sid)
                if state.status is SessionStatus.RUNNING:
                    continue
                if state.created.get("delegated_by") and state.status and state.status.ended:
                    # A child's end wakes its parent; an answer that does not fit its
                    # schema is given back to it once, and it runs on (here).
                    await self.delegations.deliver(sid)
                    if self.journal.state(sid).status is SessionStatus.RUNNING:
                        continue
                break
            status = self.journal.state(sid).status
            if self.ownership is not None and status is not None and status.ended:
                self.ownership.ended(sid)
        except asyncio.CancelledError:
            raise
        except ConflictError as exc:
            if self.ownership is None:
                log.exception("session %s stopped on an unexpected error", sid)
                await self._fault_pause(sid, "internal", f"an internal error stopped it ({exc})")
                return
            # Another writer appended first (our lease lapsed, or a decision or
            # cancel came through another daemon): stop, and let a worker adopt it
            # again from the log.
            log.warning("session %s: %s; no longer driven here", sid, exc)
            self.ownership.lost(sid)
            self.journal.fenced.add(sid)  # until a claim adopts it again
            await asyncio.to_thread(functools.partial(self.journal.refresh, sid, unfence=False))
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
        """Arm the approval's deadline (if it has one and is pending)."""
        self.decisions.schedule_expiry(sid, approval_id)

    # -- commands ------------------------------------------------------------------------

    async def create_session(self, req: CreateSession) -> str:
        return await self.maker.create_session(req)

    async def fork(self, sid: str, req: ForkSession) -> str:
        return await self.maker.fork(sid, req)

    async def decide(
        self, approval_id: str, req: Decide, identity: Identity | None = None
    ) -> StoredEvent:
        """Record a decision; the `approval.decided` event as stored (see Decisions.decide)."""
        return await self.decisions.decide(approval_id, req, identity)

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
            if status is SessionStatus.WAITING and state.delegation.child:
                raise ConflictError(
                    f"session {sid} waits for its child session {state.delegation.child}; "
                    "it continues when the child ends",
                    hint=f"cancel {state.delegation.child} to stop waiting for it",
                )
            if status is SessionStatus.WAITING:
                pending = ", ".join(a.approval_id for a in state.pending_approvals)
                raise ConflictError(
                    f"session {sid} is waiting for approval ({pending}); decide it first"
                )
            if status is SessionStatus.RUNNING and message is None and budget is None:
                self.spawn(sid)
                return
            if status is SessionStatus.COMPLETED and message is None:
                raise ConflictError(
                    f"session {sid} is completed; give a new message to continue it"
                )
            items: list[EventData] = []
            if message is not None:
                items.append(UserMessage(text=message))
            merged = None
            if budget is not None:
                if budget.max_cost_usd is not None:
                    check_cost_known(self.provider_for(state))
                merged = Budget.model_validate(
                    {**state.budget, **budget.model_dump(exclude_none=True)}
                )
            if reason == "resumed":
                # A person resumed: the endpoint may be back. Try at once rather
                # than wait out the breaker that paused the session.
                breaker_for(self.provider_for(state).endpoint).allow_trial()
            if status is not SessionStatus.RUNNING or merged is not None:
                items.append(
                    SessionStatusChanged(status=SessionStatus.RUNNING, reason=reason, budget=merged)
                )
            await self.journal.append(sid, items)
        self.spawn(sid)

    async def cancel(self, sid: str, reason: str = "cancelled by operator") -> None:
        async with self.journal.lock(sid):
            state = self.journal.state(sid)
            if state.status is not None and state.status.ended:
                raise ConflictError(f"session {sid} has already ended ({state.status.value})")
            child = state.delegation.child  # the child it waits for, if any
            task = self._tasks.get(sid)
            if task is not None and not task.done():
                task.cancel()
            items: list[EventData] = [
                ApprovalDecided(
                    approval_id=a.approval_id,
                    decision=Decision.DENIED,
                    approver="agentctl",
                    reason=reason,
                )
                for a in state.pending_approvals
            ]
            items.append(SessionStatusChanged(status=SessionStatus.CANCELLED, reason=reason))
            await self.journal.append(sid, items)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await self.mcp.close_session(sid)
        await self.sandboxes.release(sid)
        if self.ownership is not None:
            self.ownership.ended(sid)
        if child is not None:  # cancelling a parent cancels the child it waits for
            await self.delegations.cancel_child(sid, child)
        if state.created.get("delegated_by"):
            await self.delegations.deliver(sid)  # a cancelled child: its parent's call fails

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
                delegated_by=(s.created.get("delegated_by") or {}).get("session"),
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
