"""The app's actions: deciding, forking, cancelling, resuming, starting runs, the screens
they open; and finding (the prompt: filter, search, go to seq). A base class of `AgentctlApp`."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from typing import Any

from textual import events, on, work
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input

from agentctl.client.follow import Link
from agentctl.errors import AgentctlError
from agentctl.protocol import (
    ApprovalView,
    Budget,
    CreateSession,
    Decide,
    Envelope,
    ForkSession,
    ResumeSession,
    SessionStatus,
)
from agentctl.terminal import clean_line
from tui.messages import (
    ActionDone,
    ActionFailed,
    SessionChanged,
)
from tui.network import Network
from tui.screens.dialogs import (
    ConfirmDialog,
    DenyDialog,
    EditArgsDialog,
    ForkDialog,
    HelpScreen,
    ResumeDialog,
    RunDialog,
)
from tui.screens.diff import DiffScreen
from tui.screens.info import DetailScreen, TraceScreen
from tui.widgets.sessions import short_id

# Actions that change the approval queue or a session: never from under a dialog.
DECISIVE_ACTIONS = frozenset({"approve", "deny", "edit", "fork", "cancel_session"})
PROMPTS = {
    "filter": "filter sessions: words of the task, id, label, profile or status (enter keeps it)",
    "search": "search the timeline (enter; then n / N for the next / previous match)",
    "seq": "go to seq (a number)",
}


class Actions(Network):
    """What the keys and the palette do."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under a dialog a stray key must not decide or cancel anything behind it.
        if action in DECISIVE_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        if action in ("approve", "deny", "edit") and self.decision_target is None:
            return None  # shown dimmed: nothing of the session on screen to decide
        if action == "start_daemon":
            return self.start_daemon is not None and Link.LOST in self.links.values()
        if action == "resume":
            return None if self._selected_status() is not SessionStatus.PAUSED else True
        if action in ("fork", "cancel_session", "diff", "detail", "trace", "copy_id"):
            return None if self.sessions.selected is None else True
        if action == "find_next":
            return None if not self._last_search else True
        return True

    def _selected_status(self) -> SessionStatus | None:
        summary = self.sessions.summaries.get(self.sessions.selected or "")
        return summary.status if summary else None

    @property
    def decision_target(self) -> ApprovalView | None:
        """The approval `a`/`d`/`e` decide: always one of the session on screen.

        The queue's highlighted row when it is that session's, else the
        session's first pending approval; None when the session on screen has
        none, whatever else the queue holds.
        """
        shown = self.timeline.session
        selected = self.approvals.selected
        if selected is not None and selected.session == shown:
            return selected
        mine = self.approvals.of_session(shown)
        return mine[0] if mine else None

    def _update_target(self) -> None:
        """Name the target in the footer: `a Approve edit_file @…8RGN9CC`."""
        target = self.decision_target
        where = f" {clean_line(target.tool)} @{short_id(target.session)}" if target else ""
        for key, verb in (("a", "Approve"), ("d", "Deny"), ("e", "Edit+approve")):
            bindings = self._bindings.key_to_bindings.get(key, [])
            self._bindings.key_to_bindings[key] = [
                dataclasses.replace(b, description=verb + (where if key == "a" else ""))
                for b in bindings
            ]
        if self.screen_stack:  # a queue may arrive before the first screen, or after the last
            self.refresh_bindings()

    def _approval(self) -> ApprovalView | None:
        approval = self.decision_target
        if approval is None:
            self.notify(
                "the session on screen has no pending approval; select a waiting session",
                severity="warning",
            )
        return approval

    async def _decide(
        self,
        approval: ApprovalView,
        decision: str,
        *,
        reason: str = "",
        args: dict[str, Any] | None = None,
    ) -> str:
        assert self.client is not None
        body = Decide.model_validate(
            {"decision": decision, "approver": self.approver, "reason": reason, "args": args}
        )
        await self.client.decide(approval.id, body)
        verb = "approved" if decision == "approve" else "denied"
        return f"{verb} {clean_line(approval.tool)} ({approval.id})"

    def _outcome(self, outcome: str | None) -> None:
        if outcome:
            self.notify(outcome, markup=False)

    def action_approve(self) -> None:
        approval = self._approval()
        if approval is not None:
            self.run_action_worker("approve", self._decide(approval, "approve"))

    def action_deny(self) -> None:
        approval = self._approval()
        if approval is not None:
            dialog = DenyDialog(
                approval, lambda reason: self._decide(approval, "deny", reason=reason)
            )
            self.push_screen(dialog, self._outcome)

    def action_edit(self) -> None:
        approval = self._approval()
        if approval is not None:
            dialog = EditArgsDialog(
                approval, lambda args: self._decide(approval, "approve", args=args)
            )
            self.push_screen(dialog, self._outcome)

    def action_fork(self) -> None:
        event = self.timeline.selected_event
        if event is None:
            self.notify("select an event in the timeline to fork at", severity="warning")
            return
        self.push_screen(
            ForkDialog(event, lambda at, message, model: self._fork(event, at, message, model)),
            self._outcome,
        )

    async def _fork(self, event: Envelope, at: int, message: str | None, model: str | None) -> str:
        assert self.client is not None
        forked = await self.client.fork(
            event.session, ForkSession(at=at, message=message, model=model)
        )
        self._select_when_seen = forked.id
        self.post_message(SessionChanged(forked))
        return f"forked {event.session} at seq {at}: {forked.id}"

    def action_cancel_session(self) -> None:
        session_id = self.sessions.selected
        if session_id is None:
            self.notify("no session selected", severity="warning")
            return
        question = (
            f"Cancel session {session_id}? Its pending approvals are dropped; it cannot be resumed."
        )
        self.push_screen(ConfirmDialog(question, lambda: self._cancel(session_id)), self._outcome)

    async def _cancel(self, session_id: str) -> str:
        assert self.client is not None
        await self.client.cancel(session_id, f"cancelled from the TUI by {self.approver}")
        return f"cancelled {session_id}"

    def action_diff(self) -> None:
        session_id = self.sessions.selected
        if session_id is None:
            self.notify("no session selected", severity="warning")
            return
        self.show_diff(session_id)

    @work(exclusive=True, group="diff")
    async def show_diff(self, session_id: str) -> None:
        """Fetch the session's workspace diff, then show it (an error is a notification)."""
        assert self.client is not None
        try:
            diff = await self.client.diff(session_id)
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"diff of {session_id}", str(exc)))
            return
        self.push_screen(DiffScreen(diff))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_copy_id(self) -> None:
        session_id = self.sessions.selected
        if session_id is None:
            return
        self.copy_to_clipboard(session_id)  # OSC 52: the terminal puts it on the clipboard
        self.notify(f"copied {session_id}", title="to the clipboard")

    def action_resume(self) -> None:
        summary = self.sessions.summaries.get(self.sessions.selected or "")
        if summary is None or summary.status is not SessionStatus.PAUSED:
            self.notify("select a paused session to resume", severity="warning")
            return
        self.push_screen(
            ResumeDialog(summary, lambda budget, text: self._resume(summary.id, budget, text)),
            self._outcome,
        )

    async def _resume(self, session_id: str, budget: Budget | None, message: str | None) -> str:
        assert self.client is not None
        await self.client.resume(session_id, ResumeSession(message=message, budget=budget))
        return f"resumed {session_id}"

    def action_run(self) -> None:
        self.push_screen(RunDialog(self._run), self._outcome)

    async def _run(self, req: CreateSession) -> str:
        assert self.client is not None
        started = await self.client.create_session(req)
        self._select_when_seen = started.id
        self.post_message(SessionChanged(started))
        return f"started {started.id}"

    def action_detail(self) -> None:
        session_id = self.sessions.selected
        if session_id is not None:
            self.show_detail(session_id)

    @work(exclusive=True, group="detail")
    async def show_detail(self, session_id: str) -> None:
        """`agentctl show`, fetched fresh."""
        assert self.client is not None
        try:
            summary = await self.client.session(session_id)
            pending = await self.client.approvals(session=session_id)
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"detail of {session_id}", str(exc)))
            return
        self.push_screen(DetailScreen(summary, pending))

    def action_trace(self) -> None:
        session_id = self.sessions.selected
        if session_id is not None:
            self.show_trace(session_id)

    @work(exclusive=True, group="trace")
    async def show_trace(self, session_id: str) -> None:
        """`agentctl trace`: where the session's time went."""
        assert self.client is not None
        try:
            trace = await self.client.trace(session_id)
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"trace of {session_id}", str(exc)))
            return
        self.push_screen(TraceScreen(trace))

    def action_start_daemon(self) -> None:
        if self.start_daemon is not None:
            self.notify("starting the daemon…")
            self.run_worker(self._start_daemon(), group="daemon", exclusive=True)

    async def _start_daemon(self) -> None:
        assert self.start_daemon is not None
        try:
            await self.start_daemon()
        except AgentctlError as exc:
            self.post_message(ActionFailed("starting the daemon", str(exc)))

    def run_action_worker(self, title: str, call: Awaitable[str]) -> None:
        self.run_worker(self._run_action(title, call), group="actions")

    async def _run_action(self, title: str, call: Awaitable[str]) -> None:
        try:
            self.post_message(ActionDone(await call))
        except AgentctlError as exc:
            self.post_message(ActionFailed(title, str(exc)))

    # --- finding --------------------------------------------------------------------

    def action_find(self) -> None:
        """`/`: search the timeline when it has the focus, else filter the sessions."""
        self._open_prompt("search" if self.focused is self.timeline else "filter")

    def action_goto_seq(self) -> None:
        self._open_prompt("seq")

    def _open_prompt(self, mode: str) -> None:
        self._prompt_mode = mode
        self._prompt_back = self.sessions.query_text
        prompt = self.prompt
        prompt.placeholder = PROMPTS[mode]
        prompt.value = {"filter": self.sessions.query_text, "search": self._last_search}.get(
            mode, ""
        )
        prompt.display = True
        prompt.focus()

    @on(Input.Changed, "#prompt")
    def _prompt_changed(self, message: Input.Changed) -> None:
        if self._prompt_mode == "filter":
            self.sessions.set_filter(message.value)

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, message: Input.Submitted) -> None:
        mode, value = self._prompt_mode, message.value.strip()
        self._close_prompt(self.sessions if mode == "filter" else self.timeline)
        if mode == "search" and value:
            self._last_search = value
            self.action_find_next(1)
        elif mode == "seq":
            if not value.isdigit():
                self.notify(f"{clean_line(value)!r} is not a seq", severity="warning", markup=False)
                return
            self.timeline.highlight_seq(int(value))

    def _close_prompt(self, focus: Widget) -> None:
        self.prompt.display = False
        self._prompt_mode = ""
        focus.focus()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.prompt.has_focus:
            event.stop()
            if self._prompt_mode == "filter":
                self.sessions.set_filter(self._prompt_back or "")
            self._close_prompt(self.sessions if self._prompt_mode == "filter" else self.timeline)

    def action_find_next(self, step: int) -> None:
        session_id = self.timeline.session
        if session_id is None or not self._last_search:
            return
        here = self.timeline.selected_event
        self.search_timeline(session_id, self._last_search, here.seq if here else 0, step)

    def action_sort(self) -> None:
        self.notify(f"sessions by {self.sessions.next_sort()}, waiting ones first")

    def action_pane(self, name: str) -> None:
        {"sessions": self.sessions, "timeline": self.timeline}.get(
            name, self.approvals.table
        ).focus()
