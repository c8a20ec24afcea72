"""A real PostgreSQL server for the tests: Debian's binaries, a private port and data folder.

`PostgresServer.start()` runs initdb into a fresh folder under /tmp, starts
the server on a free loopback port (and a Unix socket in that folder), and
creates the role `agentctl`, which is not a superuser (the store refuses
`agentctl sql` queries on a superuser connection). Each `new_database()` is a
database of its own, owned by that role, so every store starts empty.
initdb refuses to run as root: as root, everything runs as the `postgres`
system user (`runuser`), which owns the folder.

PostgreSQL missing is a failure, not a skip: `make postgres` installs it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

MISSING = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `make postgres`"


INITDB = "/usr/lib/postgresql/*/bin/initdb"


def postgres_bin(pattern: str = INITDB) -> Path:
    found = sorted(glob.glob(pattern), key=_major)
    if not found:
        pytest.fail(MISSING, pytrace=False)
    return Path(found[-1]).parent


def _major(path: str) -> int:
    try:
        return int(Path(path).parent.parent.name)
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="agentctl-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.owner = "postgres" if os.geteuid() == 0 else None
        self._count = 0

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result

    def start(self) -> PostgresServer:
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.admin("CREATE ROLE agentctl LOGIN CREATEDB")
        return self

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser, on the maintenance database."""
        import psycopg

        with psycopg.connect(self.url("postgres", user="postgres"), autocommit=True) as conn:
            conn.execute(sql.encode())

    def url(self, database: str, user: str = "agentctl") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a fresh, empty database owned by `agentctl`."""
        self._count += 1
        name = f"t{os.getpid()}_{self._count}"
        self.admin(f"CREATE DATABASE {name} OWNER agentctl")
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
