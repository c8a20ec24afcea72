"""Aggregates over the log: sessions, models, tools, approvals, providers.

`agentctl stats` answers from the projection the folds keep
(`agentctl.observe.projection`, `project_report` here), not from a scan.
The DuckDB SQL below (`compute_stats`) is the reference it is tested
against, and the baseline `bench/growth.py` times.

The SQL knows agentctl's event types and data fields, so it lives here and
not in the generic `store`; it runs through `DuckDBEventStore.query`, which
refuses anything but a read. Every query starts from two CTEs:

- `created`: one row per session (its model, and for a fork the seq up to
  which its log is a copy of its parent's);
- `own`: the events a session made itself since the cutoff — a fork's copied
  prefix is left out, so a parent's cost is not counted again in each fork.

`$1` is the cutoff (naive UTC, like the `ts` column); `$2`, where used, is now.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from agentctl.observe.projection import Ended, cutoff_hour, fold_stats, project_stats
from agentctl.protocol import StatsReport
from agentctl.runtime.summary import STATS_KEY
from store import DuckDBEventStore, EventStore

_BASE = """
WITH created AS (
    SELECT stream, ts AS created_at, data->>'$.model' AS model,
           TRY_CAST(data->>'$.parent.seq' AS BIGINT) AS inherited
    FROM events WHERE type = 'session.created'
),
own AS (
    SELECT e.* FROM events e JOIN created c USING (stream)
    WHERE (c.inherited IS NULL OR e.seq > c.inherited) AND e.ts >= $1
)
"""

TOTALS = (
    _BASE
    + """
SELECT
    (SELECT count(*) FROM created WHERE created_at >= $1) AS sessions,
    count(*) AS events,
    count(*) FILTER (WHERE type = 'model.responded') AS model_responses,
    coalesce(sum(TRY_CAST(data->>'$.usage.input_tokens' AS BIGINT))
        FILTER (WHERE type = 'model.responded'), 0) AS input_tokens,
    coalesce(sum(TRY_CAST(data->>'$.usage.output_tokens' AS BIGINT))
        FILTER (WHERE type = 'model.responded'), 0) AS output_tokens,
    round(coalesce(sum(TRY_CAST(data->>'$.cost_usd' AS DOUBLE))
        FILTER (WHERE type = 'model.responded'), 0), 6) AS cost_usd,
    count(*) FILTER (WHERE type = 'tool.started') AS tool_calls,
    count(*) FILTER (WHERE type = 'approval.requested') AS approvals,
    count(*) FILTER (WHERE type = 'model.failed') AS model_failures
FROM own
"""
)

SESSIONS_BY_STATUS = (
    _BASE
    + """
SELECT s.status, count(*) AS sessions
FROM (
    SELECT stream, arg_max(data->>'$.status', seq) AS status
    FROM events WHERE type = 'session.status' GROUP BY stream
) s JOIN created c USING (stream)
WHERE c.created_at >= $1
GROUP BY s.status ORDER BY sessions DESC, s.status
"""
)

MODELS = (
    _BASE
    + """
SELECT c.model,
       count(*) AS responses,
       sum(TRY_CAST(o.data->>'$.usage.input_tokens' AS BIGINT)) AS input_tokens,
       sum(TRY_CAST(o.data->>'$.usage.output_tokens' AS BIGINT)) AS output_tokens,
       round(sum(TRY_CAST(o.data->>'$.cost_usd' AS DOUBLE)), 6) AS cost_usd,
       round(avg(TRY_CAST(o.data->>'$.latency_ms' AS DOUBLE)), 1) AS latency_ms_avg,
       round(quantile_cont(TRY_CAST(o.data->>'$.latency_ms' AS DOUBLE), 0.95), 1)
           AS latency_ms_p95
FROM own o JOIN created c USING (stream)
WHERE o.type = 'model.responded'
GROUP BY c.model ORDER BY cost_usd DESC, c.model
"""
)

# A tool's cost: its share of the model responses that asked for it (a response
# with n calls gives each 1/n of its cost), and the time its calls took. A run
# is a tool.finished matched to the latest tool.started of the same call before it.
TOOLS = (
    _BASE
    + """,
