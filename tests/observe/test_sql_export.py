"""`agentctl sql` (read-only, refused writes) and `agentctl export` (JSONL, Parquet round trip)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from agentctl.client import Client
from agentctl.errors import UsageError
from agentctl.protocol import CreateSession, Envelope, ExportRequest, SqlQuery
from tests.support.daemon import wait_status
from tests.support.observe import Cli, call, final


@pytest.fixture
def two_sessions(daemon: Client, recording: Any) -> list[str]:
    model = recording(
        "two",
        [call("read_file", {"path": "ü.txt"}, "c1", cost=0.5), final("done — 'quoted' \"text\"")],
    )
    ids = [daemon.create_session(CreateSession(task=t, model=model, image="none")).id for t in "ab"]
    for sid in ids:
        assert wait_status(daemon, sid, "completed") == "completed"
    return ids


def test_sql_answers_as_a_table_json_and_csv(
    daemon: Client, cli: Cli, two_sessions: list[str]
) -> None:
    query = (
        "SELECT stream, count(*) AS events, sum((data->>'$.cost_usd')::DOUBLE) AS usd "
        "FROM events GROUP BY stream ORDER BY stream"
    )
    as_json = cli("sql", query, "--json")
    assert as_json.returncode == 0, as_json.stderr
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    expected_events = daemon.session(two_sessions[0]).last_seq
    assert rows == [
        {"stream": sid, "events": expected_events, "usd": 0.5} for sid in sorted(two_sessions)
    ]

    as_csv = cli("sql", query, "--csv")
    assert as_csv.returncode == 0, as_csv.stderr
    table = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert table[0] == ["stream", "events", "usd"] and len(table) == 3

    drawn = cli(
        "sql",
        "-",
        input="SELECT type, data FROM events WHERE type = 'message.user' OR seq = 1 LIMIT 1",
    )
    assert drawn.returncode == 0, drawn.stderr
    assert "session.created" in drawn.stdout

    described = cli("sql", "DESCRIBE events", "--json")
    columns = [json.loads(line)["column_name"] for line in described.stdout.splitlines()]
    assert columns == ["offset", "stream", "seq", "ts", "type", "data"]

    limited = cli("sql", "SELECT * FROM events", "--limit", "3", "--json")
    assert len(limited.stdout.splitlines()) == 3 and "--limit 0" in limited.stderr


WRITES = [
    "DELETE FROM events",
    "UPDATE events SET type = 'x'",
    "INSERT INTO events SELECT * FROM events",
    "DROP TABLE events",
    "CREATE TABLE t AS SELECT 1",
    "COPY events TO '/tmp/agentctl-stolen.parquet'",
    "ATTACH '/tmp/other.duckdb' AS other",
    "SELECT 1; DELETE FROM events",
    "EXPLAIN ANALYZE DELETE FROM events",
    "/* harmless */ delete from events",
]


def test_sql_refuses_writes(daemon: Client, cli: Cli, two_sessions: list[str]) -> None:
    before = daemon.status().last_offset
    result = cli("sql", WRITES[0])
    assert result.returncode == 2, result.stdout
    assert "read-only: DELETE statement refused" in result.stderr
    for statement in WRITES:
        with pytest.raises(UsageError, match="read-only") as refused:  # a 422 on the wire
            daemon.sql(SqlQuery(sql=statement))
        assert "refused" in str(refused.value), statement
    count = daemon.sql(SqlQuery(sql='SELECT count(*), max("offset") FROM events')).rows[0]
    assert count == [before, before]
    assert not Path("/tmp/agentctl-stolen.parquet").exists()


def test_sql_errors_are_the_callers(daemon: Client, cli: Cli) -> None:
    result = cli("sql", "SELECT nope FROM events")
    assert result.returncode == 2 and "nope" in result.stderr
    assert "events table" in result.stderr  # the hint points at the schema
    help_text = cli("sql", "--help").stdout
    for column in ('"offset"', "stream", "seq", "ts", "type", "data"):
        assert column in help_text


def stored(daemon: Client, session: str | None = None) -> list[Envelope]:
    return list(daemon.events(session) if session else daemon.all_events())


def test_parquet_round_trips(
    daemon: Client, cli: Cli, two_sessions: list[str], tmp_path: Path
) -> None:
    one = tmp_path / "one.parquet"
    result = cli("export", two_sessions[0], "--format", "parquet", "-o", str(one), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    events = stored(daemon, two_sessions[0])
    assert answer["rows"] == len(events) and answer["path"] == str(one)

    every = tmp_path / "all.parquet"
    assert cli("export", "--all", "-f", "parquet", "-o", str(every)).returncode == 0
    for path, expected in ((one, events), (every, stored(daemon))):
        rows = duckdb.execute(
            f"SELECT * FROM read_parquet('{path}') ORDER BY \"offset\""
        ).fetchall()
        frame = pd.read_parquet(path)
        assert len(rows) == len(frame) == len(expected)
        assert list(frame.columns) == ["offset", "stream", "seq", "ts", "type", "data"]
        assert list(frame["seq"]) == [e.seq for e in expected]
        assert list(frame["offset"]) == [e.offset for e in expected]
        assert list(frame["stream"]) == [e.session for e in expected]
        assert list(frame["type"]) == [e.type for e in expected]
        assert [json.loads(d) for d in frame["data"]] == [e.data for e in expected]
        assert [json.loads(r[5]) for r in rows] == [e.data for e in expected]
        ts = [t.to_pydatetime().replace(tzinfo=None) for t in frame["ts"]]
        assert ts == [e.ts.replace(tzinfo=None) for e in expected]
        assert str(frame["seq"].dtype) == "int64" and str(frame["ts"].dtype).startswith(
            "datetime64"
        )


def test_jsonl_export_is_the_log(
    daemon: Client, cli: Cli, two_sessions: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "all.jsonl"
    result = cli("export", "--all", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    lines = [Envelope.model_validate_json(line) for line in path.read_text().splitlines()]
    assert lines == stored(daemon)

    piped = cli("export", two_sessions[1])  # -o - by default: the envelopes on stdout
    assert piped.returncode == 0, piped.stderr
    assert [Envelope.model_validate_json(x) for x in piped.stdout.splitlines()] == stored(
        daemon, two_sessions[1]
    )

    log = cli("log", two_sessions[1], "--json")
    assert log.stdout == piped.stdout  # the same envelopes as `agentctl log --json`


def test_export_mistakes(daemon: Client, cli: Cli, two_sessions: list[str], tmp_path: Path) -> None:
    assert cli("export", "-o", str(tmp_path / "x")).returncode == 2  # neither SESSION nor --all
    assert cli("export", two_sessions[0], "--all", "-o", str(tmp_path / "x")).returncode == 2
    assert cli("export", two_sessions[0], "-f", "parquet").returncode == 2  # Parquet to stdout
    missing = cli("export", "ses_nope", "-o", str(tmp_path / "x.jsonl"))
    assert missing.returncode == 1 and "no session" in missing.stderr
    nowhere = cli("export", "--all", "-o", str(tmp_path / "no" / "such" / "x.jsonl"))
    assert nowhere.returncode == 2 and "does not exist" in nowhere.stderr
    with pytest.raises(UsageError, match="absolute"):
        daemon.export(ExportRequest(format="jsonl", path="relative.jsonl"))
    assert not list(tmp_path.glob(".*.tmp"))
