"""A real daemon: a schedule's firings that fell due while it was down fire once on restart.

The daemon's clock is moved with AGENTCTL_CLOCK_SKEW_S (a test hook, like the
crash points): the second daemon starts "an hour later" without the test
sleeping for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agentctl.client import Client
from agentctl.protocol import AddSchedule, CreateSession
from tests.support.daemon import Response, SpawnDaemon, reply, wait_status

LATER = {"AGENTCTL_CLOCK_SKEW_S": "3660"}  # 61 minutes on: 12 firings of */5 fell due


def fired(client: Client) -> list[dict[str, object]]:
    return [
        e.data
        for e in client.all_events()
        if e.session == "schedule:tick" and e.type == "schedule.fired"
    ]


def wait_fired(client: Client, count: int, timeout: float = 30.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while len(found := fired(client)) < count:
        assert time.monotonic() < deadline, f"{len(found)} firings, not {count}"
        time.sleep(0.05)  # polling the daemon's log, as wait_status does
    return found


def test_missed_firings_fire_once_after_a_restart(
    spawn_daemon: SpawnDaemon, recording: Callable[[list[Response]], str]
) -> None:
    model = recording([reply("ticked"), reply("ticked again")])
    first = spawn_daemon()
    client = first.wait_ready()
    run = CreateSession(task="tick", model=model, image="none", policy="permissive")
    client.add_schedule(AddSchedule(name="tick", cron="*/5 * * * *", run=run))
    client.close()
    assert first.terminate() == 0

    later = spawn_daemon(env=LATER)
    client = later.wait_ready()
    try:
        [once] = wait_fired(client, 1)
        # 61 minutes hold 12 or 13 due times of */5, by where the first fell: one firing.
        assert once["outcome"] == "started" and once["missed"] in (11, 12)
        assert "late" in str(once["reason"])
        [session] = [s for s in client.sessions() if s.labels.get("schedule") == "tick"]
        assert wait_status(client, session.id, "completed") == "completed"
    finally:
        client.close()
        assert later.terminate() == 0

    again = spawn_daemon(env=LATER)  # the same moment again: nothing more fell due
    client = again.wait_ready()
    try:
        # run-now takes the schedule's lock after any catch-up the start began.
        started = client.run_schedule("tick")
        assert [f["manual"] for f in fired(client)] == [False, True]
        assert started.session is not None
    finally:
        client.close()
        assert again.terminate() == 0
