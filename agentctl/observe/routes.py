"""HTTP handlers of the observability routes, mounted with the rest under `/v1`.

    GET  /sessions/{id}/trace   the session's waterfall (SessionTrace)
    GET  /stats?since=7d        aggregates over the log (StatsReport), from projections
    POST /sql                   a read-only query (SqlQuery -> SqlResult)
    POST /export                events to a JSONL or Parquet file (ExportRequest -> ExportResult)
    POST /gc                    retention (GcRequest -> GcResult)

DuckDB work blocks, so it runs in a thread; the event loop keeps serving.
A query the store refuses (a write, a syntax error, an unknown column) is the
caller's mistake: a 422 with DuckDB's message, never a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agentctl.daemon.context import Daemon
from agentctl.daemon.web import json_response, read_body
from agentctl.durations import parse_timedelta as parse_duration
from agentctl.errors import DaemonError, UsageError
from agentctl.protocol import ExportRequest, GcRequest, SqlQuery, SqlResult
from store import (
    DuckDBEventStore,
    EventStore,
    QueryResult,
    QueryTimeoutError,
    StoreClosedError,
    StoreError,
)


def _daemon(request: Request) -> Daemon:
    daemon: Daemon = request.app.state.daemon
    return daemon


class _BoundedQuery(Protocol):
    def query_bounded(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        timeout_s: float | None = None,
    ) -> QueryResult: ...


def _query_store(store: EventStore) -> _BoundedQuery:
    """The store `agentctl sql` runs on: DuckDB, or PostgreSQL (in its own SQL dialect)."""
    if isinstance(store, DuckDBEventStore):
        return store
    query = getattr(store, "query_bounded", None)
    if query is None:
        raise UsageError("this event store has no SQL")
    return cast(_BoundedQuery, store)


async def trace(request: Request) -> Response:
    from .trace import build_trace

    daemon = _daemon(request)
    session_id = request.path_params["id"]
    daemon.runtime.session(session_id)  # 404 for an unknown session
    events = await asyncio.to_thread(daemon.store.read_stream, session_id)
    return json_response(build_trace(session_id, events))


async def stats(request: Request) -> Response:
    """From the sessions' stats projections (kept by the journal's folds), any store."""
    from .stats import project_report

    since_text = request.query_params.get("since") or None
    since = parse_duration(since_text) if since_text else None
    daemon = _daemon(request)
    journal = daemon.runtime.journal
    folded, ended, epoch = journal.stats_data()
    report, merged = await asyncio.to_thread(
        project_report, daemon.store, folded, ended, since, since_text
    )
    journal.keep_stats(merged, epoch)
    return json_response(report)


# One query runs in the daemon's process, which holds the log and answers every
# client: bounded in time and bytes (SqlQuery's timeout_s, max_bytes) and rows.
SQL_MAX_ROWS = 1_000_000  # `--limit 0` (every row) still stops here


def _run_query(store: _BoundedQuery, body: SqlQuery) -> SqlResult:
    try:
        # one row past the limit tells whether the result was cut, without fetching it all
        max_rows = body.limit + 1 if body.limit is not None else SQL_MAX_ROWS
        result = store.query_bounded(
            body.sql,
            body.params,
            max_rows=max_rows,
            max_bytes=body.max_bytes,
            timeout_s=body.timeout_s,
        )
    except StoreClosedError as exc:
        raise DaemonError(str(exc)) from None
    except QueryTimeoutError as exc:
        raise UsageError(str(exc), hint="narrow it: a WHERE on stream or ts, or a LIMIT") from None
    except StoreError as exc:
        message = str(exc)
        if message.startswith("read-only"):
            hint = (
                "the log is append-only: `agentctl sql` runs SELECT, WITH, DESCRIBE, SHOW, EXPLAIN"
            )
        elif "disabled by configuration" in message:
            hint = "`agentctl sql` reads the event log only: no files, URLs or extensions"
        else:
            hint = "see `agentctl sql --help` for the events table"
        raise UsageError(message, hint=hint) from None
    rows = result.rows
    truncated = result.truncated or (body.limit is not None and len(rows) > body.limit)
    kept = rows[: body.limit] if body.limit is not None else rows
    return SqlResult(
        columns=result.columns, rows=[_jsonable(row) for row in kept], truncated=truncated
    )


def _jsonable(row: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for value in row:
        if value is None or isinstance(value, bool | int | float | str | list | dict):
            out.append(value)
        else:  # datetime, Decimal, UUID, bytes, intervals...: their text
            out.append(str(value))
    return out


async def sql(request: Request) -> Response:
    body = await read_body(request, SqlQuery)
    store = _query_store(_daemon(request).store)
    return json_response(await asyncio.to_thread(_run_query, store, body))


async def export(request: Request) -> Response:
    from .export import export as write_export

    body = await read_body(request, ExportRequest)
    daemon = _daemon(request)
    if body.session is not None:
        daemon.runtime.session(body.session)  # 404 for an unknown session
    try:
        result = await asyncio.to_thread(write_export, daemon.store, body)
    except OSError as exc:
        raise UsageError(f"cannot write {body.path}: {exc.strerror or exc}") from None
    return json_response(result, status=201)


async def gc(request: Request) -> Response:
    from .retention import collect_garbage

    body = await read_body(request, GcRequest)
    older_than = parse_duration(body.older_than)
    daemon = _daemon(request)
    result = await collect_garbage(daemon.runtime, daemon.paths, older_than, dry_run=body.dry_run)
    return json_response(result)


OBSERVE_ROUTES: list[BaseRoute] = [
    Route("/sessions/{id}/trace", trace, methods=["GET"]),
    Route("/stats", stats, methods=["GET"]),
    Route("/sql", sql, methods=["POST"]),
    Route("/export", export, methods=["POST"]),
    Route("/gc", gc, methods=["POST"]),
]
