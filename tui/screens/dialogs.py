"""The modal dialogs: deny, edit-and-approve, fork, confirm, and the help screen.

A dialog that changes something gets the call to make (`submit`) and makes
it itself, in a worker, so the daemon's refusal (a 422 naming the nearest
valid fork points, a schema violation of edited arguments, a conflict with
someone else's decision) is shown in the dialog, where the person can fix
the input and try again. It is dismissed with a line saying what happened,
or with None when the person backs out.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from agentctl.errors import AgentctlError
from agentctl.protocol import ApprovalView, Envelope
from agentctl.terminal import clean_line, exact


class ActionDialog(ModalScreen[str | None]):
    """A form that calls the daemon on submit and stays open on a refusal."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Back")]
    SUBMIT_LABEL = "OK"

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield from self.compose_body()
            yield Label("", id="error")
            with Horizontal(classes="buttons"):
                yield Button(self.SUBMIT_LABEL, variant="primary", id="submit")
                yield Button("Back (esc)", id="back")

    async def perform(self) -> str:
        """Make the call; raise ValueError for bad input, AgentctlError for a refusal."""
        raise NotImplementedError

    def show_error(self, message: str) -> None:
        error = self.query_one("#error", Label)
        error.update(Text(message))
        error.display = bool(message)

    def on_mount(self) -> None:
        self.show_error("")

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted)
    def submit(self) -> None:
        self.show_error("")
        self.query_one("#submit", Button).disabled = True
        self.run_worker(self._perform(), exclusive=True, group="dialog")

    async def _perform(self) -> None:
        try:
            outcome = await self.perform()
        except (ValueError, AgentctlError) as exc:
            self.show_error(str(exc))
            self.query_one("#submit", Button).disabled = False
            return
        self.dismiss(outcome)

    @on(Button.Pressed, "#back")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def _call_line(approval: ApprovalView) -> Text:
    return Text.assemble(
        (clean_line(approval.tool), "bold yellow"),
        " ",
        exact(approval.args),  # what is decided is shown whole and exact
        (f"  {approval.session}", "dim"),
    )


class DenyDialog(ActionDialog):
    SUBMIT_LABEL = "Deny"

    def __init__(self, approval: ApprovalView, submit: Callable[[str], Awaitable[str]]) -> None:
        super().__init__()
        self.approval = approval
        self._submit = submit

    def compose_body(self) -> ComposeResult:
        yield Static("Deny", classes="title")
        yield Static(_call_line(self.approval))
        yield Input(placeholder="why (the model is told)", id="reason")

    async def perform(self) -> str:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            raise ValueError("a reason is required: the model reads it")
        return await self._submit(reason)


def parse_args(text: str) -> dict[str, Any]:
    """The edited arguments: a JSON object, or a ValueError saying what is wrong."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(value, dict):
        raise ValueError("the arguments must be a JSON object")
    return value


class EditArgsDialog(ActionDialog):
    SUBMIT_LABEL = "Approve edited (ctrl+s)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Back"),
        Binding("ctrl+s", "submit", "Approve edited", priority=True),
    ]

    def __init__(
        self, approval: ApprovalView, submit: Callable[[dict[str, Any]], Awaitable[str]]
    ) -> None:
        super().__init__()
        self.approval = approval
        self._submit = submit

    def compose_body(self) -> ComposeResult:
        yield Static("Edit the arguments, then approve", classes="title")
        yield Static(_call_line(self.approval))
        text = json.dumps(self.approval.args, indent=2, ensure_ascii=False)
        yield TextArea(text, id="args", show_line_numbers=True, tab_behavior="indent")

    def action_submit(self) -> None:
        self.submit()

    async def perform(self) -> str:
        args = parse_args(self.query_one("#args", TextArea).text)
        return await self._submit(args)


class ForkDialog(ActionDialog):
    SUBMIT_LABEL = "Fork"

    def __init__(
        self, event: Envelope, submit: Callable[[str | None, str | None], Awaitable[str]]
    ) -> None:
        super().__init__()
        self.event = event
        self._submit = submit

    def compose_body(self) -> ComposeResult:
        yield Static(f"Fork {self.event.session} at seq {self.event.seq}", classes="title")
        yield Static(
            Text(
                f"the new session starts from the checkpoint at or before seq {self.event.seq} "
                f"({self.event.type}); the parent is untouched",
                style="dim",
            )
        )
        yield Input(
            placeholder="new message (optional): replaces the next user message", id="message"
        )
        yield Input(placeholder="model (optional), e.g. openai:gpt-4o-mini", id="model")

    async def perform(self) -> str:
        message = self.query_one("#message", Input).value.strip() or None
        model = self.query_one("#model", Input).value.strip() or None
        return await self._submit(message, model)


class ConfirmDialog(ActionDialog):
    SUBMIT_LABEL = "Yes"

    def __init__(self, question: str, submit: Callable[[], Awaitable[str]]) -> None:
        super().__init__()
        self.question = question
        self._submit = submit

    def compose_body(self) -> ComposeResult:
        yield Static("Confirm", classes="title")
        yield Static(self.question)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#back", Button).focus()  # the safe answer is the default

    async def perform(self) -> str:
        return await self._submit()


class HelpScreen(ModalScreen[None]):
    """Every key of the app, with what it does."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]

    KEYS = (
        ("a", "approve the session on screen's highlighted approval (named in the footer)"),
        ("d", "deny it, with a reason (the model is told)"),
        ("e", "edit its arguments as JSON, then approve"),
        ("f", "fork the selected session at the highlighted timeline event"),
        ("c", "cancel the selected session (asks first)"),
        ("v", "the selected session's workspace diff"),
        ("enter", "on a tool result: folded / whole output / head only"),
        ("-  +", "fold every tool result to its head line / show every one whole"),
        ("m", "the conversation only (the person's and the model's words)"),
        ("j  k", "next / previous event in the timeline (also the arrows)"),
        ("g  G", "first event / last event, following what arrives"),
        ("[  ]", "previous / next checkpoint in the timeline"),
        ("tab", "move between the panes"),
        ("ctrl+p", "command palette: the same actions by name"),
        ("?", "this help"),
        ("q", "quit (sessions go on in the daemon)"),
    )

    def compose(self) -> ComposeResult:
        lines = Text()
        for key, what in self.KEYS:
            lines.append(f"{key:>8}  ", style="bold cyan")
            lines.append(what + "\n")
        with Vertical(classes="dialog"):
            yield Static("Keys", classes="title")
            yield Static(lines)
            yield Static(Text("esc to close", style="dim"))
