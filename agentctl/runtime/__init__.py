"""The durable runtime: sessions as actors over the event log (docs/design.md §4).

The package's names load on first use (PEP 562), so that importing one of its
modules (agentctl.runtime.replies, say) does not import the whole runtime: the
MCP hub imports such a module, and the runtime imports the hub.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentctl.runtime.decide import next_action
    from agentctl.runtime.runtime import Runtime
    from agentctl.runtime.summary import summarize

__all__ = ["Runtime", "next_action", "summarize"]

_WHERE = {
    "Runtime": "agentctl.runtime.runtime",
    "next_action": "agentctl.runtime.decide",
    "summarize": "agentctl.runtime.summary",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
