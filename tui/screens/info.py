"""Read-only screens over one session: its detail (`agentctl show`) and its trace.

The app fetches what they show (through the client) before pushing them;
they render it with the CLI's own renderers, so a session reads the same in
both, and clean every string that came from the model or a tool first.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from agentctl.observe.render import BAR_WIDTH, trace_view
from agentctl.protocol import ApprovalView, SessionSummary, SessionTrace
from agentctl.render import session_panel
from agentctl.terminal import clean_line


class DetailScreen(ModalScreen[None]):
    """What `agentctl show SESSION` prints: status, task, model, budget used, approvals."""

    CSS_PATH = ["dialogs.tcss", "diff.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,i", "dismiss", "Close")]

    def __init__(self, summary: SessionSummary, approvals: list[ApprovalView]) -> None:
        super().__init__()
        self.summary = summary
        self.approvals = approvals

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog diff"):
            yield Static(f"Session {self.summary.id}", classes="title")
            with VerticalScroll(id="diff-body"):
                yield Static(session_panel(self.summary, self.approvals), id="detail")
            yield Static(Text("esc to close · y copies the id", style="dim"))


def cleaned(trace: SessionTrace) -> SessionTrace:
    """The trace with the names that came from the model or a tool made printable."""
    spans = [span.model_copy(update={"name": clean_line(span.name)}) for span in trace.spans]
    return trace.model_copy(update={"spans": spans, "model": clean_line(trace.model)})


class TraceScreen(ModalScreen[None]):
    """What `agentctl trace SESSION` prints: where the wall time went, step by step."""

    CSS_PATH = ["dialogs.tcss", "diff.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,t", "dismiss", "Close")]

    def __init__(self, trace: SessionTrace) -> None:
        super().__init__()
        self.trace = cleaned(trace)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog diff"):
            yield Static(f"Trace of {self.trace.session}", classes="title")
            with VerticalScroll(id="diff-body"):
                # the bars take what the columns leave (the CLI's default is for a wide terminal)
                bars = max(10, min(BAR_WIDTH, self.app.size.width - 100))
                yield Static(trace_view(self.trace, width=bars), id="trace")
            yield Static(Text("esc to close", style="dim"))
