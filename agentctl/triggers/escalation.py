"""An approval's SLA and escalation chain (policy `escalate`).

An `ask` rule's `timeout` is the first deadline; each step of its `escalate`
list names the next approvers and how long they have. When a deadline passes
and a step is left, the approval moves on (`approval.escalated`: the step, the
approvers, the new deadline) and stays pending; after the last step it expires
with the rule's `on_expiry`, as an approval without a chain does. Deadlines
are in the log, so a chain goes on across restarts: a daemon that was down
past a deadline escalates at once when it starts, and from then on the new
deadline counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from agentctl.protocol import ApprovalEscalated
from agentctl.state import ApprovalState


def escalation_for(approval: ApprovalState, now: datetime) -> ApprovalEscalated | None:
    """The next escalation of an approval whose deadline passed, or None (it expires)."""
    if approval.escalation_step >= len(approval.escalation):
        return None
    step = approval.escalation[approval.escalation_step]
    before = ", ".join(approval.approvers) or "anyone"
    return ApprovalEscalated(
        approval_id=approval.approval_id,
        step=approval.escalation_step + 1,
        approvers=list(step["approvers"]),
        expires_at=now + timedelta(seconds=float(step["timeout_s"])),
        reason=f"no decision by {before} before {approval.expires_at:%Y-%m-%d %H:%M:%S}Z",
    )


__all__ = ["escalation_for"]
