"""The timeline of one session: its events as the CLI renders them, virtualised.

Every event goes through `agentctl.render.render_event`, so a session reads
the same here as in `agentctl attach`; events it hides (a first model
request, an allowed proposal) take no line.

A session may hold tens of thousands of events, so nothing here is
proportional to its length:

- events are held in pages of `PAGE` seqs, fetched from the daemon when the
  view reaches them (`PageWanted`; seqs have no gaps, so a page is
  `after=k*PAGE, limit=PAGE`), at most `MAX_PAGES` per session and
  `MAX_SESSIONS` sessions, the least recently shown dropped first;
- the widget draws with the Line API (`render_line`): each paint renders
  only the events that meet the screen, from an anchor (a seq and a line
  within it), and keeps the rendered lines of recent events in a bounded
  cache keyed by what changes them (the view of its output, the width, the
  cursor);
- scrolling moves the anchor by lines, the cursor moves by shown events; at
  the end (`G`) the view follows what arrives.

A streamed model response shows as it forms, in a last, dim line (the live
`model.delta` envelopes); the stored `model.responded` replaces it.

Tool output cycles with enter between the CLI's folded view, the whole
output and the head line alone (`-`/`+` for all of them). Checkpoints are
boxed: they are the usual place to fork (`f`), and `[` / `]` jump between
them. `m` shows the conversation alone (the person's and the model's words).

The pages are `session_log.py`, an event's rendering and search `event_text.py`,
the keys that move and fold `timeline_moves.py` (a base class of `Timeline`).
"""

from __future__ import annotations

from collections import OrderedDict

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from agentctl.printable import printable
from agentctl.protocol import LIVE_DELTA, Envelope, ModelFailed, ModelResponded
from agentctl.render import render_event
from tui.widgets.event_text import MESSAGE_TYPES, hang, prompt_for
from tui.widgets.session_log import (
    MAX_SESSIONS,
    PAGE,
    SessionLog,
    page_of,
)
from tui.widgets.timeline_moves import TimelineMoves

MAX_RENDERED = 4000  # events whose rendered lines are cached


