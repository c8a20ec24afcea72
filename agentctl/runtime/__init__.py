"""The durable runtime: sessions as actors over the event log (docs/design.md §4)."""

from agentctl.runtime.decide import next_action
from agentctl.runtime.runtime import Runtime
from agentctl.runtime.summary import summarize

__all__ = ["Runtime", "next_action", "summarize"]
