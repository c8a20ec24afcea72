"""What the report's tables add up (`Tables`), and the tables themselves (`report`).

`Tables` takes buckets (an hour of a session, or of the ended sessions of one
model) and sessions created in the window; `report` turns its sums into the
rows of a `StatsReport`, rounded, ordered and with the percentiles the SQL
computes (`values.quantile_cont`, `values.sql_round`).
"""

from __future__ import annotations

from typing import Any

from agentctl.observe.projection.values import (
    NULL_TOOL,
    add,
    from_us,
    interval_ms,
    nulls_last,
    quantile_cont,
    sql_round,
)


class _Model:
    """One model's sums: responses, tokens, cost, latencies, requests and failures."""

    __slots__ = ("cs", "it", "lat", "mf", "ot", "r", "rf", "rq", "rt")

    def __init__(self) -> None:
        self.r = 0
        self.it: int | None = None
        self.ot: int | None = None
        self.cs: float | None = None
        self.lat: list[float] = []
        self.rq = self.rt = self.mf = self.rf = 0


class Tables:
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
        model.it = add(model.it, b["it"])
        model.ot = add(model.ot, b["ot"])
        model.cs = add(model.cs, b["cs"])
        model.lat.extend(b["lat"])
        model.mf += b["mf"]
        model.rf += b["rf"]
        model.rq += b["rq"]
        model.rt += b["rt"]
        for tool, (count, share) in b["ask"].items():
            into = self.asked.setdefault(tool, [0, None])
            into[0] += count
            into[1] = add(into[1], share)
        for tool, (calls, failed, durations) in b["run"].items():
            into = self.runs.setdefault(tool, [0, 0, []])
            into[0] += calls
            into[1] += failed
            into[2].extend(durations)
        for decision, wait_ms in b["dec"]:
            self.waits.setdefault(decision, []).append(wait_ms / 1000.0)
        for _, requested in b["pend"]:
            self.waits.setdefault("pending", []).append(
                interval_ms(self.now_us - requested) / 1000.0
            )

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
            row[2] = add(row[2], cost)
            row[3] = min(row[3], created)


def report(tables: Tables) -> dict[str, Any]:
    """The tables of a StatsReport (its keyword arguments but since, since_ts, generated_at)."""
    totals = tables.totals
    r = mf = 0
    it = ot = None
    cs: float | None = None
    for model in tables.models.values():
        r += model.r
        it = add(it, model.it)
        ot = add(ot, model.ot)
        cs = add(cs, model.cs)
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
                tables.statuses.items(), key=lambda kv: (-kv[1], *nulls_last(kv[0]))
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
                "first_seen": from_us(first),
            }
            for (agent, hash_), (count, responses, cost, first) in sorted(
                tables.agents.items(), key=lambda kv: (kv[1][3], kv[0][0], kv[0][1][:19])
            )
        ],
    }


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
        key=lambda r: (r["cost_usd"] is None, -(r["cost_usd"] or 0.0), *nulls_last(r["model"]))
    )
    return rows


def _tools(asked: dict[str, list[Any]], runs: dict[str, list[Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in {**runs, **asked}:
        proposed, cost = asked.get(key, (0, None))
        calls, failed, durations = runs.get(key, (0, 0, []))
        rows.append(
            {
                "tool": None if key == NULL_TOOL else key,
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
    rows.sort(key=lambda r: (-r["calls"], *nulls_last(r["tool"])))
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
    rows.sort(key=lambda r: (-r["requests"], *nulls_last(r["provider"])))
    return rows
