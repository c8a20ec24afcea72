"""What the timeline holds of one session: pages of its events (at most `MAX_PAGES`,
the least recently shown dropped first), its length, the view of each tool output."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

from agentctl.protocol import Envelope, ToolFinished
from agentctl.render import FOLD_LINES

PAGE = 200  # events per page fetched from the daemon
MAX_PAGES = 12  # pages kept per session: what is on screen plus a cache
MAX_SESSIONS = 6  # session logs kept (the others are fetched again when shown)


class OutputView(Enum):
    FOLDED = "folded"  # the CLI's view: the last lines
    FULL = "full"
    COLLAPSED = "collapsed"  # the head line only


def page_of(seq: int) -> int:
    return (seq - 1) // PAGE


@dataclass
class SessionLog:
    """What the pane holds of one session: some pages of its events, and its length."""

    total: int = 0  # the last seq known (from its summary or the follow)
    events: dict[int, Envelope] = field(default_factory=dict)
    pages: OrderedDict[int, None] = field(default_factory=OrderedDict)  # loaded, LRU order
    asked: set[int] = field(default_factory=set)  # pages requested, not yet here
    views: dict[int, OutputView] = field(default_factory=dict)
    default_view: OutputView = OutputView.FOLDED
    live: str = ""  # the streamed response so far; "" when no call is streaming
    marks: dict[int, str] = field(default_factory=dict)  # a line of the pane's after a seq

    @property
    def cursor(self) -> int:
        """The last seq this pane knows of: a follow resumes after it."""
        return self.total

    def view(self, seq: int) -> OutputView:
        return self.views.get(seq, self.default_view)

    def touch(self, page: int) -> None:
        if page in self.pages:
            self.pages.move_to_end(page)

    def store(self, event: Envelope) -> bool:
        if event.seq in self.events:
            return False
        self.events[event.seq] = event
        page = page_of(event.seq)
        self.pages[page] = None
        self.pages.move_to_end(page)
        self.total = max(self.total, event.seq)
        return True

    def evict(self, keep: set[int]) -> None:
        """Drop the least recently used pages beyond `MAX_PAGES`, never one in `keep`."""
        for page in list(self.pages):
            if len(self.pages) <= MAX_PAGES:
                return
            if page in keep:
                continue
            del self.pages[page]
            first = page * PAGE + 1
            for seq in range(first, first + PAGE):
                self.events.pop(seq, None)


def output_lines(event: Envelope) -> int:
    if event.type != ToolFinished.TYPE or event.data.get("error"):
        return 0
    return len(str(event.data.get("output", "")).rstrip("\n").splitlines())


def next_view(view: OutputView, lines: int) -> OutputView:
    if view is OutputView.FOLDED:
        return OutputView.FULL if lines > FOLD_LINES else OutputView.COLLAPSED
    if view is OutputView.FULL:
        return OutputView.COLLAPSED
    return OutputView.FOLDED