asked AS (
    SELECT unnest(data->>'$.tool_calls[*].name') AS tool,
           TRY_CAST(data->>'$.cost_usd' AS DOUBLE)
               / json_array_length(data->'$.tool_calls') AS cost
    FROM own
    WHERE type = 'model.responded' AND json_array_length(data->'$.tool_calls') > 0
),
started AS (
    SELECT stream, seq, data->>'$.call_id' AS call_id, data->>'$.name' AS tool
    FROM own WHERE type = 'tool.started'
),
finished AS (
    SELECT stream, seq, data->>'$.call_id' AS call_id,
           TRY_CAST(data->>'$.exit_code' AS BIGINT) AS exit_code,
           data->>'$.error' AS error,
           coalesce(TRY_CAST(data->>'$.timed_out' AS BOOLEAN), false) AS timed_out,
           TRY_CAST(data->>'$.duration_ms' AS DOUBLE) AS duration_ms
    FROM own WHERE type = 'tool.finished'
),
runs AS (
    SELECT s.tool, f.duration_ms,
           (f.error IS NOT NULL OR f.timed_out OR f.exit_code IS DISTINCT FROM 0) AS failed
    FROM finished f ASOF JOIN started s
        ON f.stream = s.stream AND f.call_id = s.call_id AND f.seq > s.seq
),
by_run AS (
    SELECT tool, count(*) AS calls, count(*) FILTER (WHERE failed) AS failed,
           sum(duration_ms) / 1000 AS total_s,
           quantile_cont(duration_ms, 0.5) AS p50_ms,
           quantile_cont(duration_ms, 0.95) AS p95_ms
    FROM runs GROUP BY tool
),
by_ask AS (SELECT tool, count(*) AS proposed, sum(cost) AS cost_usd FROM asked GROUP BY tool)
SELECT coalesce(r.tool, a.tool) AS tool,
       coalesce(a.proposed, 0) AS proposed,
       coalesce(r.calls, 0) AS calls,
       coalesce(r.failed, 0) AS failed,
       round(coalesce(r.failed / nullif(r.calls, 0), 0), 4) AS failure_rate,
       round(coalesce(r.total_s, 0), 3) AS total_s,
       round(r.p50_ms, 1) AS p50_ms,
       round(r.p95_ms, 1) AS p95_ms,
       round(coalesce(a.cost_usd, 0), 6) AS cost_usd
FROM by_run r FULL OUTER JOIN by_ask a ON r.tool = a.tool
ORDER BY calls DESC, tool
"""
)

APPROVALS = (
    _BASE
    + """,
requested AS (
    SELECT data->>'$.approval_id' AS id, ts FROM own WHERE type = 'approval.requested'
),
decided AS (
    SELECT data->>'$.approval_id' AS id, ts, data->>'$.decision' AS decision
    FROM own WHERE type = 'approval.decided'
),
waits AS (
    SELECT coalesce(d.decision, 'pending') AS decision,
           epoch_ms(coalesce(d.ts, $2) - r.ts) / 1000.0 AS wait_s
    FROM requested r LEFT JOIN decided d USING (id)
)
SELECT coalesce(decision, 'all') AS decision, count(*) AS approvals,
       round(quantile_cont(wait_s, 0.5), 3) AS p50_s,
       round(quantile_cont(wait_s, 0.9), 3) AS p90_s,
       round(quantile_cont(wait_s, 0.99), 3) AS p99_s,
       round(max(wait_s), 3) AS max_s
FROM waits
GROUP BY GROUPING SETS ((decision), ())
HAVING count(*) > 0
ORDER BY decision IS NULL, approvals DESC, decision
"""
)

PROVIDERS = (
    _BASE
    + """
SELECT split_part(c.model, ':', 1) AS provider,
       count(*) FILTER (WHERE o.type = 'model.requested') AS requests,
       count(*) FILTER (WHERE o.type = 'model.requested'
                        AND TRY_CAST(o.data->>'$.attempt' AS BIGINT) > 1) AS retries,
       count(*) FILTER (WHERE o.type = 'model.failed') AS failures,
       count(*) FILTER (WHERE o.type = 'model.failed'
                        AND TRY_CAST(o.data->>'$.retryable' AS BOOLEAN)) AS retryable_failures,
       round(count(*) FILTER (WHERE o.type = 'model.requested'
                              AND TRY_CAST(o.data->>'$.attempt' AS BIGINT) > 1)
             / nullif(count(*) FILTER (WHERE o.type = 'model.requested'), 0), 4) AS retry_rate
FROM own o JOIN created c USING (stream)
WHERE o.type IN ('model.requested', 'model.failed')
GROUP BY provider ORDER BY requests DESC, provider
"""
)

# Sessions per agent: its profile's name (or "-") and the hash of what shaped it,
# so two runs of "fixer" with different instructions are two rows.
AGENTS = (
    _BASE
    + """,
