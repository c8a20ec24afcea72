"""An event as the timeline shows it (the CLI's rendering, tool output folded or not,
checkpoints boxed, wrapped lines under their own text) and as a search reads it."""

from __future__ import annotations

import json
import re

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from agentctl.protocol import (
    CheckpointCreated,
    Envelope,
    ModelResponded,
    SessionCreated,
    UserMessage,
)
from agentctl.render import render_event
from agentctl.terminal import clean
from tui.widgets.session_log import OutputView, output_lines

MESSAGE_TYPES = frozenset({UserMessage.TYPE, ModelResponded.TYPE, SessionCreated.TYPE})


def prompt_for(event: Envelope, view: OutputView = OutputView.FOLDED) -> RenderableType | None:
    lines = output_lines(event)
    if lines and view is OutputView.COLLAPSED:
        head = render_event(event.model_copy(update={"data": {**event.data, "output": ""}}))
        hint = Text(f"  ▸ {lines} line{'s' if lines != 1 else ''} of output (enter)", style="dim")
        return Text.assemble(head, hint) if isinstance(head, Text) else head
    rendered = render_event(event, fold=view is not OutputView.FULL)
    if rendered is not None and event.type == CheckpointCreated.TYPE:
        return Panel(rendered, box=box.ROUNDED, border_style="magenta", padding=(0, 0))
    return rendered


HEAD = re.compile(r"^ *\d+ \d\d:\d\d:\d\d ")  # "  13 21:29:52 ": the seq and the time
GUTTER = "       │ "  # tool output's (agentctl.render._indent)


def _hanging(line: Text, width: int) -> list[Text]:
    """One line wrapped so its continuations keep its gutter, or start under its text."""
    plain = line.plain
    if plain.startswith(GUTTER):
        first, rest = GUTTER, GUTTER
    elif (head := HEAD.match(plain)) is not None:
        first, rest = plain[: head.end()], " " * head.end()
    else:
        return [line]
    indent = len(first)
    if len(plain) <= width or width <= indent + 8:
        return [line]
    lead, body = line[:indent], line[indent:]
    wrapped = body.wrap(Console(width=width - indent), width - indent)
    out = [Text.assemble(lead, wrapped[0])]
    out += [Text.assemble((rest, "dim"), part) for part in wrapped[1:]]
    return out


def hang(renderable: RenderableType, width: int) -> RenderableType:
    """A Text (or a group of them) with each wrapped line under its own text, not at column 0."""
    if isinstance(renderable, Group):
        return Group(*(hang(part, width) for part in renderable.renderables))
    if not isinstance(renderable, Text):
        return renderable
    lines = [part for line in renderable.split("\n") for part in _hanging(line, width)]
    return Group(*lines) if len(lines) > 1 else lines[0]


def searchable(event: Envelope) -> str:
    """The words of an event a search looks in: its type and its data, cleaned."""
    return (event.type + " " + clean(json.dumps(event.data, ensure_ascii=False))).lower()


def found_in(event: Envelope, query: str, messages_only: bool = False) -> bool:
    """Whether a search for `query` stops at `event`: its words hold it, and it shows."""
    needle = query.lower().strip()
    if not needle or (messages_only and event.type not in MESSAGE_TYPES):
        return False
    return needle in searchable(event) and render_event(event) is not None
