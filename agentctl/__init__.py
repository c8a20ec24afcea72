"""agentctl: a durable runtime for AI agents on one machine.

The public names a plugin or a program using agentctl needs, imported when
first used (so `agentctl --help` does not pay for them):

- `tool`, `Tool`, `ToolContext`, `ToolOutcome`: tools (`docs/extending.md`);
- `Provider`, `ModelResponse`, `Message`, `ToolCall`, `ToolSpec`, `Usage`,
  `Delta`, `ProviderError`: model providers;
- `Client`: the daemon's client; `AgentctlError` and its family.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # as typing's, without importing typing (`agentctl --help` needs none)

__version__ = "0.1.0"

_PUBLIC = {
    "tool": "agentctl.plugins",
    "Tool": "agentctl.tools",
    "ToolContext": "agentctl.tools",
    "ToolOutcome": "agentctl.tools",
    "Provider": "agentctl.providers.base",
    "ModelResponse": "agentctl.providers.base",
    "Message": "agentctl.providers.base",
    "ToolCall": "agentctl.providers.base",
    "ToolSpec": "agentctl.providers.base",
    "Usage": "agentctl.providers.base",
    "Delta": "agentctl.providers.base",
    "ProviderError": "agentctl.errors",
    "AgentctlError": "agentctl.errors",
    "Client": "agentctl.client",
}

__all__ = [
    "AgentctlError",
    "Client",
    "Delta",
    "Message",
    "ModelResponse",
    "Provider",
    "ProviderError",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolOutcome",
    "ToolSpec",
    "Usage",
    "__version__",
    "tool",
]

if TYPE_CHECKING:
    from typing import Any

    from agentctl.client import Client
    from agentctl.errors import AgentctlError, ProviderError
    from agentctl.plugins import tool
    from agentctl.providers.base import (
        Delta,
        Message,
        ModelResponse,
        Provider,
        ToolCall,
        ToolSpec,
        Usage,
    )
    from agentctl.tools import Tool, ToolContext, ToolOutcome


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'agentctl' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
