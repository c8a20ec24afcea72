"""The modal dialogs: deny, edit-and-approve, fork, resume, run, confirm, and the help screen.

A dialog that changes something gets the call to make (`submit`) and makes
it itself, in a worker, so the daemon's refusal (a 422 naming the nearest
valid fork points, a schema violation of edited arguments, a conflict with
someone else's decision) is shown in the dialog, where the person can fix
the input and try again. It is dismissed with a line saying what happened,
or with None when the person backs out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from agentctl.errors import AgentctlError
from agentctl.protocol import ApprovalView, Budget, CreateSession, Envelope, SessionSummary
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


def nearest_valid(error: str) -> list[int]:
    """The fork points a refusal offers ("nearest valid points: 12 (before), 15 (after)")."""
    return [int(seq) for seq in re.findall(r"(\d+) \((?:before|after)\)", error)]


class ForkDialog(ActionDialog):
    """Fork at a seq; a cut inside a step is refused, and the nearest valid seqs are offered."""

    SUBMIT_LABEL = "Fork"

    def __init__(
        self,
        event: Envelope,
        submit: Callable[[int, str | None, str | None], Awaitable[str]],
    ) -> None:
        super().__init__()
        self.event = event
        self._submit = submit
        self.offered: list[int] = []

    def compose_body(self) -> ComposeResult:
        yield Static(f"Fork {self.event.session}", classes="title")
        yield Static(
            Text(
                f"the new session starts from the events up to the seq below (highlighted: "
                f"{self.event.seq}, {self.event.type}); the parent is untouched",
                style="dim",
            )
        )
        yield Input(str(self.event.seq), placeholder="fork at seq", id="at", type="integer")
        yield Input(
            placeholder="new message (optional): replaces the next user message", id="message"
        )
        yield Input(placeholder="model (optional), e.g. openai:gpt-4o-mini", id="model")
        yield Horizontal(id="offers", classes="buttons")

    async def perform(self) -> str:
        text = self.query_one("#at", Input).value.strip()
        if not text.isdigit() or int(text) < 1:
            raise ValueError("the seq to fork at is a whole number from 1")
        message = self.query_one("#message", Input).value.strip() or None
        model = self.query_one("#model", Input).value.strip() or None
        try:
            return await self._submit(int(text), message, model)
        except AgentctlError as exc:
            self.offer(nearest_valid(str(exc)))
            raise

    def offer(self, seqs: list[int]) -> None:
        """Buttons for the valid seqs nearest the refused one: one press forks there."""
        self.offered = seqs
        offers = self.query_one("#offers", Horizontal)
        offers.remove_children()
        offers.mount_all(Button(f"Fork at {seq}", id=f"at-{seq}") for seq in seqs)

    @on(Button.Pressed, "#offers Button")
    def _take_offer(self, event: Button.Pressed) -> None:
        seq = (event.button.id or "").removeprefix("at-")
        self.query_one("#at", Input).value = seq
        self.submit()


def _budget_field(text: str, name: str, kind: type[int] | type[float]) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {clean_line(text)!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be above 0")
    return value


class ResumeDialog(ActionDialog):
    """Resume a paused session, raising its budget (the usual reason it paused)."""

    SUBMIT_LABEL = "Resume"

    def __init__(
        self,
        summary: SessionSummary,
        submit: Callable[[Budget | None, str | None], Awaitable[str]],
    ) -> None:
        super().__init__()
        self.summary = summary
        self._submit = submit

    def compose_body(self) -> ComposeResult:
        s = self.summary
        yield Static(f"Resume {s.id}", classes="title")
        yield Static(
            Text(
                f"{s.status.value}: {clean_line(s.reason) or 'no reason given'} · "
                f"{s.steps} steps, ${s.cost_usd:.4f} so far",
                style="dim",
            )
        )
        yield Input(str(s.steps + 10), placeholder="max steps", id="max_steps", type="integer")
        yield Input(placeholder="max cost in USD (optional)", id="max_cost", type="number")
        yield Input(placeholder="a new message (optional)", id="message")

    async def perform(self) -> str:
        steps = _budget_field(self.query_one("#max_steps", Input).value, "max steps", int)
        cost = _budget_field(self.query_one("#max_cost", Input).value, "max cost", float)
        budget = None
        if steps is not None or cost is not None:
            budget = Budget(
                max_steps=int(steps) if steps is not None else None,
                max_cost_usd=float(cost) if cost is not None else None,
            )
        message = self.query_one("#message", Input).value.strip() or None
        return await self._submit(budget, message)


DEFAULT_MODEL = "replay:recordings/demo.jsonl"  # as `agentctl run`


def replay_path(model: str) -> str:
    """A replay recording's path made absolute: the daemon does not share our directory."""
    if not model.startswith("replay:"):
        return model
    path = Path(model.removeprefix("replay:")).expanduser()
    if not path.is_file():
        raise ValueError(f"no recording at {clean_line(str(path))}")
    return f"replay:{path.resolve()}"


