"""Observability and operations: where a session's time went, aggregates, SQL, export, retention.

Everything here is computed from the event log, in the daemon:

- `trace`: a session's waterfall, every interval between two events put in
  one category, so the categories add up to the session's wall time;
- `stats`: aggregates from a projection the folds keep (`projection`), tested
  against DuckDB SQL over the log (`stats.compute_stats`);
- `export`: JSONL envelopes or Parquet (DuckDB's COPY) of a session or all;
- `otel`: OpenTelemetry spans (GenAI conventions) built from a session's
  events when it ends; optional, the SDK is an extra;
- `retention`: removes the checkpoint images and artifacts of old ended
  sessions, never an event;
- `routes`: their HTTP handlers, mounted by `agentctl.daemon.routes`.

The CLI side (`agentctl.cli.observe`, `render`) only talks to the client.
"""
