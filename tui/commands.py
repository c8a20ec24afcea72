"""The app's actions in the command palette (ctrl+p), by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import AgentctlApp


class AgentctlCommands(Provider):
    """Approve, deny, edit-and-approve, fork, cancel and help."""

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
