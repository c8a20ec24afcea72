"""The report from the sessions' projections: `project_stats` and its `--since` window.

The folded sessions' `StatsFold.data` and the ended ones' `Ended` are added
into `Tables`, the hours in the window only. `--since D` takes the hours
after the cutoff's hour whole; a session with events in the cutoff's own hour
is folded again from its events with the exact cutoff (`refold`), and that
hour taken from it: only those sessions are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from agentctl.observe.projection.ended import Ended
from agentctl.observe.projection.tables import Tables, report
from agentctl.observe.projection.values import HOUR_US, add, to_us

# refold(session id, cutoff us): the session's StatsFold.data folded again from its events
Refold = Callable[[str, int], dict[str, Any]]


def cutoff_hour(cutoff: datetime | None) -> str | None:
    """The hour key a cutoff cuts (None: no cutoff, or one on the hour: no hour is cut)."""
    if cutoff is None:
        return None
    cutoff_us = to_us(cutoff)
    return str(cutoff_us // HOUR_US) if cutoff_us % HOUR_US else None


def project_stats(
    sessions: Mapping[str, dict[str, Any]],
    *,
    cutoff: datetime | None,
    now: datetime,
    refold: Refold | None = None,
    ended: Ended | None = None,
) -> dict[str, Any]:
    """The tables of a StatsReport from the sessions' `StatsFold.data` and the `ended` ones.

    `refold(session_id, cutoff_us)` folds a session again from its events with
    an exact cutoff; it is called for the sessions with events in the cutoff's
    hour (None: those hours are taken whole, an approximation).
    """
    cutoff_us = to_us(cutoff) if cutoff is not None else None
    boundary: str | None = None
    first_whole = -(2**62)
    if cutoff_us is not None:
        hour = cutoff_us // HOUR_US
        first_whole = hour if cutoff_us % HOUR_US == 0 else hour + 1
        boundary = str(hour) if cutoff_us % HOUR_US else None
    tables = Tables(to_us(now))

    for sid, data in sessions.items():
        created = data.get("c")
        if created is None:
            continue
        data, chosen = _window(sid, data, cutoff_us, first_whole, boundary, refold)
        model = tables.model(data.get("m"))
        responses = 0
        cost: float | None = None
        for b in chosen:
            tables.bucket(model, b)
            responses += b["r"]
            cost = add(cost, b["cs"])
        if cutoff_us is None or created >= cutoff_us:
            tables.session(
                created,
                "st" in data,
                data.get("st"),
                data.get("ag"),
                data.get("h"),
                responses,
                cost,
            )
    if ended is not None:
        _add_ended(tables, ended, cutoff_us, first_whole, boundary, refold)
    return report(tables)


def _add_ended(
    tables: Tables,
    ended: Ended,
    cutoff_us: int | None,
    first_whole: int,
    boundary: str | None,
    refold: Refold | None,
) -> None:
    """The merged hours in the window; the cutoff's own hour from each session that has it,
    folded again from the cutoff. A session created in the window has all its own events
    in it (they come after its creation), so its totals are its agent row's."""
    for (hour, model_key), b in ended.buckets.items():
        if cutoff_us is None or hour >= first_whole or (refold is None and hour == first_whole - 1):
            tables.bucket(tables.model(model_key), b)
    cut = int(boundary) if boundary is not None else None
    for (
        sid,
        created,
        model_key,
        agent,
        hash_,
        has_status,
        status,
        responses,
        cost,
        hours,
    ) in ended.sessions:
        if cut is not None and refold is not None and cut in hours:
            assert cutoff_us is not None
            part = refold(sid, cutoff_us)["b"].get(boundary)
            if part is not None:
                tables.bucket(tables.model(model_key), part)
        if cutoff_us is None or created >= cutoff_us:
            tables.session(created, has_status, status, agent, hash_, responses, cost)


def _window(
    sid: str,
    data: dict[str, Any],
    cutoff_us: int | None,
    first_whole: int,
    boundary: str | None,
    refold: Refold | None,
) -> tuple[dict[str, Any], Iterable[dict[str, Any]]]:
    """The session's data and its hours in the window (refolded if it has the cutoff's hour)."""
    buckets: dict[str, Any] = data["b"]
    if cutoff_us is None:
        return data, buckets.values()
    if boundary is not None and boundary in buckets:
        if refold is not None:
            data = refold(sid, cutoff_us)
            return data, data["b"].values()
        return data, [b for h, b in buckets.items() if int(h) >= first_whole - 1]
    return data, [b for h, b in buckets.items() if int(h) >= first_whole]
