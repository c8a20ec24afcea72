"""One session's share of `agentctl stats`, folded event by event (`StatsFold`).

`apply_event` feeds every event of a session to its state's `StatsFold`; the
fold keeps, per hour of the event's `ts` (a `bucket`), what the stats SQL
adds up of the session's own events (those after a fork's copied prefix):

- counts and sums (events, responses, tokens, cost, requests, retries, ...);
- the values quantiles need, whole (latencies, tool durations, approval
  waits), so p50/p95/p99 are exact, not sketched;
- a tool run under the hour of its `tool.started` (the SQL keeps a run only
  when its start is in the window), an approval under its request's hour,
  pending ones with their request time (their wait runs to `now`).

One handler per event type (`_OWN`) reads the fields the SQL reads, with its
casts (`values`). `StatsFold.data` is plain JSON: an ended session's
snapshot carries it as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from agentctl.observe.projection.values import (
    HOUR_US,
    NULL_TOOL,
    add,
    bigint,
    boolean,
    double,
    get,
    interval_ms,
    text,
    to_us,
)


class _Event(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


def new_bucket() -> dict[str, Any]:
    """An hour's figures of a session (keys kept short: a snapshot holds them as JSON)."""
    return {
        "n": 0,  # own events
        "r": 0,  # model.responded
        "it": None,  # sum of input tokens (None: no value, SQL's NULL)
        "ot": None,
        "cs": None,  # sum of cost_usd
        "lat": [],  # latency_ms of each response that has one
        "tc": 0,  # tool.started
        "ap": 0,  # approval.requested
        "mf": 0,  # model.failed
        "rf": 0,  # ... retryable
        "rq": 0,  # model.requested
        "rt": 0,  # ... with attempt > 1
        "ask": {},  # tool -> [proposed, cost share sum | None]
        "run": {},  # tool -> [calls, failed, [duration_ms, ...]]
        "dec": [],  # [decision, wait in ms] of decided approvals
        "pend": [],  # [approval id, request ts in us] of pending ones
    }


