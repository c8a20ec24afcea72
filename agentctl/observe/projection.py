"""`agentctl stats` from a projection kept as events are folded, not from a scan of the log.

Every `SessionState` carries a `StatsFold` (`apply_event` feeds it each event),
so the journal's folds keep it current with each append, and the snapshot an
ended session gets in its append's transaction carries its JSON (`data`), so
start-up does not fold history for it. A crash between an append and anything
else cannot skew it: a snapshot commits with the events it covers, and a
session without a current snapshot is folded from its events at start.

The figures are the ones the SQL of `agentctl.observe.stats` computes (that
SQL stays the reference: the tests compare both on varied logs). What a
session made itself (its `own` events: after a fork's copied prefix) is kept
per hour of the event's `ts`:

- counts and sums (events, responses, tokens, cost, requests, retries, ...);
- the values quantiles need, whole (latencies, tool durations, approval
  waits), so p50/p95/p99 are exact, not sketched;
- a tool run under the hour of its `tool.started` (the SQL keeps a run only
  when its start is in the window), an approval under its request's hour,
  pending ones with their request time (their wait runs to `now`).

The ended (dormant) sessions' projections are merged once per (hour, model)
(`Ended`), each session keeping only what the per-session tables need.

`--since D` takes the hours after the cutoff's hour whole. A session with
events in the cutoff's own hour is folded again from its events, with the
exact cutoff (`project_stats`'s `refold`), and that hour taken from it: only
those sessions are read.

Sums of doubles (cost, mean latency, a tool's total time) add the same values
as the SQL, in another order: equal to a float's rounding, so after `round`
one can differ by one unit in its last digit when the sum sits on a tie.
Counts, token sums and quantiles are equal to the bit.

Assumed, as the runtime writes the log: a session's `ts` does not go back
(one clock stamps its appends) and an approval is decided in the session
that requested it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Protocol

HOUR_US = 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_NULL_TOOL = "\x00"  # a JSON key for a tool without a name (SQL's NULL group)


class _Event(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


def to_us(ts: datetime) -> int:
    """Microseconds since the epoch (a naive `ts` is UTC, as the log's column)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    """Naive UTC, as DuckDB returns a TIMESTAMP."""
    return (_EPOCH + timedelta(microseconds=us)).replace(tzinfo=None)


# --- SQL's casts of a JSON value read with ->> ---------------------------------------------


def _bigint(value: Any) -> int | None:
    """TRY_CAST(x->>'$.f' AS BIGINT): ints, numeric text, a float rounded half away from 0."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return None


def _double(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def _text(value: Any) -> str | None:
    """x->>'$.f': a string as it is; anything else but null as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    import json

    return json.dumps(value, separators=(",", ":"))


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


# --- the fold ----------------------------------------------------------------------------


def _bucket() -> dict[str, Any]:
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


def _add(total: Any, value: Any) -> Any:
    if value is None:
        return total
    return value if total is None else total + value


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
        data = self.data
        etype = event.type
        body = event.data
        if etype == "session.created":
            if "c" not in data:  # one row per session
                data["c"] = to_us(event.ts)
                data["m"] = _text(body.get("model"))
                data["ag"] = _text(_get(body, "agent", "name"))
                data["h"] = _text(_get(body, "agent", "hash"))
                data["inh"] = _bigint(_get(body, "parent", "seq"))
        elif etype == "session.status":
            data["st"] = _text(body.get("status"))
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
            bucket = data["b"][hour] = _bucket()
        bucket["n"] += 1
        handler = _OWN.get(etype)
        if handler is not None:
            handler(self, bucket, body, hour, ts)


_Own = Callable[[StatsFold, dict[str, Any], dict[str, Any], str, int], None]


def _responded(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    bucket["r"] += 1
    usage = body.get("usage")
    bucket["it"] = _add(bucket["it"], _bigint(_get(usage, "input_tokens")))
    bucket["ot"] = _add(bucket["ot"], _bigint(_get(usage, "output_tokens")))
    cost = _double(body.get("cost_usd"))
    bucket["cs"] = _add(bucket["cs"], cost)
    latency = _double(body.get("latency_ms"))
    if latency is not None:
        bucket["lat"].append(latency)
    calls = body.get("tool_calls")
    if isinstance(calls, list) and calls:
        share = cost / len(calls) if cost is not None else None
        for call in calls:
            name = _text(_get(call, "name"))
            asked = bucket["ask"].setdefault(_NULL_TOOL if name is None else name, [0, None])
            asked[0] += 1
            asked[1] = _add(asked[1], share)


def _requested(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    bucket["rq"] += 1
    attempt = _bigint(body.get("attempt"))
    if attempt is not None and attempt > 1:
        bucket["rt"] += 1


def _failed(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    bucket["mf"] += 1
    if _boolean(_text(body.get("retryable"))):
        bucket["rf"] += 1


def _started(
    fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], hour: str, ts: int
) -> None:
    bucket["tc"] += 1
    call_id = _text(body.get("call_id"))
    if call_id is not None:
        fold._open[call_id] = (_text(body.get("name")), hour)


def _finished(fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], *_: Any) -> None:
    """A run: matched to the latest own start of its call (SQL's ASOF JOIN), under its hour."""
    call_id = _text(body.get("call_id"))
    started = fold._open.get(call_id) if call_id is not None else None
    if started is None:
        return
    tool, at = started
    runs = fold.data["b"][at]["run"]
    run = runs.setdefault(_NULL_TOOL if tool is None else tool, [0, 0, []])
    failed = (
        _text(body.get("error")) is not None
        or bool(_boolean(_text(body.get("timed_out"))))
        or _bigint(body.get("exit_code")) != 0
    )
    run[0] += 1
    run[1] += 1 if failed else 0
    duration = _double(body.get("duration_ms"))
    if duration is not None:
        run[2].append(duration)


def _approval_asked(
    fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], hour: str, ts: int
) -> None:
    bucket["ap"] += 1
    approval_id = _text(body.get("approval_id"))
    if approval_id is not None:
        entry = [approval_id, ts]
        bucket["pend"].append(entry)
        fold._asked[approval_id] = (hour, entry)


def _decided(
    fold: StatsFold, bucket: dict[str, Any], body: dict[str, Any], hour: str, ts: int
) -> None:
    """The wait of an own request, under the request's hour (SQL's LEFT JOIN of the two)."""
    approval_id = _text(body.get("approval_id"))
    asked = fold._asked.pop(approval_id, None) if approval_id is not None else None
    if asked is None:
        return
    at, entry = asked
    requested = fold.data["b"][at]
    requested["pend"].remove(entry)
    decision = _text(body.get("decision"))
    requested["dec"].append(["pending" if decision is None else decision, _ms(ts - entry[1])])


_OWN: dict[str, _Own] = {
    "model.responded": _responded,
    "model.requested": _requested,
    "model.failed": _failed,
    "tool.started": _started,
    "tool.finished": _finished,
    "approval.requested": _approval_asked,
    "approval.decided": _decided,
}


def _ms(us: int) -> int:
    """epoch_ms of an interval: whole milliseconds, toward zero."""
    return us // 1000 if us >= 0 else -((-us) // 1000)


def fold_stats(events: Iterable[_Event], cutoff_us: int | None = None) -> dict[str, Any]:
    fold = StatsFold(cutoff_us)
    for event in events:
        fold.apply(event)
    return fold.data


# --- the report ----------------------------------------------------------------------------


def sql_round(value: float | None, digits: int) -> float | None:
    """DuckDB's round of a DOUBLE: the exact binary value, ties away from zero."""
    if value is None or not math.isfinite(value):
        return value
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


def quantile_cont(values: list[float], q: float) -> float | None:
    """DuckDB's quantile_cont: linear between the two nearest ranks; sorts `values`.

    To the last bit: DuckDB's build computes `lo * (1 - d) + hi * d` with a fused
    multiply-add (hi * d rounded, then one rounding); so does this, in fractions.
    """
    if not values:
        return None
    values.sort()
    pos = (len(values) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return values[lo]
    d = pos - lo
    return float(Fraction(values[lo]) * Fraction(1.0 - d) + Fraction(values[hi] * d))


def _nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


class _Model:
    __slots__ = ("cs", "it", "lat", "mf", "ot", "r", "rf", "rq", "rt")

    def __init__(self) -> None:
        self.r = 0
        self.it: int | None = None
        self.ot: int | None = None
        self.cs: float | None = None
        self.lat: list[float] = []
        self.rq = self.rt = self.mf = self.rf = 0


Refold = Callable[[str, int], dict[str, Any]]


def cutoff_hour(cutoff: datetime | None) -> str | None:
    """The hour key a cutoff cuts (None: no cutoff, or one on the hour: no hour is cut)."""
    if cutoff is None:
        return None
    cutoff_us = to_us(cutoff)
    return str(cutoff_us // HOUR_US) if cutoff_us % HOUR_US else None


class Ended:
    """The ended sessions' projections merged, parsed once from their snapshots' JSON.

    Their buckets are summed per (hour, model) — what the tables need of them —
    and each session keeps only what `--since` and the per-session tables ask:
    when it began, its model, agent, status, totals and which hours it has. So
    memory follows the hours and values, not one dict per session.
    """

    __slots__ = ("buckets", "sessions")

    def __init__(self) -> None:
        self.buckets: dict[tuple[int, str | None], dict[str, Any]] = {}
        self.sessions: list[tuple[Any, ...]] = []

    def add(self, sid: str, data: dict[str, Any]) -> None:
        created = data.get("c")
        if created is None:
            return
        model = data.get("m")
        responses = 0
        cost: float | None = None
        hours = []
        for hour, bucket in data["b"].items():
            responses += bucket["r"]
            cost = _add(cost, bucket["cs"])
            hours.append(int(hour))
            key = (int(hour), model)
            into = self.buckets.get(key)
            if into is None:
                into = self.buckets[key] = _bucket()
                into["lat"] = array("d")
            _merge(into, bucket)
        agent, hash_ = data.get("ag"), data.get("h")
        status = ("st" in data, data.get("st"))
        self.sessions.append(
            (sid, created, model, agent, hash_, *status, responses, cost, frozenset(hours))
        )


def _merge(into: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("n", "r", "tc", "ap", "mf", "rf", "rq", "rt"):
        into[key] += b[key]
    for key in ("it", "ot", "cs"):
        into[key] = _add(into[key], b[key])
    into["lat"].extend(b["lat"])
    for tool, (count, share) in b["ask"].items():
        asked = into["ask"].setdefault(tool, [0, None])
        asked[0] += count
        asked[1] = _add(asked[1], share)
    for tool, (calls, failed, durations) in b["run"].items():
        run = into["run"].setdefault(tool, [0, 0, array("d")])
        run[0] += calls
        run[1] += failed
        run[2].extend(durations)
    into["dec"].extend(b["dec"])
    into["pend"].extend(b["pend"])


class _Tables:
    """What the report's tables add up, bucket by bucket and session by session."""

    def __init__(self, now_us: int) -> None:
        self.now_us = now_us
        self.totals: dict[str, Any] = {"sessions": 0, "events": 0, "tc": 0, "ap": 0}
        self.statuses: dict[str | None, int] = {}
        self.models: dict[str | None, _Model] = {}
        self.asked: dict[str, list[Any]] = {}
        self.runs: dict[str, list[Any]] = {}
        self.waits: dict[str, list[float]] = {}
        self.agents: dict[tuple[str, str], list[Any]] = {}

    def model(self, key: str | None) -> _Model:
        model = self.models.get(key)
        if model is None:
            model = self.models[key] = _Model()
        return model

    def bucket(self, model: _Model, b: dict[str, Any]) -> None:
        totals = self.totals
        totals["events"] += b["n"]
        totals["tc"] += b["tc"]
        totals["ap"] += b["ap"]
        model.r += b["r"]
        model.it = _add(model.it, b["it"])
        model.ot = _add(model.ot, b["ot"])
        model.cs = _add(model.cs, b["cs"])
        model.lat.extend(b["lat"])
        model.mf += b["mf"]
        model.rf += b["rf"]
        model.rq += b["rq"]
        model.rt += b["rt"]
        for tool, (count, share) in b["ask"].items():
            into = self.asked.setdefault(tool, [0, None])
            into[0] += count
            into[1] = _add(into[1], share)
        for tool, (calls, failed, durations) in b["run"].items():
            into = self.runs.setdefault(tool, [0, 0, []])
            into[0] += calls
            into[1] += failed
            into[2].extend(durations)
        for decision, wait_ms in b["dec"]:
            self.waits.setdefault(decision, []).append(wait_ms / 1000.0)
        for _, requested in b["pend"]:
            self.waits.setdefault("pending", []).append(_ms(self.now_us - requested) / 1000.0)

    def session(
        self,
        created: int,
        has_status: bool,
        status: Any,
        agent: Any,
        hash_: Any,
        responses: int,
        cost: float | None,
    ) -> None:
        """A session created in the window: its status, and its agent's row."""
        self.totals["sessions"] += 1
        if has_status:
            self.statuses[status] = self.statuses.get(status, 0) + 1
        key = (agent or "-", hash_ or "")
        row = self.agents.get(key)
        if row is None:
            self.agents[key] = [1, responses, cost, created]
        else:
            row[0] += 1
            row[1] += responses
            row[2] = _add(row[2], cost)
            row[3] = min(row[3], created)


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
    tables = _Tables(to_us(now))

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
            cost = _add(cost, b["cs"])
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
    return _report(tables)


def _add_ended(
    tables: _Tables,
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


def _report(tables: _Tables) -> dict[str, Any]:
    totals = tables.totals
    r = mf = 0
    it = ot = None
    cs: float | None = None
    for model in tables.models.values():
        r += model.r
        it = _add(it, model.it)
        ot = _add(ot, model.ot)
        cs = _add(cs, model.cs)
        mf += model.mf
    return {
        "totals": {
            "sessions": totals["sessions"],
            "events": totals["events"],
            "model_responses": r,
            "input_tokens": it or 0,
            "output_tokens": ot or 0,
            "cost_usd": sql_round(cs or 0.0, 6),
            "tool_calls": totals["tc"],
            "approvals": totals["ap"],
            "model_failures": mf,
        },
        "sessions_by_status": [
            {"status": status, "sessions": count}
            for status, count in sorted(
                tables.statuses.items(), key=lambda kv: (-kv[1], *_nulls_last(kv[0]))
            )
        ],
        "models": _models(tables.models),
        "tools": _tools(tables.asked, tables.runs),
        "approvals": _approvals(tables.waits),
        "providers": _providers(tables.models),
        "agents": [
            {
                "agent": agent,
                "hash": hash_[:19],
                "sessions": count,
                "responses": responses,
                "cost_usd": sql_round(cost or 0.0, 6),
                "first_seen": _from_us(first),
            }
            for (agent, hash_), (count, responses, cost, first) in sorted(
                tables.agents.items(), key=lambda kv: (kv[1][3], kv[0][0], kv[0][1][:19])
            )
        ],
    }


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


def _models(models: dict[str | None, _Model]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, m in models.items():
        if not m.r:
            continue
        latencies = m.lat
        rows.append(
            {
                "model": name,
                "responses": m.r,
                "input_tokens": m.it,
                "output_tokens": m.ot,
                "cost_usd": sql_round(m.cs, 6),
                "latency_ms_avg": sql_round(sum(latencies) / len(latencies), 1)
                if latencies
                else None,
                "latency_ms_p95": sql_round(quantile_cont(latencies, 0.95), 1),
            }
        )
    rows.sort(
        key=lambda r: (r["cost_usd"] is None, -(r["cost_usd"] or 0.0), *_nulls_last(r["model"]))
    )
    return rows


def _tools(asked: dict[str, list[Any]], runs: dict[str, list[Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in {**runs, **asked}:
        proposed, cost = asked.get(key, (0, None))
        calls, failed, durations = runs.get(key, (0, 0, []))
        rows.append(
            {
                "tool": None if key == _NULL_TOOL else key,
                "proposed": proposed,
                "calls": calls,
                "failed": failed,
                "failure_rate": sql_round(failed / calls if calls else 0.0, 4),
                "total_s": sql_round(sum(durations) / 1000 if durations else 0.0, 3),
                "p50_ms": sql_round(quantile_cont(durations, 0.5), 1),
                "p95_ms": sql_round(quantile_cont(durations, 0.95), 1),
                "cost_usd": sql_round(cost or 0.0, 6),
            }
        )
    rows.sort(key=lambda r: (-r["calls"], *_nulls_last(r["tool"])))
    return rows


def _approvals(waits: dict[str, list[float]]) -> list[dict[str, Any]]:
    def row(decision: str, values: list[float]) -> dict[str, Any]:
        return {
            "decision": decision,
            "approvals": len(values),
            "p50_s": sql_round(quantile_cont(values, 0.5), 3),
            "p90_s": sql_round(quantile_cont(values, 0.9), 3),
            "p99_s": sql_round(quantile_cont(values, 0.99), 3),
            "max_s": sql_round(max(values), 3),
        }

    rows = [row(d, list(v)) for d, v in waits.items() if v]
    rows.sort(key=lambda r: (-r["approvals"], r["decision"]))
    everything = [w for v in waits.values() for w in v]
    if everything:
        rows.append(row("all", everything))
    return rows


def _providers(models: dict[str | None, _Model]) -> list[dict[str, Any]]:
    merged: dict[str | None, list[int]] = {}
    for name, m in models.items():
        if not (m.rq or m.mf):
            continue
        key = name.split(":", 1)[0] if name is not None else None
        into = merged.setdefault(key, [0, 0, 0, 0])
        into[0] += m.rq
        into[1] += m.rt
        into[2] += m.mf
        into[3] += m.rf
    rows: list[dict[str, Any]] = [
        {
            "provider": provider,
            "requests": requests,
            "retries": retries,
            "failures": failures,
            "retryable_failures": retryable,
            "retry_rate": sql_round(retries / requests, 4) if requests else None,
        }
        for provider, (requests, retries, failures, retryable) in merged.items()
    ]
    rows.sort(key=lambda r: (-r["requests"], *_nulls_last(r["provider"])))
    return rows
