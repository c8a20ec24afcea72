"""The app's keys, one table: each row is a key binding, and, when it has a palette name,
a command of the palette (ctrl+p) too (`AgentctlApp.get_system_commands`)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    key: str
    action: str  # the app's `action_<action>`, with its arguments if any
    description: str  # in the footer
    show: bool = True
    key_display: str | None = None
    palette: str = ""  # the command's name in the palette; "" keeps it off the palette
    help: str = ""  # the command's line in the palette

    def binding(self) -> Binding:
        return Binding(
            self.key, self.action, self.description, show=self.show, key_display=self.key_display
        )


KEYS: tuple[Key, ...] = (
    Key("a", "approve", "Approve", palette="Approve", help="approve the highlighted approval (a)"),
    Key(
        "d", "deny", "Deny", palette="Deny", help="deny the highlighted approval with a reason (d)"
    ),
    Key(
        "e",
        "edit",
        "Edit+approve",
        palette="Edit and approve",
        help="edit the call's JSON arguments, then approve (e)",
    ),
    Key(
        "f",
        "fork",
        "Fork here",
        palette="Fork here",
        help="fork the session at the highlighted timeline event (f)",
    ),
    Key(
        "c",
        "cancel_session",
        "Cancel session",
        palette="Cancel session",
        help="cancel the selected session, after confirming (c)",
    ),
    Key(
        "v",
        "diff",
        "Diff",
        show=False,
        palette="Diff",
        help="the selected session's workspace diff (v)",
    ),
    Key(
        "r",
        "resume",
        "Resume",
        palette="Resume",
        help="resume the selected paused session, raising its budget (r)",
    ),
    Key(
        "ctrl+n",
        "run",
        "New run",
        palette="New run",
        help="start a session: task, profile, workspace, model (ctrl+n)",
    ),
    Key(
        "slash",
        "find",
        "Find",
        key_display="/",
        palette="Find",
        help="filter the sessions, or search the timeline when it has the focus (/)",
    ),
    Key("n", "find_next(1)", "Next match", show=False),
    Key("N", "find_next(-1)", "Previous match", show=False),
    Key(
        "colon",
        "goto_seq",
        "Go to seq",
        show=False,
        key_display=":",
        palette="Go to seq",
        help="highlight an event of the timeline by its seq (:)",
    ),
    Key(
        "s",
        "sort",
        "Sort",
        show=False,
        palette="Sort sessions",
        help="newest, status, cost, steps, task; waiting ones first (s)",
    ),
    Key(
        "i",
        "detail",
        "Detail",
        show=False,
        palette="Detail",
        help="the selected session, as `agentctl show` (i)",
    ),
    Key(
        "t",
        "trace",
        "Trace",
        show=False,
        palette="Trace",
        help="where the selected session's time went (t)",
    ),
    Key(
        "y",
        "copy_id",
        "Copy id",
        show=False,
        palette="Copy id",
        help="copy the selected session's id to the clipboard (y)",
    ),
    Key("1", "pane('sessions')", "Sessions", show=False),
    Key("2", "pane('timeline')", "Timeline", show=False),
    Key("3", "pane('approvals')", "Approvals", show=False),
    Key("D", "start_daemon", "Start daemon"),
    Key(
        "question_mark",
        "help",
        "Help",
        key_display="?",
        palette="Keys",
        help="every key of the app (?)",
    ),
    Key("q", "quit", "Quit"),
)

PALETTE: tuple[Key, ...] = tuple(key for key in KEYS if key.palette)
