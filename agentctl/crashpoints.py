"""Named crash points for fault injection (docs/design.md §4, issue 4).

`AGENTCTL_CRASH_AT` names one or more points, comma-separated; the process
exits at once (`os._exit`, no cleanup, no flush) when one is reached:

    after:model.responded[:N]     after the Nth model.responded is durable
    after:tool.started[:N]        after the Nth tool.started (before the tool runs)
    after:tool.finished[:N]
    after:checkpoint.created[:N]
    store:mid-batch[:N]           inside the Nth store batch: rows inserted, not committed
    store:mid-batch:TYPE[:N]      inside the batch holding the Nth event of TYPE, e.g.
                                  store:mid-batch:tool.finished:3

and the moments between the runtime acting outside the log and the event
that records it:

    sandbox:created[:N]           a container created, not yet started
    sandbox:started[:N]           a container started (its workspace not yet copied,
                                  `sandbox.created` not yet appended)
    sandbox:paused[:N]            a container paused (waiting for a person)
    sandbox:unpaused[:N]          a container unpaused (a decision came)
    sandbox:committed[:N]         a checkpoint image committed, `checkpoint.created` not
                                  yet appended
    sandbox:pushed[:N]            with `[sandbox] registry`: the checkpoint pushed there,
                                  `checkpoint.created` not yet appended
    tool:ran[:N]                  a tool returned (a shell call's completion record is
                                  written), `tool.finished` not yet appended
    artifact:moved[:N]            a long output moved into the artifacts folder,
                                  `tool.finished` not yet appended
    delegate:created[:N]          a `delegate` call's child session made, the parent's
                                  `waiting` for it not yet appended

N counts occurrences in this process and defaults to 1. The crash tests kill
a session at each point in turn, restart, and prove nothing is lost and no
side effect repeats.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

CRASH_EXIT_CODE = 86
ENV = "AGENTCTL_CRASH_AT"


class CrashPoints:
    def __init__(self, spec: str | None = None) -> None:
        if spec is None:
            spec = os.environ.get(ENV, "")
        self._targets: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, count = part.rpartition(":")
            if name and count.isdigit():
                self._targets[name] = int(count)
            else:
                self._targets[part] = 1
        self._seen: Counter[str] = Counter()

    @property
    def armed(self) -> bool:
        return bool(self._targets)

    def reach(self, point: str) -> None:
        if point not in self._targets:
            return
        self._seen[point] += 1
        if self._seen[point] == self._targets[point]:
            sys.stderr.write(f"agentctl: crash point {point}:{self._seen[point]} reached\n")
            sys.stderr.flush()
            os._exit(CRASH_EXIT_CODE)

    def after_event(self, event_type: str) -> None:
        if self._targets:
            self.reach(f"after:{event_type}")

    def mid_batch(self, events: Sequence[Any]) -> None:
        """The store's `before_commit` hook: `events` are the batch's, each with a `type`."""
        if not self._targets:
            return
        self.reach("store:mid-batch")
        for event in events:
            self.reach(f"store:mid-batch:{event.type}")