class RunDialog(ActionDialog):
    """Start a session: a task, and optionally a profile, a workspace folder and a model."""

    SUBMIT_LABEL = "Start"

    def __init__(self, submit: Callable[[CreateSession], Awaitable[str]]) -> None:
        super().__init__()
        self._submit = submit

    def compose_body(self) -> ComposeResult:
        yield Static("Start a run", classes="title")
        yield Input(placeholder="task (what the agent is to do)", id="task")
        yield Input(placeholder="profile (optional): agents/NAME.toml", id="profile")
        yield Input(placeholder="workspace folder (optional): copied into the sandbox", id="ws")
        yield Input(placeholder="model (optional), e.g. openai:gpt-4o-mini", id="model")

    async def perform(self) -> str:
        task = self.query_one("#task", Input).value.strip()
        if not task:
            raise ValueError("a task is required")
        profile = self.query_one("#profile", Input).value.strip() or None
        folder = self.query_one("#ws", Input).value.strip()
        workspace = None
        if folder:  # the person's own path, on this machine, as with `agentctl run --workspace`
            path = Path(folder).expanduser()
            if not path.is_dir():
                raise ValueError(f"{clean_line(folder)} is not a folder")
            workspace = str(path.resolve())
        given: dict[str, Any] = {}
        model = self.query_one("#model", Input).value.strip()
        if model or not profile:
            given["model"] = replay_path(model or DEFAULT_MODEL)
        try:
            req = CreateSession(task=task, agent=profile, workspace=workspace, **given)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"]) from None
        return await self._submit(req)


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
        ("f", "fork the selected session at the highlighted event (offers the nearest valid seqs)"),
        ("c", "cancel the selected session (asks first)"),
        ("r", "resume the selected paused session, raising its budget"),
        ("ctrl+n", "start a run: task, profile, workspace, model"),
        ("v", "the selected session's workspace diff"),
        ("i", "the selected session's detail (as `agentctl show`)"),
        ("t", "the selected session's trace (as `agentctl trace`)"),
        ("y", "copy the selected session's id to the clipboard"),
        ("/", "filter the sessions (task, id, label, profile, status); in the timeline: search"),
        ("n  N", "next / previous match of the timeline search"),
        (":", "go to a seq in the timeline"),
        ("s", "sort the sessions: newest, status, cost, steps, task (waiting ones first)"),
        ("enter", "on a tool result: folded / whole output / head only"),
        ("-  +", "fold every tool result to its head line / show every one whole"),
        ("m", "the conversation only (the person's and the model's words)"),
        ("j  k", "next / previous event in the timeline, session in the list (also the arrows)"),
        ("pgup pgdn", "a screen up / down in the timeline or the list"),
        ("g  G", "first / last event (following what arrives); first / last session"),
        ("[  ]", "previous / next checkpoint in the timeline"),
        ("1  2  3", "the sessions / timeline / approvals pane"),
        ("tab", "move between the panes"),
        ("D", "start the daemon (offered while it does not answer)"),
        ("ctrl+p", "command palette: the same actions by name"),
        ("?", "this help"),
        ("esc", "close a dialog, a screen or the prompt"),
        ("q", "quit (sessions go on in the daemon)"),
    )

    def compose(self) -> ComposeResult:
        lines = Text()
        for key, what in self.KEYS:
            lines.append(f"{key:>9}  ", style="bold cyan")
            lines.append(what + "\n")
        with Vertical(classes="dialog"):
            yield Static("Keys", classes="title")
            yield Static(lines)
            yield Static(Text("esc to close", style="dim"))