agents AS (
    SELECT stream, ts, coalesce(data->>'$.agent.name', '-') AS agent,
           coalesce(data->>'$.agent.hash', '') AS hash
    FROM events WHERE type = 'session.created'
)
SELECT a.agent, left(a.hash, 19) AS hash, count(DISTINCT a.stream) AS sessions,
       count(o.seq) FILTER (WHERE o.type = 'model.responded') AS responses,
       round(coalesce(sum(TRY_CAST(o.data->>'$.cost_usd' AS DOUBLE))
           FILTER (WHERE o.type = 'model.responded'), 0), 6) AS cost_usd,
       min(a.ts) AS first_seen
FROM agents a LEFT JOIN own o USING (stream)
WHERE a.ts >= $1
GROUP BY a.agent, a.hash ORDER BY first_seen, a.agent, hash
"""
)


def _rows(store: DuckDBEventStore, sql: str, *params: datetime) -> list[dict[str, Any]]:
    columns, rows = store.query(sql, list(params))
    return [dict(zip(columns, row, strict=True)) for row in rows]


def compute_stats(
    store: DuckDBEventStore,
    since: timedelta | None,
    since_text: str | None = None,
    *,
    now: datetime | None = None,
) -> StatsReport:
    """Every table of `agentctl stats` for the events at or after now - `since` (all when None),
    by a scan of the log in SQL (the reference; the daemon answers from `project_report`)."""
    now = now or datetime.now(UTC)
    cutoff = (now - since) if since is not None else datetime(1970, 1, 1, tzinfo=UTC)
    naive = cutoff.replace(tzinfo=None)  # `ts` is a naive UTC TIMESTAMP
    totals = _rows(store, TOTALS, naive)
    return StatsReport(
        since=since_text,
        since_ts=cutoff if since is not None else None,
        generated_at=now,
        totals=totals[0] if totals else {},
        sessions_by_status=_rows(store, SESSIONS_BY_STATUS, naive),
        models=_rows(store, MODELS, naive),
        tools=_rows(store, TOOLS, naive),
        approvals=_rows(store, APPROVALS, naive, now.replace(tzinfo=None)),
        providers=_rows(store, PROVIDERS, naive),
        agents=_rows(store, AGENTS, naive),
    )


# Sessions read again for the cutoff's hour beyond which a DuckDB store answers by
# the scan instead (a read is ~2 ms; the scan of 1M events ~1 s, on a shared core).
REFOLD_MAX = 256


def read_ended(store: EventStore, sessions: Collection[str]) -> Ended:
    """The ended `sessions`' projections, from their snapshots in the store, merged; blocking.

    Only the snapshots' stats are read (`read_snapshots(only=...)`), parsed and
    merged one at a time. A session whose snapshot has none (the journal keeps
    dormant only those of the current version, so this is for a snapshot
    changed since) is folded from its events.
    """
    wanted = set(sessions)
    ended = Ended()
    for snapshot in store.read_snapshots(only=(STATS_KEY,)):
        text = snapshot.data.get(STATS_KEY)
        if snapshot.stream in wanted and isinstance(text, str):
            wanted.discard(snapshot.stream)
            ended.add(snapshot.stream, json.loads(text))
    for sid in sessions:
        if sid in wanted:
            ended.add(sid, fold_stats(store.read_stream(sid)))
    return ended


def project_report(
    store: EventStore,
    folded: dict[str, dict[str, Any]],
    ended: Ended | Collection[str],
    since: timedelta | None,
    since_text: str | None = None,
    *,
    now: datetime | None = None,
) -> tuple[StatsReport, Ended]:
    """The report from the sessions' projections (`Journal.stats_data`); blocking.

    `ended` is the dormant sessions' `Ended`, or their ids, whose projections
    are then read from their snapshots and merged here (`read_ended`), and
    returned for the journal to keep. Only the sessions with events in the
    cutoff's hour are read from the store, to cut that hour exactly.
    """
    now = now or datetime.now(UTC)
    cutoff = (now - since) if since is not None else None
    if not isinstance(ended, Ended):
        ended = read_ended(store, ended)
    # Each session with events in the cutoff's hour is read again; when that is most
    # of them (a window that starts inside a busy hour), one scan costs less.
    cut = cutoff_hour(cutoff)
    if (
        cut is not None
        and isinstance(store, DuckDBEventStore)
        and sum(1 for data in folded.values() if cut in data["b"])
        + sum(1 for session in ended.sessions if int(cut) in session[-1])
        > REFOLD_MAX
    ):
        return compute_stats(store, since, since_text, now=now), ended

    def refold(session_id: str, cutoff_us: int) -> dict[str, Any]:
        return fold_stats(store.read_stream(session_id), cutoff_us)

    tables = project_stats(folded, cutoff=cutoff, now=now, refold=refold, ended=ended)
    report = StatsReport(
        since=since_text,
        since_ts=cutoff,
        generated_at=now,
        **tables,
    )
    return report, ended
