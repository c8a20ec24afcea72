"""`agentctl record` and `agentctl replay`: a session's recording, and re-running it.

Both are thin: `record` writes what the client reads; `replay` hands the
client to `agentctl.replay.replay_session` and renders its report. Exit
codes: `replay` exits 0 when the runs are identical and 1 when they diverge.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agentctl.cli.common import client, command, err, out, print_json
from agentctl.errors import ExitCode
from agentctl.paths import get_paths
from agentctl.terminal import clean_line

if TYPE_CHECKING:  # the replay machinery loads every provider: only when a command runs
    from agentctl.replay import ReplayReport


@command
def record(
    session: Annotated[str, typer.Argument(help="Session id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Write a session's recording (JSONL of its model responses) for `--model replay:FILE`."""
    from agentctl.replay import write_session_recording

    events = list(client().events(session))
    if output is None:
        write_session_recording(events, session, sys.stdout)
        sys.stdout.flush()
        return
    with output.open("w", encoding="utf-8") as fp:
        count = write_session_recording(events, session, fp)
    err.print(f"wrote {count} responses to {output}")


@command
def replay(
    session: Annotated[str, typer.Argument(help="Session id to re-run.")],
    image: Annotated[
        str | None,
        typer.Option(help="Run the replay in this image instead of the original's."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-run a session on its recorded model responses in a fresh sandbox; report the first divergence.

    Approvals get the original's decisions (approver "replay"). Exit 0 when the runs are identical,
    1 when they diverge.
    """
    from agentctl.replay import replay_session

    report = replay_session(
        client(),
        session,
        data_dir=get_paths().ensure().data,
        image=image,
        progress=None if as_json else (lambda line: err.print(clean_line(line), style="dim")),
    )
    if as_json:
        print_json(report.to_dict())
    else:
        _render(report)
    raise typer.Exit(ExitCode.COMPLETED if report.identical else ExitCode.FAILED)


def _render(report: ReplayReport) -> None:
    head = f"{report.original} → {report.replay}: "
    div = report.divergence
    if div is None:
        out.print(
            f"[bold green]identical[/]  {head}{report.calls} tool calls, "
            f"ended {report.replay_status}",
            highlight=False,
        )
        return
    out.print(
        f"[bold red]diverged[/]  {escape(clean_line(head + div.describe()))}", highlight=False
    )
    table = Table("", "original", "replay", box=None, pad_edge=False)
    o, r = div.original, div.replay
    table.add_row("step", _cell(o.step if o else None), _cell(r.step if r else None))
    table.add_row("call", _cell(o.call_id if o else None), _cell(r.call_id if r else None))
    table.add_row("tool", _cell(o.name if o else None), _cell(r.name if r else None))
    table.add_row(
        "args sha256",
        _cell(o.args_hash[:16] if o else None),
        _cell(r.args_hash[:16] if r else None),
    )
    table.add_row("exit code", _cell(o.exit_code if o else None), _cell(r.exit_code if r else None))
    table.add_row("log seq", _cell(o.seq if o else None), _cell(r.seq if r else None))
    table.add_row("ended", _cell(report.original_status), _cell(report.replay_status))
    out.print(table)


def _cell(value: object) -> str:
    return "—" if value is None else escape(clean_line(str(value)))  # call ids are the model's


def register(app: typer.Typer) -> None:
    app.command()(record)
    app.command()(replay)
