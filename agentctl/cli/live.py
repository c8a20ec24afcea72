"""A streamed model response shown as it forms, in a terminal.

`run` and `attach` ask the daemon for live `model.delta` envelopes when
stdout is a terminal. The text (and the tool calls as they form) is written
as it arrives, dim, below the events; another event moves it down, and the
stored `model.responded` (or `model.failed`) erases it: that event's
ordinary rendering replaces it, so the screen ends up exactly as a
non-live follow shows it, and the log stays one event per call. Piped
output gets no deltas at all: a pipeline sees the stored events only.

Model output is untrusted: every character that is not printable (escape
sequences, carriage returns, other controls) is shown as `�`, never sent
to the terminal as it is.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.cells import cell_len

from agentctl.printable import printable
from agentctl.protocol import Envelope, ModelFailed, ModelResponded

PREFIX = "       ⋯ "
_DIM, _RESET = "\x1b[2m", "\x1b[0m"


class LiveText:
    """The live region below the last event: written to, then erased whole."""

    def __init__(self, stream: TextIO | None = None, width: int | None = None) -> None:
        self.stream = stream or sys.stdout
        self.width = width
        self._rows = 0  # full rows written below the region's start
        self._column = 0
        self._open = False
        self._calls: dict[int, str] = {}
        self._shown = ""  # the response so far, as shown

    @property
    def open(self) -> bool:
        return self._open

    def _width(self) -> int:
        if self.width is not None:
            return self.width
        import shutil

        return max(20, shutil.get_terminal_size((80, 24)).columns)

    def _write(self, text: str) -> None:
        width = self._width()
        for ch in text:
            if ch == "\n":
                self._rows += 1
                self._column = 0
                continue
            cells = cell_len(ch)
            if self._column + cells > width:
                self._rows += 1
                self._column = 0
            self._column += cells
        self.stream.write(_DIM + text + _RESET)
        self.stream.flush()

    def add(self, event: Envelope) -> None:
        data = event.data
        if data.get("snapshot"):  # attached mid-call: the response so far
            self._calls.clear()
            self._shown = ""
        piece = str(data.get("reasoning") or "") + str(data.get("text") or "")
        for call in data.get("tool_calls") or []:
            index = int(call.get("index", 0))
            if index not in self._calls:
                self._calls[index] = str(call.get("name") or "")
                piece += f"\n{PREFIX}→ {self._calls[index]} "
            piece += str(call.get("args") or "")
        self._shown += printable(piece)
        if not self._open:
            self._open = True
            self._write(PREFIX + self._shown)
        elif piece:
            self._write(printable(piece))

    def hide(self) -> None:
        """Erase the region for a moment (an event is printed above it); `show` puts it back."""
        if not self._open:
            return
        up = f"\x1b[{self._rows}A" if self._rows else ""
        self.stream.write("\r" + up + "\x1b[J")
        self.stream.flush()
        self._rows = self._column = 0
        self._open = False

    def show(self) -> None:
        if self._shown and not self._open:
            self._open = True
            self._write(PREFIX + self._shown)

    def clear(self) -> None:
        """The call is over: erase the region and forget what it held."""
        self.hide()
        self._calls.clear()
        self._shown = ""


ENDS_CALL = (ModelResponded.TYPE, ModelFailed.TYPE)

__all__ = ["ENDS_CALL", "LiveText", "printable"]
