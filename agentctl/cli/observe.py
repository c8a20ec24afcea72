"""Observability and operations: trace, stats, sql, export, gc.

Each command asks the daemon (which computes from the log) and renders the
answer; `--json` prints the daemon's answer as it is.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from agentctl.cli.common import client, command, err, fail, out, print_json
from agentctl.errors import ExitCode
from agentctl.protocol import ExportRequest, GcRequest, SqlQuery

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

SQL_HELP = """Run a read-only SQL query (DuckDB) over the event log.

Only SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN run; anything that
writes is refused (exit 2). QUERY "-" reads it from stdin.

\b
The table `events` has one row per event:
  "offset"  BIGINT     global position, gapless, increasing (quote it)
  stream    VARCHAR    the session id
  seq       BIGINT     position in the session, from 1, gapless
  ts        TIMESTAMP  when it was appended, UTC
  type      VARCHAR    session.created, session.status, message.user,
                       model.requested, model.responded, model.failed,
                       tool.proposed, approval.requested, approval.decided,
                       tool.started, tool.finished, tool.interrupted,
                       checkpoint.created, sandbox.created, sandbox.restored,
                       budget.exceeded, workspace.copied
  data      JSON       the payload: data->>'$.status', data->'$.usage'

\b
Examples:
  agentctl sql "SELECT type, count(*) FROM events GROUP BY type"
  agentctl sql "SELECT stream, sum((data->>'$.cost_usd')::DOUBLE) AS usd
                FROM events WHERE type = 'model.responded' GROUP BY stream" --csv
"""


@command
def trace(
    session: Annotated[str, typer.Argument(help="Session id.")],
    as_json: JsonOpt = False,
) -> None:
    """Where the session's time went: a waterfall of model calls, tool calls, approval waits.

    Every interval between two events is counted in one category (model, tool,
    approval, sandbox, overhead, idle), so they add up to the wall time
    (last event - first event).
    """
    result = client().trace(session)
    if as_json:
        print_json(result)
        return
    from agentctl.observe.render import trace_view

    out.print(trace_view(result))


@command
def stats(
    since: Annotated[
        str | None, typer.Option(help="Only the last DURATION: 90m, 24h, 7d, 2w.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sessions by status, cost per model and tool, tool failure rates, approval waits, retries."""
    report = client().stats(since)
    if as_json:
        print_json(report)
        return
    from agentctl.observe.render import stats_view

    out.print(stats_view(report))


@command
def sql(
    query: Annotated[str, typer.Argument(metavar="QUERY", help='SQL, or "-" for stdin.')],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per row (NDJSON).")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row.")] = False,
    limit: Annotated[int, typer.Option(min=0, help="At most N rows (0: all).")] = 10_000,
) -> None:
    if as_json and as_csv:
        fail("--json and --csv exclude each other", ExitCode.USAGE)
    text = sys.stdin.read() if query == "-" else query
    result = client().sql(SqlQuery(sql=text, limit=limit or None))
    if result.truncated:
        err.print(f"[yellow]only the first {len(result.rows)} rows; --limit 0 for all[/]")
    if as_json:
        for row in result.rows:
            print_json(dict(zip(result.columns, row, strict=True)))
    elif as_csv:
        import json

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow(
                json.dumps(v) if isinstance(v, dict | list) else ("" if v is None else v)
                for v in row
            )
        sys.stdout.flush()
    else:
        from agentctl.observe.render import sql_view

        out.print(sql_view(result))


@command
def export(
    session: Annotated[str | None, typer.Argument(help="Session id (or --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every session.")] = False,
    format_: Annotated[
        Literal["jsonl", "parquet"], typer.Option("--format", "-f", help="jsonl or parquet.")
    ] = "jsonl",
    output: Annotated[
        str, typer.Option("--output", "-o", help='File to write ("-": stdout, jsonl only).')
    ] = "-",
    as_json: JsonOpt = False,
) -> None:
    """Export events: JSONL envelopes (as `log --json`) or Parquet (the events table's columns)."""
    if (session is None) == (not all_):
        fail("give a SESSION or --all (not both)", ExitCode.USAGE)
    if output == "-":
        if format_ != "jsonl":
            fail("Parquet goes to a file: give -o PATH", ExitCode.USAGE)
        conn = client()
        events = conn.events(session) if session else conn.all_events()
        for event in events:
            sys.stdout.write(event.model_dump_json() + "\n")
        sys.stdout.flush()
        return
    path = Path(output).expanduser().absolute()
    result = client().export(ExportRequest(session=session, format=format_, path=str(path)))
    if as_json:
        print_json(result)
        return
    out.print(
        f"wrote {result.rows} events to {result.path} ({result.format}, {_bytes(result.bytes)})"
    )


@command
def gc(
    older_than: Annotated[
        str,
        typer.Option("--older-than", help="Sessions that ended more than DURATION ago: 30d, 12h."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove the checkpoint images and artifacts of sessions that ended long ago.

    Events are never removed, nor anything of a session that has not ended,
    nor a checkpoint image a live session (or a live fork's ancestry) uses.
    """
    result = client().gc(GcRequest(older_than=older_than, dry_run=dry_run))
    if as_json:
        print_json(result)
        return
    verb = "would free" if dry_run else "freed"
    out.print(
        f"{len(result.sessions)} ended sessions older than {older_than}: "
        f"{len(result.images)} checkpoint images, {len(result.artifacts)} artifact folders; "
        f"{verb} {_bytes(result.freed_bytes)}"
    )
    if result.kept_images:
        out.print(f"kept {len(result.kept_images)} images a live session still uses")
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}")


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def register(app: typer.Typer) -> None:
    app.command()(trace)
    app.command()(stats)
    app.command(help=SQL_HELP)(sql)
    app.command()(export)
    app.command()(gc)
