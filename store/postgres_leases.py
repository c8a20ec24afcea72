"""Who drives which session, when several daemons share one PostgreSQL log.

Three tables (migration 3 of `store.postgres_schema`):

- `workers`: one row per live daemon (its id, host, pid, start, heartbeat);
- `session_leases`: one row per session that some worker should drive. A
  row with no owner is an offer (a new session, or one a worker let go);
  a row whose `expires_at` has passed belongs to nobody any more. Its
  `engine`, when set (migration 4), is the Docker engine that holds the
  session's sandbox images: workers without a registry claim a session
  only on that engine;
- `lease_history`: one row per acquisition (who, from whom, at which seq of
  the stream, when it was let go), for operators and tests.

`claim` takes offered or expired rows with `FOR UPDATE SKIP LOCKED`, so two
workers claiming at once never get the same session and never wait on each
other. Every time is the database's (`now()`), so the workers' clocks do not
matter. A lease is the right to append to the session: a worker's appends
name it (`append_future(lease=worker)`), and the store checks it in the
append's own transaction, so a worker that lost its lease while frozen
cannot write even when its expected seq is current (it folds the other
workers' commits). The expected seq stays the last line of defence.

This module knows nothing of sessions' contents: it is given stream ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from store.events import StoreError


@dataclass(frozen=True)
class WorkerRow:
    worker: str
    host: str
    pid: int
    started_at: datetime
    heartbeat: datetime
    alive: bool
    sessions: tuple[str, ...]


_CLAIM = """
WITH picked AS (
    SELECT session, owner FROM session_leases
    WHERE (owner IS NULL OR expires_at < now())
    AND (%(engine)s::text IS NULL OR engine IS NULL OR engine = %(engine)s)
    ORDER BY offered_at, session
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE session_leases l
    SET owner = %(me)s, expires_at = now() + make_interval(secs => %(lease)s), renewed = now()
    FROM picked WHERE l.session = picked.session
    RETURNING l.session, picked.owner AS previous
), closed AS (
    UPDATE lease_history h SET released_at = now()
    FROM moved WHERE h.session = moved.session AND h.released_at IS NULL
)
INSERT INTO lease_history (session, worker, previous, from_seq)
SELECT moved.session, %(me)s, moved.previous, coalesce(s.last_seq, 0)
FROM moved LEFT JOIN streams s ON s.stream = moved.session
RETURNING session, previous
"""


class LeaseTable:
    """The lease tables of one database, through the store's connection pool."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]], lease_s: float) -> None:
        self._pool = pool
        self.lease_s = float(lease_s)

    def _run(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                cursor = conn.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        except psycopg.Error as exc:
            raise StoreError(f"lease tables: {exc}") from exc

    def register(self, worker: str, host: str, pid: int) -> None:
        self._run(
            "INSERT INTO workers (worker, host, pid) VALUES (%s, %s, %s) "
            "ON CONFLICT (worker) DO UPDATE SET heartbeat = now()",
            [worker, host, pid],
        )

    def heartbeat_and_renew(self, worker: str) -> set[str]:
        """Beat, and extend every lease this worker still holds; the sessions it holds."""
        rows = self._run(
            "WITH beat AS (UPDATE workers SET heartbeat = now() WHERE worker = %(me)s) "
            "UPDATE session_leases SET expires_at = now() + make_interval(secs => %(lease)s), "
            "renewed = now() WHERE owner = %(me)s AND expires_at >= now() RETURNING session",
            {"me": worker, "lease": self.lease_s},
        )
        return {str(r[0]) for r in rows}

    def offer(self, sessions: list[str]) -> None:
        """Put sessions up for any worker to claim (a session already leased is left alone)."""
        if sessions:
            self._run(
                # not a session that ended: its snapshot at its head says so
                "INSERT INTO session_leases (session) SELECT o FROM unnest(%s::text[]) AS o "
                "WHERE NOT EXISTS (SELECT 1 FROM snapshots sn JOIN streams st "
                "ON st.stream = sn.stream WHERE sn.stream = o AND sn.seq = st.last_seq "
                "AND sn.data->>'ended' = 'true') "
                "ON CONFLICT (session) DO NOTHING",
                [sessions],
            )

    def claim(
        self, worker: str, limit: int, engine: str | None = None
    ) -> list[tuple[str, str | None]]:
        """Take up to `limit` offered or expired sessions: (session, previous owner) each.

        With `engine`, only sessions not pinned to another engine (`pin`).
        """
        rows = self._run(
            _CLAIM, {"me": worker, "lease": self.lease_s, "limit": limit, "engine": engine}
        )
        return [(str(r[0]), None if r[1] is None else str(r[1])) for r in rows]

    def pin(self, session: str, engine: str) -> None:
        """Keep the session on `engine` (its images are there), unless it is pinned already."""
        self._run(
            "UPDATE session_leases SET engine = %s WHERE session = %s AND engine IS NULL",
            [engine, session],
        )

    def fair_share(self, worker: str) -> int:
        """How many sessions this worker may claim now to keep live workers even (>= 0).

        The gap between this worker's count and the largest count among the
        live workers (one at least when it is the least loaded or alone), so
        the least loaded workers claim first and a busy one leaves the queue.
        """
        rows = self._run(
            "SELECT w.worker, count(l.session) FROM workers w "
            "LEFT JOIN session_leases l ON l.owner = w.worker AND l.expires_at >= now() "
            "WHERE w.heartbeat >= now() - make_interval(secs => %s) OR w.worker = %s "
            "GROUP BY w.worker",
            [self.lease_s, worker],
        )
        counts = {str(r[0]): int(r[1]) for r in rows}
        mine = counts.get(worker, 0)
        if mine > min(counts.values(), default=0):
            return 0
        return max(1, max(counts.values(), default=0) - mine)

    def release(self, worker: str, sessions: list[str]) -> None:
        """Let go of sessions that ended (their rows go: nothing to drive)."""
        if sessions:
            self._run(
                "WITH gone AS (DELETE FROM session_leases WHERE owner = %(me)s "
                "AND session = ANY(%(s)s) RETURNING session) "
                "UPDATE lease_history h SET released_at = now() FROM gone "
                "WHERE h.session = gone.session AND h.worker = %(me)s AND h.released_at IS NULL",
                {"me": worker, "s": sessions},
            )

    def give_back(self, worker: str, sessions: list[str]) -> None:
        """Offer held sessions again (their driving stopped on a conflict)."""
        self._run(
            "WITH back AS (UPDATE session_leases SET owner = NULL, expires_at = NULL, "
            "offered_at = now() WHERE owner = %(me)s AND session = ANY(%(s)s) "
            "RETURNING session) "
            "UPDATE lease_history h SET released_at = now() FROM back "
            "WHERE h.session = back.session AND h.released_at IS NULL",
            {"me": worker, "s": sessions},
        )

    def hand_back(self, worker: str) -> None:
        """On a clean stop: offer every held session again at once and leave the workers."""
        self._run(
            "WITH back AS (UPDATE session_leases SET owner = NULL, expires_at = NULL, "
            "offered_at = now() WHERE owner = %(me)s RETURNING session), "
            "closed AS (UPDATE lease_history h SET released_at = now() FROM back "
            "WHERE h.session = back.session AND h.released_at IS NULL) "
            "DELETE FROM workers WHERE worker = %(me)s",
            {"me": worker},
        )

    def workers(self) -> list[WorkerRow]:
        rows = self._run(
            "SELECT w.worker, w.host, w.pid, w.started_at, w.heartbeat, "
            "w.heartbeat >= now() - make_interval(secs => %s), "
            "coalesce(array_agg(l.session ORDER BY l.session) "
            "FILTER (WHERE l.session IS NOT NULL), '{}') "
            "FROM workers w LEFT JOIN session_leases l "
            "ON l.owner = w.worker AND l.expires_at >= now() "
            "GROUP BY w.worker ORDER BY w.started_at, w.worker",
            [self.lease_s],
        )
        return [
            WorkerRow(str(r[0]), str(r[1]), int(r[2]), r[3], r[4], bool(r[5]), tuple(r[6]))
            for r in rows
        ]

    def history(self, session: str | None = None) -> list[tuple[str, str, str | None, int]]:
        """(session, worker, previous owner, from seq) per acquisition, in order."""
        rows = self._run(
            "SELECT session, worker, previous, from_seq FROM lease_history "
            "WHERE %(s)s::text IS NULL OR session = %(s)s ORDER BY id",
            {"s": session},
        )
        return [
            (str(r[0]), str(r[1]), None if r[2] is None else str(r[2]), int(r[3])) for r in rows
        ]
