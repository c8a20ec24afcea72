"""The durable runtime: sessions as actors over the event log (docs/design.md §4)."""

from agentctl.runtime.runtime import Runtime, summarize
from agentctl.runtime.steps import next_action

__all__ = ["Runtime", "next_action", "summarize"]
