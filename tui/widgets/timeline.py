"""The timeline of one session: its events as the CLI renders them, selectable.

Every event goes through `agentctl.render.render_event`, so a session reads
the same here as in `agentctl attach`; events it hides (a first model
request, an allowed proposal) are kept but not shown. The pane keeps each
session's log it has seen, with its cursor (the last seq), so selecting a
session again shows what it had at once and the follow resumes after the
cursor instead of starting over: an event is never shown twice.

A streamed model response shows as it forms, in a last, dim line (the live
`model.delta` envelopes); the stored `model.responded` replaces it.

Tool output cycles with enter between the CLI's folded view, the whole
output and the head line alone. Checkpoints are boxed: they are the usual
place to fork (`f`), and `[` / `]` jump between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from rich import box
from rich.console import RenderableType
from rich.panel import Panel
from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from agentctl.printable import printable
from agentctl.protocol import LIVE_DELTA, Envelope
from agentctl.render import FOLD_LINES, render_event

LIVE_ID = "live"


class OutputView(Enum):
    FOLDED = "folded"  # the CLI's view: the last lines
    FULL = "full"
    COLLAPSED = "collapsed"  # the head line only


@dataclass
class SessionLog:
    events: list[Envelope] = field(default_factory=list)
    views: dict[int, OutputView] = field(default_factory=dict)
    live: str = ""  # the streamed response so far; "" when no call is streaming

    @property
    def cursor(self) -> int:
        return self.events[-1].seq if self.events else 0


def output_lines(event: Envelope) -> int:
    if event.type != "tool.finished" or event.data.get("error"):
        return 0
    return len(str(event.data.get("output", "")).rstrip("\n").splitlines())


def next_view(view: OutputView, lines: int) -> OutputView:
    if view is OutputView.FOLDED:
        return OutputView.FULL if lines > FOLD_LINES else OutputView.COLLAPSED
    if view is OutputView.FULL:
        return OutputView.COLLAPSED
    return OutputView.FOLDED


def prompt_for(event: Envelope, view: OutputView = OutputView.FOLDED) -> RenderableType | None:
    lines = output_lines(event)
    if lines and view is OutputView.COLLAPSED:
        head = render_event(event.model_copy(update={"data": {**event.data, "output": ""}}))
        hint = Text(f"  ▸ {lines} line{'s' if lines != 1 else ''} of output (enter)", style="dim")
        return Text.assemble(head, hint) if isinstance(head, Text) else head
    rendered = render_event(event, fold=view is not OutputView.FULL)
    if rendered is not None and event.type == "checkpoint.created":
        return Panel(rendered, box=box.ROUNDED, border_style="magenta", padding=(0, 0))
    return rendered


class Timeline(OptionList):
    """The selected session's events; the highlighted one is where `f` forks."""

    DEFAULT_CSS = """
    Timeline { height: 2fr; }
    """

    BINDINGS = [
        Binding("left_square_bracket", "checkpoint(-1)", "Prev checkpoint", show=False),
        Binding("right_square_bracket", "checkpoint(1)", "Next checkpoint", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session: str | None = None
        self.logs: dict[str, SessionLog] = {}

    def on_mount(self) -> None:
        self.border_title = "Timeline"

    def show(self, session_id: str) -> int:
        """Show a session's known events; returns the cursor to follow it from."""
        self.session = session_id
        log = self.logs.setdefault(session_id, SessionLog())
        self.clear_options()
        options = [self._option(e, log) for e in log.events]
        self.add_options([o for o in options if o is not None])
        if log.live:
            self.add_option(
                Option(Text("⋯ " + printable(log.live), style="dim italic"), id=LIVE_ID)
            )
        if self.option_count:
            self.highlighted = self.option_count - 1
        self._title()
        return log.cursor

    def add(self, event: Envelope) -> bool:
        """Add an event in seq order; False for one already seen (a resent or stale event)."""
        log = self.logs.setdefault(event.session, SessionLog())
        if event.type == LIVE_DELTA:
            self._live(event, log)
            return True
        if event.seq <= log.cursor:
            return False
        log.events.append(event)
        had_live = bool(log.live) and event.session == self.session
        if had_live:
            self._drop_live()  # back below the new event, or gone when the call is over
        if event.type in ("model.responded", "model.failed"):
            log.live = ""
        if event.session == self.session:
            option = self._option(event, log)
            if option is not None:
                at_end = self.highlighted is None or self.highlighted >= self.option_count - 1
                self.add_option(option)
                if at_end:
                    self.highlighted = self.option_count - 1
            self._title()
        if had_live and log.live:
            self._show_live(log)
        return True

    def _show_live(self, log: SessionLog) -> None:
        prompt = Text("⋯ " + printable(log.live), style="dim italic")
        if self._has_live():
            self.replace_option_prompt(LIVE_ID, prompt)
            return
        at_end = self.highlighted is None or self.highlighted >= self.option_count - 1
        self.add_option(Option(prompt, id=LIVE_ID))
        if at_end:
            self.highlighted = self.option_count - 1

    def _live(self, event: Envelope, log: SessionLog) -> None:
        data = event.data
        if data.get("snapshot"):
            log.live = ""
        log.live += str(data.get("reasoning") or "") + str(data.get("text") or "")
        for call in data.get("tool_calls") or []:
            if call.get("name") and not call.get("args"):
                log.live += f"\n→ {call['name']} "
            log.live += str(call.get("args") or "")
        if event.session == self.session and log.live:
            self._show_live(log)

    def _has_live(self) -> bool:
        return any(o.id == LIVE_ID for o in self.options)

    def _drop_live(self) -> None:
        if self._has_live():
            self.remove_option(LIVE_ID)

    @property
    def live_text(self) -> str:
        """The streamed response being shown (tests)."""
        log = self.logs.get(self.session or "")
        return log.live if log else ""

    def _option(self, event: Envelope, log: SessionLog) -> Option | None:
        prompt = prompt_for(event, log.views.get(event.seq, OutputView.FOLDED))
        return None if prompt is None else Option(prompt, id=str(event.seq))

    def _title(self) -> None:
        if self.session is None:
            self.border_title = "Timeline"
            return
        count = len(self.logs[self.session].events)
        self.border_title = f"Timeline · {self.session} · {count} events"

    # --- what the app reads -------------------------------------------------------

    def events_of(self, session_id: str) -> list[Envelope]:
        log = self.logs.get(session_id)
        return list(log.events) if log else []

    @property
    def received_seqs(self) -> list[int]:
        """Every seq of the shown session this pane has, shown or hidden."""
        log = self.logs.get(self.session or "")
        return [e.seq for e in log.events] if log else []

    @property
    def shown_seqs(self) -> list[int]:
        return [int(o.id) for o in self.options if o.id is not None and o.id != LIVE_ID]

    @property
    def selected_event(self) -> Envelope | None:
        if self.highlighted is None or self.session is None:
            return None
        option_id = self.get_option_at_index(self.highlighted).id
        seq = int(option_id) if option_id is not None and option_id != LIVE_ID else 0
        return self.logs[self.session].events[seq - 1] if seq else None

    # --- actions ------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_toggle_output()

    def action_toggle_output(self) -> None:
        event = self.selected_event
        if event is None or self.session is None or not output_lines(event):
            return
        log = self.logs[self.session]
        view = next_view(log.views.get(event.seq, OutputView.FOLDED), output_lines(event))
        log.views[event.seq] = view
        prompt = prompt_for(event, view)
        if prompt is not None:
            self.replace_option_prompt(str(event.seq), prompt)

    def action_checkpoint(self, step: int) -> None:
        if self.session is None:
            return
        events = self.logs[self.session].events
        seqs = self.shown_seqs
        here = self.highlighted if self.highlighted is not None else -1
        order = range(here + step, len(seqs)) if step > 0 else range(here + step, -1, -1)
        for index in order:
            if index >= 0 and events[seqs[index] - 1].type == "checkpoint.created":
                self.highlighted = index
                return
        self.app.bell()
