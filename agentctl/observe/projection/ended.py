"""The ended (dormant) sessions' projections, merged once per (hour, model): `Ended`.

An ended session's fold no longer changes, so the report needs of it only
what its tables add up: its buckets are summed into one per (hour, model),
and the session keeps a row for `--since` and the per-session tables (when it
began, its model, agent, status, totals and which hours it has). So memory
follows the hours and values, not one dict per session.
"""

from __future__ import annotations

from array import array
from typing import Any

from agentctl.observe.projection.fold import new_bucket
from agentctl.observe.projection.values import add

# One ended session's row: (session id, created us, model, agent, hash, has a status,
# status, responses, cost | None, frozenset of its hours).
EndedSession = tuple[Any, ...]


class Ended:
    """The ended sessions' projections merged, each parsed once from its snapshot's JSON."""

    __slots__ = ("buckets", "sessions")

    def __init__(self) -> None:
        self.buckets: dict[tuple[int, str | None], dict[str, Any]] = {}
        self.sessions: list[EndedSession] = []

    def add(self, sid: str, data: dict[str, Any]) -> None:
        """Merge one session's `StatsFold.data` (one that has no session.created adds nothing)."""
        created = data.get("c")
        if created is None:
            return
        model = data.get("m")
        responses = 0
        cost: float | None = None
        hours = []
        for hour, bucket in data["b"].items():
            responses += bucket["r"]
            cost = add(cost, bucket["cs"])
            hours.append(int(hour))
            key = (int(hour), model)
            into = self.buckets.get(key)
            if into is None:
                into = self.buckets[key] = new_bucket()
                into["lat"] = array("d")
            _merge(into, bucket)
        agent, hash_ = data.get("ag"), data.get("h")
        status = ("st" in data, data.get("st"))
        self.sessions.append(
            (sid, created, model, agent, hash_, *status, responses, cost, frozenset(hours))
        )


def _merge(into: dict[str, Any], b: dict[str, Any]) -> None:
    """Add bucket `b` into `into` (the values quantiles need are kept as arrays of doubles)."""
    for key in ("n", "r", "tc", "ap", "mf", "rf", "rq", "rt"):
        into[key] += b[key]
    for key in ("it", "ot", "cs"):
        into[key] = add(into[key], b[key])
    into["lat"].extend(b["lat"])
    for tool, (count, share) in b["ask"].items():
        asked = into["ask"].setdefault(tool, [0, None])
        asked[0] += count
        asked[1] = add(asked[1], share)
    for tool, (calls, failed, durations) in b["run"].items():
        run = into["run"].setdefault(tool, [0, 0, array("d")])
        run[0] += calls
        run[1] += failed
        run[2].extend(durations)
    into["dec"].extend(b["dec"])
    into["pend"].extend(b["pend"])
