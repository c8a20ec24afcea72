"""`agentctl sql` reads the event log and nothing else: no files, no network, no extensions.

The daemon holds API keys and its token in its environment; a query that could
read /proc/self/environ would hand them to anyone who can reach the socket
(or to a model whose output a careless pipeline feeds to `agentctl sql`).
"""

from __future__ import annotations

import pytest

from agentctl.client import Client
from agentctl.errors import UsageError
from agentctl.protocol import SqlQuery
from tests.support.daemon import DaemonProcess, SpawnDaemon

SECRET = "sk-hostile-suite-secret-0123456789"

READS_THE_HOST = [
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT content FROM read_blob('/proc/self/environ')",
    "SELECT * FROM read_text('/etc/shadow')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/root/*')",
    "SELECT * FROM 'https://example.com/x.csv'",
    "SELECT * FROM read_parquet('/tmp/*.parquet')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM read_json_auto('/proc/self/environ')",
]


@pytest.fixture
def keyed(spawn_daemon: SpawnDaemon) -> Client:
    process: DaemonProcess = spawn_daemon(env={"OPENAI_API_KEY": SECRET, "AGENTCTL_TOKEN": SECRET})
    return process.wait_ready()


@pytest.mark.parametrize("sql", READS_THE_HOST)
def test_queries_cannot_read_the_host(keyed: Client, sql: str) -> None:
    with pytest.raises(UsageError) as caught:
        keyed.sql(SqlQuery(sql=sql))
    message = str(caught.value)
    assert SECRET not in message
    assert "disabled by configuration" in message or "does not exist" in message, message


@pytest.mark.parametrize(
    "sql",
    [
        "LOAD httpfs",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "ATTACH '/tmp/x.duckdb' AS x",
        "COPY events TO '/tmp/stolen.csv'",
        "SELECT 1; SELECT * FROM read_text('/etc/shadow')",
    ],
)
def test_statements_that_would_open_it_again_are_refused(keyed: Client, sql: str) -> None:
    with pytest.raises(UsageError, match="read-only"):
        keyed.sql(SqlQuery(sql=sql))


def test_the_settings_stay_locked(keyed: Client) -> None:
    result = keyed.sql(
        SqlQuery(
            sql="SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('enable_external_access', 'lock_configuration', 'autoload_known_extensions')"
        )
    )
    assert {row[0]: row[1] for row in result.rows} == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "autoload_known_extensions": "false",
    }


def test_a_query_that_runs_too_long_is_stopped(keyed: Client) -> None:
    with pytest.raises(UsageError, match=r"ran longer than 0\.5 s and was stopped"):
        keyed.sql(SqlQuery(sql="SELECT count(*) FROM range(1000000000000)", timeout_s=0.5))
    assert keyed.sql(SqlQuery(sql="SELECT 42")).rows == [[42]]  # and the daemon answers


def test_rows_and_bytes_are_capped(keyed: Client) -> None:
    wide = keyed.sql(
        SqlQuery(sql="SELECT repeat('x', 100000) FROM range(1000)", limit=None, max_bytes=1_000_000)
    )
    assert wide.truncated and len(wide.rows) < 11
    many = keyed.sql(SqlQuery(sql="SELECT * FROM range(2000000)", limit=None))
    assert many.truncated and len(many.rows) == 1_000_000
    with pytest.raises(UsageError):
        keyed.sql(
            SqlQuery.model_construct(
                sql="SELECT 1", limit=None, timeout_s=3600.0, max_bytes=1, params=[]
            )
        )
