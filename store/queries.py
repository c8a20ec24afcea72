"""Named read-only queries over the events table, and the Parquet export.

The SQL that the rest of the program needs beyond append and read lives
here, generic: it speaks of streams, types and JSON paths, never of what an
application stores in them. `EVENTS_COLUMNS` documents the table for anyone
writing their own queries (`DuckDBEventStore.query`).

Export is the one statement that writes: `COPY ... TO` writes a file, not the
database, so it runs on a read cursor, outside `query`'s read-only guard, and
its path is quoted here rather than taken from a caller's SQL. It writes into
the store's scratch folder, the only one DuckDB may touch.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

EVENTS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("offset", "BIGINT", 'global position, gapless and increasing (quote it: "offset")'),
    ("stream", "VARCHAR", "the stream the event belongs to"),
    ("seq", "BIGINT", "position within the stream, from 1, gapless"),
    ("ts", "TIMESTAMP", "when the event was appended, UTC"),
    ("type", "VARCHAR", "the event type"),
    ("data", "JSON", "the event's payload: data->>'$.field', json_extract(data, '$.a.b')"),
)

_SELECT_EVENTS = 'SELECT "offset", stream, seq, ts, type, data FROM events'


def copy_to_parquet(
    cursor: duckdb.DuckDBPyConnection, path: Path, scratch: Path, stream: str | None = None
) -> int:
    """Write the events (of one stream, or all) in offset order to `path`; the row count.

    DuckDB may only touch files in `scratch` (the store runs with external
    access disabled, see `DuckDBEventStore`), so it writes there; the file is
    then moved beside `path` and renamed over it, so it appears whole or not
    at all.
    """
    scratch.mkdir(mode=0o700, exist_ok=True)
    written = scratch / f"{os.getpid()}-{os.urandom(6).hex()}.parquet"
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    where = " WHERE stream = ?" if stream is not None else ""
    sql = (
        f'COPY ({_SELECT_EVENTS}{where} ORDER BY "offset") '
        f"TO {_literal(str(written))} (FORMAT PARQUET, COMPRESSION ZSTD)"
    )
    try:
        row = cursor.execute(sql, [stream] if stream is not None else []).fetchone()
        shutil.move(written, temp)  # a rename on one file system, a copy across two
        os.replace(temp, path)
    finally:
        written.unlink(missing_ok=True)
        temp.unlink(missing_ok=True)
    return int(row[0]) if row else 0


def _literal(text: str) -> str:
    """A SQL string literal (COPY takes no parameter for its target)."""
    if "\x00" in text:
        raise ValueError("a path cannot contain NUL")
    return "'" + text.replace("'", "''") + "'"