class Timeline(TimelineMoves, can_focus=True):
    """The selected session's events; the highlighted one is where `f` forks."""

    DEFAULT_CSS = """
    Timeline { height: 2fr; }
    Timeline > .timeline--cursor { background: $accent 30%; }
    Timeline:focus > .timeline--cursor { background: $accent 50%; }
    """
    COMPONENT_CLASSES = {"timeline--cursor"}

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last (follow)", show=False),
        Binding("enter", "toggle_output", "Fold", show=False),
        Binding("minus", "all_views('collapsed')", "Collapse all", show=False),
        Binding("plus", "all_views('full')", "Expand all", show=False),
        Binding("m", "messages_only", "Messages only", show=False),
        Binding("left_square_bracket", "checkpoint(-1)", "Prev checkpoint", show=False),
        Binding("right_square_bracket", "checkpoint(1)", "Next checkpoint", show=False),
    ]

    class PageWanted(Message):
        """The view reached events the pane does not hold: fetch this page."""

        def __init__(self, session_id: str, page: int) -> None:
            super().__init__()
            self.session_id = session_id
            self.page = page

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session: str | None = None
        self.logs: OrderedDict[str, SessionLog] = OrderedDict()
        self.cursor_seq: int | None = None  # None: the last shown event
        self.at_tail = True  # the view shows the end and follows what arrives
        self.top = (1, 0)  # the first line on screen: (seq, line within it)
        self.messages_only = False
        self.empty_hint: RenderableType = Text("no session selected", style="dim")
        self._rendered: OrderedDict[tuple[object, ...], list[Strip]] = OrderedDict()
        self._frame: list[Strip] | None = None
        self._frame_end: int | None = None  # the first seq below a full screen (None: not full)
        self._selected: int | None = None  # the cursor's seq, as of the last paint
        self._hidden: OrderedDict[tuple[str, int], bool] = OrderedDict()
        self.renders = 0  # events rendered (the benchmark reads it)

    def on_mount(self) -> None:
        self.border_title = "Timeline"

    # --- the data -----------------------------------------------------------------

    @property
    def session_log(self) -> SessionLog | None:
        return self.logs.get(self.session or "")

    def _log_of(self, session_id: str) -> SessionLog:
        log = self.logs.get(session_id)
        if log is None:
            log = self.logs[session_id] = SessionLog()
            while len(self.logs) > MAX_SESSIONS:
                oldest = next(iter(self.logs))
                if oldest == self.session or oldest == session_id:
                    self.logs.move_to_end(oldest)
                    continue
                del self.logs[oldest]
        self.logs.move_to_end(session_id)
        return log

    def show(self, session_id: str, last_seq: int = 0) -> int:
        """Show a session at its end; returns the seq to follow it from."""
        self.session = session_id
        log = self._log_of(session_id)
        if last_seq > log.total:
            # The follow resumes after `last_seq`, so the events between what this
            # pane held and it come by page. The page they fall in may be marked
            # held (its first events came from an earlier follow): ask it again.
            for page in range(page_of(log.total + 1), page_of(last_seq) + 1):
                log.pages.pop(page, None)
            log.total = last_seq
        self.cursor_seq = None
        self.at_tail = True
        self._changed()
        return log.cursor

    def add(self, event: Envelope) -> bool:
        """Add an event; False for one already held (a resent or stale event)."""
        log = self._log_of(event.session)
        if event.type == LIVE_DELTA:
            self._live(event, log)
            return True
        if not log.store(event):
            return False
        if event.type in (ModelResponded.TYPE, ModelFailed.TYPE):
            log.live = ""
        if event.session == self.session:
            self._evict(log)
            end = self._frame_end
            if (
                not self.at_tail
                and self._frame is not None
                and end is not None
                and event.seq >= end
            ):
                self._title()  # below the screen: the count changes, not what is seen
            else:
                self._changed()
        return True

    def add_page(self, session_id: str, page: int, events: list[Envelope]) -> None:
        """A page fetched from the daemon (`PageWanted`)."""
        log = self.logs.get(session_id)
        if log is None:
            return
        log.asked.discard(page)
        for event in events:
            log.store(event)
        # held now, also when empty (nothing there yet) or all known: not asked again
        log.pages[page] = None
        log.pages.move_to_end(page)
        if session_id == self.session:
            self._evict(log)
            self._changed()

    def _evict(self, log: SessionLog) -> None:
        keep = {page_of(max(1, log.total)), page_of(self.top[0])}
        if self.cursor_seq is not None:
            keep.add(page_of(self.cursor_seq))
        log.evict(keep)

    def _live(self, event: Envelope, log: SessionLog) -> None:
        data = event.data
        if data.get("snapshot"):
            log.live = ""
        log.live += str(data.get("reasoning") or "") + str(data.get("text") or "")
        for call in data.get("tool_calls") or []:
            if call.get("name") and not call.get("args"):
                log.live += f"\n→ {call['name']} "
            log.live += str(call.get("args") or "")
        if event.session == self.session:
            self._changed()

    @property
    def live_text(self) -> str:
        """The streamed response being shown (tests)."""
        log = self.session_log
        return log.live if log else ""

    def _changed(self) -> None:
        self._frame = None
        self._title()
        self.refresh()

    def _title(self) -> None:
        log = self.session_log
        if self.session is None or log is None:
            self.border_title = "Timeline"
            return
        where = "end" if self.at_tail else f"seq {self.cursor_seq or self.top[0]}"
        mode = " · messages only" if self.messages_only else ""
        self.border_title = f"Timeline · {self.session} · {log.total} events · {where}{mode}"

    # --- rendering ----------------------------------------------------------------

    def _request(self, log: SessionLog, seq: int) -> None:
        page = page_of(seq)
        if page in log.pages or page in log.asked or self.session is None:
            return
        log.asked.add(page)
        # to the app, which fetches it: posted while painting, a message to this
        # widget would wait for its next event
        self.app.post_message(self.PageWanted(self.session, page))

    def _event(self, seq: int) -> Envelope | None:
        """The event at `seq`, asking for its page when the pane does not hold it."""
        log = self.session_log
        if log is None:
            return None
        event = log.events.get(seq)
        if event is None:
            self._request(log, seq)
        else:
            log.touch(page_of(seq))
        return event

    def _shown(self, event: Envelope) -> bool:
        return not self.messages_only or event.type in MESSAGE_TYPES

    def _width(self) -> int:
        return max(1, self.content_size.width)

    def lines_of(self, seq: int) -> list[Strip] | None:
        """The rendered lines of the event at `seq` ([] when hidden, None when not held)."""
        event = self._event(seq)
        log = self.session_log
        if event is None or log is None:
            return None
        if not self._shown(event):
            return []
        width = self._width()
        view = log.view(seq)
        key = (event.session, seq, view, width)
        strips = self._rendered.get(key)
        if strips is not None:
            self._rendered.move_to_end(key)
        else:
            prompt = prompt_for(event, view)
            strips = [] if prompt is None else self._strips(hang(prompt, width), width, False)
            self._rendered[key] = strips
            self.renders += 1
            while len(self._rendered) > MAX_RENDERED:
                self._rendered.popitem(last=False)
        return self._highlighted(strips) if seq == self._selected else strips

    def _highlighted(self, strips: list[Strip]) -> list[Strip]:
        """The cursor's event: its cached lines under the cursor's background, not rendered again
        (a move would otherwise render twice: the event it leaves and the one it reaches)."""
        cursor = self.get_component_rich_style("timeline--cursor")
        over = Style(bgcolor=cursor.bgcolor)
        return [Strip(Segment.apply_style(s, post_style=over), s.cell_length) for s in strips]

    def _strips(self, renderable: RenderableType, width: int, selected: bool) -> list[Strip]:
        console = self.app.console
        options = console.options.update_width(width)
        base = self.rich_style
        style = base + self.get_component_rich_style("timeline--cursor") if selected else base
        lines = console.render_lines(renderable, options, style=style, pad=True)
        return [Strip(line, width) for line in lines]

    def _placeholder(self, seq: int) -> list[Strip]:
        text = Segment(f"{seq:>4} … loading", Style(dim=True))
        return [Strip([text]).adjust_cell_length(self._width())]

    def _block(self, seq: int) -> list[Strip]:
        lines = self.lines_of(seq)
        if lines is None:
            return self._placeholder(seq)
        log = self.session_log
        mark = log.marks.get(seq) if log else None
        if mark:
            return lines + self._strips(Text(mark, style="bold magenta"), self._width(), False)
        return lines

    def mark_restart(self) -> None:
        """A line after the last event held: the daemon restarted here (the link came back)."""
        log = self.session_log
        if log is None or not log.total:
            return
        log.marks[log.total] = "── the daemon restarted: reconnected, nothing missed ──"
        self._changed()

    def _live_block(self) -> list[Strip]:
        log = self.session_log
        if log is None or not log.live:
            return []
        prompt = Text("⋯ " + printable(log.live), style="dim italic")
        return self._strips(prompt, self._width(), False)

    def _cursor(self) -> int | None:
        """The highlighted seq (the last shown event when following the end)."""
        if self.cursor_seq is not None:
            return self.cursor_seq
        log = self.session_log
        return self._last_shown(log.total) if log else None

    def _last_shown(self, start: int) -> int | None:
        """The last seq at or before `start` that takes lines (held events only)."""
        log = self.session_log
        if log is None:
            return None
        for seq in range(start, max(0, start - PAGE * 2), -1):
            event = log.events.get(seq)
            if event is None:
                return None
            if self._shown(event) and not self._is_hidden(event):
                return seq
        return None

    def _is_hidden(self, event: Envelope) -> bool:
        """Whether `render_event` hides it (a first model request, an allowed proposal)."""
        key = (event.session, event.seq)
        hidden = self._hidden.get(key)
        if hidden is None:
            hidden = self._hidden[key] = render_event(event) is None
            while len(self._hidden) > MAX_RENDERED:
                self._hidden.popitem(last=False)
        return hidden

    def _tail_frame(self, height: int) -> list[Strip]:
        log = self.session_log
        assert log is not None
        self._frame_end = None  # the end is on screen: whatever arrives shows
        blocks: list[list[Strip]] = [self._live_block()]
        used = len(blocks[0])
        seq = log.total
        while seq >= 1 and used < height:
            block = self._block(seq)
            blocks.append(block)
            used += len(block)
            seq -= 1
        lines = [line for block in reversed(blocks) for line in block]
        first = seq + 1
        offset = max(0, len(lines) - height)
        # Where the top of the screen is, so a scroll up starts from what is seen.
        while first <= log.total and offset >= len(self._block(first)) and offset:
            offset -= len(self._block(first))
            first += 1
        self.top = (max(1, first), offset)
        return lines[-height:] if len(lines) > height else lines

    def _frame_from_anchor(self, height: int) -> list[Strip]:
        log = self.session_log
        assert log is not None
        seq, offset = self.top
        lines: list[Strip] = []
        while seq <= log.total and len(lines) < height + offset:
            lines.extend(self._block(seq))
            seq += 1
        if seq > log.total:
            lines.extend(self._live_block())
        # What arrives from here on cannot reach the screen while it is full.
        self._frame_end = seq if len(lines) >= height + offset else None
        return lines[offset : offset + height]

    def frame(self) -> list[Strip]:
        """What the screen shows: the lines of the events that meet it, no more."""
        if self._frame is None:
            height = self.content_size.height
            self._selected = self._cursor()
            log = self.session_log
            if log is None or (log.total == 0 and not log.live):
                self._frame = self._strips(self.empty_hint, self._width(), False)
            elif self.at_tail:
                self._frame = self._tail_frame(height)
            else:
                self._frame = self._frame_from_anchor(height)
        return self._frame

    def render_line(self, y: int) -> Strip:
        frame = self.frame()
        return frame[y] if y < len(frame) else Strip.blank(self._width(), self.rich_style)

    def on_resize(self, event: events.Resize) -> None:
        self._frame = None

    def on_focus(self, event: events.Focus) -> None:
        self._changed()  # the cursor's colour is brighter with the focus

    def on_blur(self, event: events.Blur) -> None:
        self._changed()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def refresh_view(self) -> None:
        self._changed()

    # --- what the app reads -------------------------------------------------------

    def events_of(self, session_id: str) -> list[Envelope]:
        log = self.logs.get(session_id)
        return [log.events[s] for s in sorted(log.events)] if log else []

    @property
    def received_seqs(self) -> list[int]:
        """Every seq of the shown session this pane holds, shown or hidden."""
        log = self.session_log
        return sorted(log.events) if log else []

    @property
    def shown_seqs(self) -> list[int]:
        """The held seqs that take lines (tests)."""
        return [s for s in self.received_seqs if self.lines_of(s)]

    @property
    def selected_event(self) -> Envelope | None:
        seq = self._cursor()
        log = self.session_log
        return log.events.get(seq) if seq is not None and log is not None else None
