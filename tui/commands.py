"""The app's actions in the command palette (ctrl+p), by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import AgentctlApp


class AgentctlCommands(Provider):
    """Every action of the app by name: decide, fork, cancel, resume, run, find, show."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast("AgentctlApp", self.app)
        return [
            ("Approve", "approve the highlighted approval (a)", app.action_approve),
            ("Deny", "deny the highlighted approval with a reason (d)", app.action_deny),
            (
                "Edit and approve",
                "edit the call's JSON arguments, then approve (e)",
                app.action_edit,
            ),
            (
                "Fork here",
                "fork the session at the highlighted timeline event (f)",
                app.action_fork,
            ),
            (
                "Cancel session",
                "cancel the selected session, after confirming (c)",
                app.action_cancel_session,
            ),
            (
                "Resume",
                "resume the selected paused session, raising its budget (r)",
                app.action_resume,
            ),
            (
                "New run",
                "start a session: task, profile, workspace, model (ctrl+n)",
                app.action_run,
            ),
            (
                "Find",
                "filter the sessions, or search the timeline when it has the focus (/)",
                app.action_find,
            ),
            ("Go to seq", "highlight an event of the timeline by its seq (:)", app.action_goto_seq),
            (
                "Sort sessions",
                "newest, status, cost, steps, task; waiting ones first (s)",
                app.action_sort,
            ),
            ("Detail", "the selected session, as `agentctl show` (i)", app.action_detail),
            ("Trace", "where the selected session's time went (t)", app.action_trace),
            ("Diff", "the selected session's workspace diff (v)", app.action_diff),
            ("Copy id", "copy the selected session's id to the clipboard (y)", app.action_copy_id),
            ("Keys", "every key of the app (?)", app.action_help),
        ]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
