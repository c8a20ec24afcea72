"""The top-level commands and the program's help, as plain data (no typer here).

`agentctl/cli/main.py` builds the typer app from this (each command's module is
imported when that command runs); `agentctl/cli/helptext.py` prints the top-level
`--help` from it without importing typer at all. A new top-level command goes
in `COMMANDS` (tests/cli/test_lazy_imports.py checks that the table matches
the commands and that both helps are the same text).
"""

from __future__ import annotations

HELP = (
    "Run AI agents durably on this machine: every model call, tool call, approval and checkpoint "
    "is an event in a local DuckDB log; tools run in a locked-down Docker container per session.\n\n"
    "Exit codes: 0 completed, 1 failed, 2 usage error, 3 waiting for approval, 4 paused, "
    "5 cancelled, 130 interrupted (the session goes on in the daemon)."
)

# name -> (module, first paragraph of its help), in the order `--help` lists them
# (typer lists plain commands before groups). A module either has `register(app)`
# or, for a group, a typer `app` (see `_load`).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("agentctl.cli.sessions", "Start a session and follow it until it ends (or detach)."),
    "resume": (
        "agentctl.cli.sessions",
        "Continue a paused or completed session, optionally with a new message or a raised budget.",
    ),
    "fork": (
        "agentctl.cli.sessions",
        "Branch a session at a checkpoint: conversation and sandbox files together.",
    ),
    "attach": (
        "agentctl.cli.sessions",
        "Stream a session's events (backfill, then live) until it ends, pauses or waits.",
    ),
    "cancel": (
        "agentctl.cli.sessions",
        "Cancel a session: pending approvals are denied, its container removed.",
    ),
    "ls": (
        "agentctl.cli.inspect",
        "List sessions: id, status, age, steps, cost, pending approvals, parent.",
    ),
    "show": ("agentctl.cli.inspect", "A summary of one session."),
    "log": (
        "agentctl.cli.inspect",
        "The session's events so far (NDJSON envelopes with --json); `attach` follows live ones.",
    ),
    "tree": (
        "agentctl.cli.inspect",
        "The family of a session: parents, forks (the seq each branched at), delegated children, status.",
    ),
    "approvals": ("agentctl.cli.approvals", "Pending approvals across all sessions, oldest first."),
    "approve": (
        "agentctl.cli.approvals",
        "Approve a pending call, optionally with edited arguments.",
    ),
    "deny": (
        "agentctl.cli.approvals",
        "Deny a pending call; the model gets the reason as the call's result.",
    ),
    "diff": (
        "agentctl.cli.workspace",
        "Show what a session changed in /workspace, as a unified diff (git's format).",
    ),
    "apply": (
        "agentctl.cli.workspace",
        "Apply a session's changes to the host folder its workspace was copied from.",
    ),
    "cp": (
        "agentctl.cli.workspace",
        "Copy files out of a session's /workspace, or into one that is not running.",
    ),
    "doctor": (
        "agentctl.cli.doctor",
        "Check the Docker engine, the sandbox image, the daemon, its database, the plugins it\n"
        "loaded, the configuration and the model providers' keys, and say what to do about each.",
    ),
    "record": (
        "agentctl.cli.replay",
        "Write a session's recording (JSONL of its model responses) for `--model replay:FILE`.",
    ),
    "replay": (
        "agentctl.cli.replay",
        "Re-run a session on its recorded model responses in a fresh sandbox; "
        "report the first divergence.",
    ),
    "tui": (
        "agentctl.cli.tui",
        "Sessions, the selected session's timeline, and the approval queue; decide, fork, cancel,\n"
        "resume, start runs (`?` in the app lists every key).",
    ),
    "trace": (
        "agentctl.cli.observe",
        "Where the session's time went: a waterfall of model calls, tool calls, approval waits.",
    ),
    "stats": (
        "agentctl.cli.observe",
        "Sessions by status, cost per model and tool, tool failure rates, approval waits, retries.",
    ),
    "sql": ("agentctl.cli.observe", "Run a read-only SQL query (DuckDB) over the event log."),
    "export": (
        "agentctl.cli.observe",
        "Export events: JSONL envelopes (as `log --json`) or Parquet (the events table's columns).",
    ),
    "gc": (
        "agentctl.cli.observe",
        "Remove the checkpoint images and artifacts of sessions that ended long ago.",
    ),
    "eval": (
        "agentctl.cli.evals",
        "Run an eval suite (cases of task, model and graders, as sessions) and report pass rates;\n"
        "add a session to one as a regression case.",
    ),
    "agents": (
        "agentctl.cli.agents",
        "Agent profiles: agents/NAME.toml in the config folder, "
        ".agentctl/agents/NAME.toml in a workspace.",
    ),
    "daemon": ("agentctl.cli.daemon", "Run, start, stop and inspect the daemon."),
    "sandbox": ("agentctl.cli.sandbox", "Build the sandbox image; list and prune checkpoints."),
    "keys": (
        "agentctl.cli.keys",
        "API keys by name (a 0600 file in the config folder; the environment overrides it).",
    ),
    "mcp": (
        "agentctl.cli.mcp",
        "MCP servers whose tools sessions get, as mcp__SERVER__TOOL (see docs/mcp.md).",
    ),
    "tools": ("agentctl.cli.mcp", "The tools a session gets: built-in and MCP."),
    "schedule": ("agentctl.cli.triggers", "Start sessions on a cron schedule."),
    "hook": ("agentctl.cli.triggers", "Start sessions from webhooks (GitHub-style signed POSTs)."),
}
