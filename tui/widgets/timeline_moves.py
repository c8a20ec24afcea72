"""Moving through the timeline (the cursor by shown events, the view by lines, pages,
checkpoints) and the keys that change what it shows: a base class of `Timeline`."""

from __future__ import annotations

from collections.abc import Iterator

from textual import events
from textual.strip import Strip
from textual.widget import Widget

from agentctl.protocol import CheckpointCreated, Envelope
from tui.widgets.session_log import OutputView, SessionLog, next_view, output_lines


class TimelineMoves(Widget):
    """The timeline's keys; the data and the painting are `Timeline`'s."""

    # What the moves need of the widget (`Timeline` has them).
    cursor_seq: int | None
    at_tail: bool
    top: tuple[int, int]
    messages_only: bool

    @property
    def session_log(self) -> SessionLog | None:
        raise NotImplementedError

    @property
    def selected_event(self) -> Envelope | None:
        raise NotImplementedError

    def lines_of(self, seq: int) -> list[Strip] | None:
        raise NotImplementedError

    def frame(self) -> list[Strip]:
        raise NotImplementedError

    def _event(self, seq: int) -> Envelope | None:
        raise NotImplementedError

    def _request(self, log: SessionLog, seq: int) -> None:
        raise NotImplementedError

    def _shown(self, event: Envelope) -> bool:
        raise NotImplementedError

    def _block(self, seq: int) -> list[Strip]:
        raise NotImplementedError

    def _cursor(self) -> int | None:
        raise NotImplementedError

    def _last_shown(self, start: int) -> int | None:
        raise NotImplementedError

    def _changed(self) -> None:
        raise NotImplementedError

    # --- moving -------------------------------------------------------------------

    def _step(self, seq: int, step: int) -> Iterator[int]:
        log = self.session_log
        if log is None:
            return
        seq += step
        while 1 <= seq <= log.total:
            yield seq
            seq += step

    def _next_shown(self, seq: int, step: int) -> int | None:
        """The next (step 1) or previous (-1) seq that takes lines; None at an unheld page."""
        for candidate in self._step(seq, step):
            lines = self.lines_of(candidate)
            if lines is None:
                return None  # its page is on its way: the key is answered, the move waits
            if lines:
                return candidate
        return None

    def highlight_seq(self, seq: int) -> None:
        """Put the cursor on `seq` and bring it into view (its page fetched when not held)."""
        log = self.session_log
        if log is None:
            return
        seq = max(1, min(seq, log.total))
        self.cursor_seq = seq
        self.at_tail = False
        self._event(seq)
        self._bring_into_view(seq)
        self._changed()

    def _bring_into_view(self, seq: int) -> None:
        height = max(1, self.content_size.height)
        top, offset = self.top
        if seq < top or (seq == top and offset):
            self.top = (seq, 0)
            return
        used = 0
        for s in range(top, seq + 1):
            used += len(self._block(s))
            if used - offset > height * 2:
                break
        if used - offset <= height:
            return
        # bring its end to the bottom line
        lines = 0
        s = seq
        while s >= 1:
            block = len(self._block(s))
            if lines + block >= height:
                self.top = (s, lines + block - height)
                return
            lines += block
            s -= 1
        self.top = (1, 0)

    def action_move(self, step: int) -> None:
        here = self._cursor()
        if here is None:
            return
        target = self._next_shown(here, step)
        if target is None:
            if step > 0 and self.session_log is not None and here >= self.session_log.total:
                self.action_last()
            return
        self.highlight_seq(target)
        log = self.session_log
        at_end = log is not None and target >= (self._last_shown(log.total) or target)
        if step > 0 and at_end and self._next_shown(target, 1) is None:
            self.cursor_seq, self.at_tail = None, True  # at the end: follow again
            self._changed()

    def action_page(self, step: int) -> None:
        here = self._cursor()
        if here is None:
            return
        height = max(1, self.content_size.height)
        moved, target = 0, here
        for seq in self._step(here, step):
            lines = self.lines_of(seq)
            if lines is None:
                break
            moved += len(lines)
            if lines:
                target = seq
            if moved >= height:
                break
        if target != here:
            self.highlight_seq(target)

    def action_first(self) -> None:
        self.top = (1, 0)
        self.highlight_seq(1)

    def action_last(self) -> None:
        self.cursor_seq, self.at_tail = None, True
        self._changed()

    def _scroll_lines(self, lines: int) -> None:
        log = self.session_log
        if log is None:
            return
        if self.at_tail:
            self.frame()  # sets the anchor to the top of what is seen
            if lines > 0:
                return
            self.cursor_seq = self._cursor()
            self.at_tail = False
        seq, offset = self.top
        offset += lines
        while offset < 0 and seq > 1:
            seq -= 1
            offset += len(self._block(seq))
        while seq <= log.total and offset >= len(self._block(seq)) and offset > 0:
            offset -= len(self._block(seq))
            seq += 1
        if seq > log.total:
            self.action_last()
            return
        self.top = (seq, max(0, offset))
        self._changed()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_lines(-3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_lines(3)

    # --- actions ------------------------------------------------------------------

    def action_toggle_output(self) -> None:
        event = self.selected_event
        log = self.session_log
        if event is None or log is None or not output_lines(event):
            return
        log.views[event.seq] = next_view(log.view(event.seq), output_lines(event))
        self._changed()

    def action_all_views(self, view: str) -> None:
        log = self.session_log
        if log is None:
            return
        log.default_view = OutputView(view)
        log.views.clear()
        self._changed()

    def action_messages_only(self) -> None:
        self.messages_only = not self.messages_only
        here = self.selected_event
        if here is not None and not self._shown(here):
            self.cursor_seq, self.at_tail = None, True
        self._changed()

    def action_checkpoint(self, step: int) -> None:
        here = self._cursor()
        log = self.session_log
        if here is None or log is None:
            return
        for seq in self._step(here, step):
            event = log.events.get(seq)
            if event is None:
                self._request(log, seq)
                break
            if event.type == CheckpointCreated.TYPE and self.lines_of(seq):
                self.highlight_seq(seq)
                return
        self.app.bell()
