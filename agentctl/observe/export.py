"""Export the log: JSONL envelopes (what `agentctl log --json` prints) or Parquet.

The daemon writes the file (client and daemon share the machine); the path
must be absolute, so it means the same thing to both. JSONL is written page
by page and renamed into place when complete, like the Parquet file DuckDB
writes (`DuckDBEventStore.export_parquet`): a reader never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from agentctl.errors import UsageError
from agentctl.protocol import Envelope, ExportRequest, ExportResult
from store import DuckDBEventStore, EventStore, StoredEvent

PAGE = 5000


def target_path(raw: str) -> Path:
    path = Path(raw)
    if not path.is_absolute():
        raise UsageError(f"export path {raw!r} must be absolute (the daemon writes it)")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {raw}: folder {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"cannot write {raw}: it is a folder")
    return path


def envelope(event: StoredEvent) -> Envelope:
    return Envelope(
        session=event.stream,
        seq=event.seq,
        offset=event.offset,
        ts=event.ts,
        type=event.type,
        data=event.data,
    )


def _pages(store: EventStore, session: str | None) -> Iterator[list[StoredEvent]]:
    after = 0
    while True:
        if session is not None:
            page = store.read_stream(session, after=after, limit=PAGE)
        else:
            page = store.read_all(after=after, limit=PAGE)
        if not page:
            return
        yield page
        after = page[-1].seq if session is not None else page[-1].offset


def write_jsonl(store: EventStore, path: Path, session: str | None) -> int:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    rows = 0
    try:
        with temp.open("w", encoding="utf-8") as out:
            for page in _pages(store, session):
                out.write("".join(envelope(e).model_dump_json() + "\n" for e in page))
                rows += len(page)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return rows


def export(store: EventStore, req: ExportRequest) -> ExportResult:
    """Write the events of `req.session` (or all) to `req.path`. Blocking: run it in a thread."""
    path = target_path(req.path)
    if req.format == "parquet":
        if not isinstance(store, DuckDBEventStore):
            raise UsageError("Parquet export needs the DuckDB event store")
        rows = store.export_parquet(path, req.session)
    else:
        rows = write_jsonl(store, path, req.session)
    return ExportResult(path=str(path), format=req.format, rows=rows, bytes=path.stat().st_size)