class StatsFold:
    """One session's share of `agentctl stats`; `data` is its JSON (what a snapshot keeps).

    `cutoff_us` leaves out events before it (a fold for one `--since` window).
    """

    __slots__ = ("_asked", "_open", "cutoff_us", "data")

    def __init__(self, cutoff_us: int | None = None) -> None:
        self.cutoff_us = cutoff_us
        self.data: dict[str, Any] = {"b": {}}
        # the latest own tool.started per call id: (tool, hour); approval id -> its pend entry
        self._open: dict[str, tuple[str | None, str]] = {}
        self._asked: dict[str, tuple[str, list[Any]]] = {}

    def __eq__(self, other: object) -> bool:  # a SessionState compares its fold too
        if not isinstance(other, StatsFold):
            return NotImplemented
        return (self.cutoff_us, self.data, self._open, self._asked) == (
            other.cutoff_us,
            other.data,
            other._open,
            other._asked,
        )

    __hash__ = None  # type: ignore[assignment]

    def apply(self, event: _Event) -> None:
        """Fold the session's next event (the created and status ones set its row)."""
        data = self.data
        etype = event.type
        body = event.data
        if etype == "session.created":
            if "c" not in data:  # one row per session
                data["c"] = to_us(event.ts)
                data["m"] = text(body.get("model"))
                data["ag"] = text(get(body, "agent", "name"))
                data["h"] = text(get(body, "agent", "hash"))
                data["inh"] = bigint(get(body, "parent", "seq"))
        elif etype == "session.status":
            data["st"] = text(body.get("status"))
        if "c" not in data:
            return  # not a session's events: none are its own
        inherited = data["inh"]
        if inherited is not None and event.seq <= inherited:
            return
        ts = to_us(event.ts)
        if self.cutoff_us is not None and ts < self.cutoff_us:
            return
        hour = str(ts // HOUR_US)
        bucket = data["b"].get(hour)
        if bucket is None:
            bucket = data["b"][hour] = new_bucket()
        bucket["n"] += 1
        handler = _OWN.get(etype)
        if handler is not None:
            handler(self, bucket, body, hour, ts)


_Own = Callable[[StatsFold, dict[str, Any], dict[str, Any], str, int], None]


def _responded(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    bucket["r"] += 1
    usage = body.get("usage")
    bucket["it"] = add(bucket["it"], bigint(get(usage, "input_tokens")))
    bucket["ot"] = add(bucket["ot"], bigint(get(usage, "output_tokens")))
    cost = double(body.get("cost_usd"))
    bucket["cs"] = add(bucket["cs"], cost)
    latency = double(body.get("latency_ms"))
    if latency is not None:
        bucket["lat"].append(latency)
    calls = body.get("tool_calls")
    if isinstance(calls, list) and calls:
        share = cost / len(calls) if cost is not None else None
        for call in calls:
            name = text(get(call, "name"))
            asked = bucket["ask"].setdefault(NULL_TOOL if name is None else name, [0, None])
            asked[0] += 1
            asked[1] = add(asked[1], share)


def _requested(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    bucket["rq"] += 1
    attempt = bigint(body.get("attempt"))
    if attempt is not None and attempt > 1:
        bucket["rt"] += 1


def _failed(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    bucket["mf"] += 1
    if boolean(text(body.get("retryable"))):
        bucket["rf"] += 1


def _started(
    fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], hour: str, ts: int
) -> None:
    bucket["tc"] += 1
    call_id = text(body.get("call_id"))
    if call_id is not None:
        fold._open[call_id] = (text(body.get("name")), hour)


def _finished(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    """A run: matched to the latest own start of its call (SQL's ASOF JOIN), under its hour."""
    call_id = text(body.get("call_id"))
    started = fold._open.get(call_id) if call_id is not None else None
    if started is None:
        return
    tool, at = started
    runs = fold.data["b"][at]["run"]
    run = runs.setdefault(NULL_TOOL if tool is None else tool, [0, 0, []])
    failed = (
        text(body.get("error")) is not None
        or bool(boolean(text(body.get("timed_out"))))
        or bigint(body.get("exit_code")) != 0
    )
    run[0] += 1
    run[1] += 1 if failed else 0
    duration = double(body.get("duration_ms"))
    if duration is not None:
        run[2].append(duration)


def _approval_asked(
    fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], hour: str, ts: int
) -> None:
    bucket["ap"] += 1
    approval_id = text(body.get("approval_id"))
    if approval_id is not None:
        entry = [approval_id, ts]
        bucket["pend"].append(entry)
        fold._asked[approval_id] = (hour, entry)


def _decided(
    fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], hour: str, ts: int
) -> None:
    """The wait of an own request, under the request's hour (SQL's LEFT JOIN of the two)."""
    approval_id = text(body.get("approval_id"))
    asked = fold._asked.pop(approval_id, None) if approval_id is not None else None
    if asked is None:
        return
    at, entry = asked
    requested = fold.data["b"][at]
    requested["pend"].remove(entry)
    decision = text(body.get("decision"))
    requested["dec"].append(
        ["pending" if decision is None else decision, interval_ms(ts - entry[1])]
    )


_OWN: dict[str, _Own] = {
    "model.responded": _responded,
    "model.requested": _requested,
    "model.failed": _failed,
    "tool.started": _started,
    "tool.finished": _finished,
    "approval.requested": _approval_asked,
    "approval.decided": _decided,
}


def fold_stats(events: Iterable[_Event], cutoff_us: int | None = None) -> dict[str, Any]:
    """A session's `StatsFold.data` from its events (from `cutoff_us` on, if given)."""
    fold = StatsFold(cutoff_us)
    for event in events:
        fold.apply(event)
    return fold.data
