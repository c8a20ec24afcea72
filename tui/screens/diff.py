"""A session's workspace diff, full screen: what `agentctl diff` shows, scrollable.

The diff is fetched by the app (through the client) before the screen is
pushed; the screen only renders it, with the same renderer as the CLI, so
control characters in the agent's files are shown, not obeyed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from agentctl.protocol import WorkspaceDiff
from agentctl.workspace.render import render_patch, render_stat


class DiffScreen(ModalScreen[None]):
    """The diff of one session's /workspace against the copy it started from."""

    CSS_PATH = ["dialogs.tcss", "diff.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,v", "dismiss", "Close")]

    def __init__(self, diff: WorkspaceDiff) -> None:
        super().__init__()
        self.diff = diff

    def compose(self) -> ComposeResult:
        diff = self.diff
        where = "now" if diff.at is None else f"at seq {diff.at}"
        with Vertical(classes="dialog diff"):
            yield Static(f"Workspace diff of {diff.session} ({where})", classes="title")
            with VerticalScroll(id="diff-body"):
                if diff.files:
                    yield Static(render_stat(diff), id="diff-stat")
                    yield Static(render_patch(diff), id="diff-patch")
                else:
                    yield Static(Text("no changes", style="dim"), id="diff-patch")
            yield Static(Text("esc to close · `agentctl apply` brings it home", style="dim"))
