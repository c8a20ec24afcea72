"""A session's summary, and the snapshot the log keeps of an ended one.

`summarize` is the one view `agentctl ls` and `show` print. An ended session
is not folded at start-up: the journal writes its snapshot (`snapshot_of`) in
the transaction of each append that leaves it ended, and at start reads those
back instead of its events (see `Journal.load`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from agentctl.protocol import DelegatedBy, ParentRef, SessionStatus, SessionSummary
from agentctl.state import SessionState

# 2: the summary is kept as its JSON text, parsed when a client asks for it (at
# start-up, 10,000 ended sessions' snapshots are read, and each summary nested as
# an object cost the parse and the memory of a dict).
# 3: it carries the session's share of `agentctl stats` (`STATS_KEY`: StatsFold.data
# as JSON text). Start-up reads the snapshots without it, and the first `stats`
# reads only it (`Journal.load`, `observe.stats.read_ended`), so the daemon does not
# hold it from start. Versions 1 and 2 carry none: such a session is folded at
# start and its snapshot written again.
SNAPSHOT_VERSION = 3
SNAPSHOT_VERSIONS = frozenset({SNAPSHOT_VERSION})  # what start-up takes as it is
STATS_KEY = "stats"


def summarize(state: SessionState) -> SessionSummary:
    created = state.created
    parent = created.get("parent")
    delegated_by = created.get("delegated_by")
    return SessionSummary(
        id=state.session_id,
        status=state.status or SessionStatus.RUNNING,
        reason=state.reason,
        task=created.get("task", ""),
        model=created.get("model", ""),
        created_at=state.created_at or datetime.now(UTC),
        updated_at=state.updated_at or datetime.now(UTC),
        steps=state.steps,
        input_tokens=state.input_tokens,
        output_tokens=state.output_tokens,
        cost_usd=round(state.cost_usd, 6),
        cost_known=not state.cost_unknown,
        pending_approvals=len(state.pending_approvals),
        parent=ParentRef.model_validate(parent) if parent else None,
        last_seq=state.last_seq,
        labels=created.get("labels") or {},
        container=state.container,
        agent=(created.get("agent") or {}).get("name"),
        agent_hash=(created.get("agent") or {}).get("hash"),
        delegated_by=DelegatedBy.model_validate(delegated_by) if delegated_by else None,
        children=state.delegation.children,
        children_steps=state.delegation.steps,
        children_cost_usd=round(state.delegation.cost_usd, 6),
    )


def snapshot_of(state: SessionState) -> dict[str, Any]:
    """What start-up needs of a session without folding it: its summary (as JSON text),
    its ids and its stats projection (JSON text)."""
    created = state.created
    sandbox = created.get("sandbox") or {}
    return {
        "v": SNAPSHOT_VERSION,
        "ended": state.status is not None and state.status.ended,
        "summary": summarize(state).model_dump_json() if created else None,
        "request_id": created.get("request_id"),
        "approval_ids": list(state.approvals),
        "sandbox_image": bool(sandbox.get("image")),
        "workspace_archive": sandbox.get("workspace_archive"),
        STATS_KEY: json.dumps(state.stats.data, separators=(",", ":")),
    }


def snapshot_summary(data: dict[str, Any]) -> SessionSummary | None:
    """The summary a snapshot holds: JSON text (version 2) or an object (version 1)."""
    summary = data.get("summary")
    if not summary:
        return None
    if isinstance(summary, str):
        return SessionSummary.model_validate_json(summary)
    return SessionSummary.model_validate(summary)
