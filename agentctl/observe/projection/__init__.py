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

The modules: `fold` (the fold, one handler per event type), `ended` (the
merge of ended sessions), `report` (the window and the report's assembly),
`tables` (the rows of each table), `values` (the SQL's casts, clock,
rounding and percentiles).

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

from agentctl.observe.projection.ended import Ended
from agentctl.observe.projection.fold import StatsFold, fold_stats
from agentctl.observe.projection.report import Refold, cutoff_hour, project_stats
from agentctl.observe.projection.values import HOUR_US, quantile_cont, sql_round, to_us

__all__ = [
    "HOUR_US",
    "Ended",
    "Refold",
    "StatsFold",
    "cutoff_hour",
    "fold_stats",
    "project_stats",
    "quantile_cont",
    "sql_round",
    "to_us",
]
