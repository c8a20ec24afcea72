"""A daemon killed (SIGKILL) under a running eval: the case's session survives it, and the
eval goes on following it once the daemon is back (the CLI starts it again)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agentctl.client import Client
from agentctl.paths import Paths
from tests.support.cli import ROOT, env, final
from tests.support.daemon import Response, SpawnDaemon, reply, wait_status


def test_an_eval_outlives_a_kill_9_of_the_daemon(
    spawn_daemon: SpawnDaemon,
    paths: Paths,
    recording: Callable[[list[Response]], str],
    tmp_path: Path,
) -> None:
    first = spawn_daemon()
    client = first.wait_ready()
    model = recording([reply("sleeping", ("wait", {"seconds": 4})), final("woke up")])
    suite = tmp_path / "durable.toml"
    suite.write_text(
        f'[[case]]\nname = "sleeper"\ntask = "sleep"\nmodel = "{model}"\nimage = "none"\n'
    )
    evaluation = subprocess.Popen(
        [sys.executable, "-m", "agentctl", "eval", str(suite), "--json", "--min-pass-rate", "1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not client.sessions():
            assert time.monotonic() < deadline and evaluation.poll() is None
            time.sleep(0.05)
        [session] = client.sessions()
        wait_status(client, session.id, "waiting")  # asleep on its timer
        first.kill()
        killed_at = datetime.now(UTC)
        out, errors = evaluation.communicate(timeout=120)
    finally:
        if evaluation.poll() is None:
            evaluation.kill()
            evaluation.communicate()
        client.close()
    assert evaluation.returncode == 0, errors
    [attempt] = json.loads(out)["cases"][0]["attempts"]
    assert attempt["session"] == session.id and attempt["passed"]
    assert attempt["status"] == "completed" and attempt["steps"] == 2
    with Client(paths.socket) as again:  # the daemon the CLI started again
        assert again.status().pid != first.pid
        fired = [e for e in again.events(session.id) if e.type == "timer.fired"]
    assert len(fired) == 1 and fired[0].ts > killed_at  # it woke under the new daemon
