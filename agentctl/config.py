"""`config.toml`: named model endpoints, prices, default budgets and guards.

One pydantic model per section, each documented in docs/providers.md. The
daemon reads the file when it needs a value (a new session, a provider made
after a restart), so an edit takes effect for the next session without a
restart. Unknown keys are refused with the key's name: a typo in a budget
must not silently remove the budget.

```toml
[providers.local]                  # --model local:smol
base_url = "http://127.0.0.1:8080/v1"
api_key_name = "local"             # `agentctl keys set local`; LOCAL_API_KEY overrides
tool_choice = "auto"               # auto | required | none

[prices]                           # USD per million tokens: [input, output]
"local:smol" = [0, 0]

[budget]                           # defaults for sessions that set none
max_steps = 50

[guards]
repeat_limit = 5                   # the same call N times in a row: refused, then paused

[tui]
bell = true                        # ring the terminal bell when an approval is requested
```
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentctl.errors import UsageError

ToolChoice = Literal["auto", "required", "none"]
ProviderKind = Literal["openai", "anthropic"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointConfig(_Section):
    """One `[providers.NAME]` table: where a model spec `NAME:MODEL` is sent, and how."""

    kind: ProviderKind = "openai"
    base_url: str | None = None
    api_key_name: str | None = None  # a key name for `agentctl keys`; its env var overrides
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = None  # the whole request, streamed or not
    connect_timeout_s: float | None = None
    read_timeout_s: float | None = None  # the longest silence between two chunks
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None  # sent only when set
    stream: bool | None = None
    stream_tools: bool | None = None  # stream requests that offer tools (default: as `stream`)
    text_tool_calls: bool | None = None  # parse tool calls the model wrote as text
    max_tokens: int | None = Field(default=None, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)  # extra request-body fields

    @field_validator("timeout_s", "connect_timeout_s", "read_timeout_s")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise ValueError("must be a positive number of seconds")
        return value


class BudgetDefaults(_Section):
    max_steps: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_wall_s: float | None = Field(default=None, gt=0)


class Guards(_Section):
    repeat_limit: int = Field(default=5, ge=0)  # 0 turns the loop guard off


class TuiConfig(_Section):
    """`[tui]`: how `agentctl tui` behaves."""

    bell: bool = True  # ring the terminal bell when an approval is requested


class Config(_Section):
    providers: dict[str, EndpointConfig] = Field(default_factory=dict)
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    budget: BudgetDefaults = Field(default_factory=BudgetDefaults)
    guards: Guards = Field(default_factory=Guards)
    tui: TuiConfig = Field(default_factory=TuiConfig)


# Sections other modules own (`[daemon]`, `[otel]`) are theirs to check.
_OWN = ("providers", "prices", "budget", "guards", "tui")


def load_config(path: Path) -> Config:
    """The configuration in `path`; defaults when there is no file."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return Config()
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None
    try:
        return Config.model_validate({k: v for k, v in raw.items() if k in _OWN})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(
            f"{path}: {where}: {first['msg']}", hint="see docs/providers.md for every option"
        ) from None


__all__ = [
    "BudgetDefaults",
    "Config",
    "EndpointConfig",
    "Guards",
    "ProviderKind",
    "ToolChoice",
    "TuiConfig",
    "load_config",
]
