"""`config.toml`: one settings model for the whole file, read by one function.

One pydantic model per section, each documented where its feature is
(docs/providers.md lists them all, and the environment variables): named
model endpoints, prices, default budgets, guards, the TUI, the daemon's TCP
token, OpenTelemetry export, project instructions and alerts. The daemon
reads the file when it needs a value (a new session, a provider made after a
restart), so an edit takes effect for the next session without a restart.

`load_config` reads the file once (pydantic-settings' TOML source) with the
environment's overrides on top (`AGENTCTL_TOKEN` over `[daemon] token`) and
checks every section. Each section is a failure domain of its own: a mistake
is a UsageError naming the file and the key (`budget.max_stpes: Extra inputs
are not permitted`), every mistake of a section at once, raised to the one
who asks for that section (`sections=`) and to nobody else — a bad `[notify]`
turns alerts off and keeps sessions running, as a bad `[budget]` stops
sessions and not the daemon. A section with a mistake is never used with the
mistake dropped. Unknown keys inside a section are refused with the key's name
(a typo in a budget must not silently remove the budget); unknown tables are
left alone.

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
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agentctl.errors import UsageError

ToolChoice = Literal["auto", "required", "none"]
ProviderKind = Literal["openai", "anthropic"]

# The environment variables that override a key of config.toml (non-empty wins).
TOKEN_ENV = "AGENTCTL_TOKEN"
STORE_URL_ENV = "AGENTCTL_STORE_URL"
REGISTRY_ENV = "AGENTCTL_SANDBOX_REGISTRY"
ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    TOKEN_ENV: ("daemon", "token"),
    STORE_URL_ENV: ("store", "url"),
    REGISTRY_ENV: ("sandbox", "registry"),
}

NOTIFY_KINDS = (
    "approval.requested",
    "approval.escalated",
    "approval.expired",
    "budget.exceeded",
    "session.failed",
    "session.halted",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _OpenSection(BaseModel):
    """A section whose unknown keys have always been ignored (refusing them now would
    stop a daemon that started yesterday)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def _seconds(value: Any) -> float:
    """A duration key: a number of seconds, or a duration string ("10s", "5m")."""
    from agentctl.durations import parse_seconds

    if isinstance(value, str):
        return parse_seconds(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f'must be a number of seconds or a duration like "10s", not {value!r}')
    return float(value)


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
    context_window: int | None = Field(default=None, ge=64)  # the model's, in tokens (compaction)

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


class DaemonConfig(_OpenSection):
    """`[daemon]`: the bearer token of `agentctl daemon --tcp` (`AGENTCTL_TOKEN` overrides)."""

    token: str | None = None
    # With a shared PostgreSQL log: how long a worker's lease on a session lasts
    # unrenewed (renewed every third of it); another worker takes it over after.
    lease_s: float = Field(default=15.0, ge=0.3, le=3600)

    @field_validator("token", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        return str(value) if value else None


class StoreConfig(_Section):
    """`[store]`: where the event log lives. No `url`: the DuckDB file in the data folder.

    `url = "postgresql://user@host:port/db"` (or `AGENTCTL_STORE_URL`) puts it in
    PostgreSQL (docs/scale.md); the daemon still is the only one of its home.
    """

    url: str | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _postgres(cls, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "url must be a PostgreSQL URL (postgresql://user@host:port/database); "
                "leave it out for the DuckDB file"
            )
        return value


class SandboxSection(_Section):
    """`[sandbox]`: `registry = "host:port"` (or `AGENTCTL_SANDBOX_REGISTRY`) pushes every
    checkpoint image there and pulls the ones an engine lacks (docs/scale.md)."""

    registry: str | None = None

    @field_validator("registry", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str | None:
        if value is None or value == "":
            return None
        # the same rule as sandboxes.registry.check_registry (not imported: it loads docker)
        if not isinstance(value, str) or not re.fullmatch(
            r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?:[0-9]{1,5}", value
        ):
            raise ValueError(
                "registry must be host:port (e.g. 127.0.0.1:5000), without a scheme or a path"
            )
        return value


class OtelConfigSection(_OpenSection):
    """`[otel]`: OpenTelemetry export (docs/observability.md); the OTEL_* variables fill
    what it leaves unset (`agentctl.observe.otel.load_config`)."""

    enabled: bool | None = None  # true: export, and a missing SDK is an error; false: never
    exporter: str | None = None  # "otlp" | "console"
    endpoint: str | None = None
    service_name: str | None = None


class InstructionsConfig(_OpenSection):
    """`[instructions]`: the files read from a workspace's root into the system prompt."""

    files: tuple[str, ...] = ("AGENTS.md",)

    @field_validator("files", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise ValueError("must be a list of file names")
        for name in value:
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"{name!r} is not a file name in the workspace root")
        return tuple(value)


class NotifyConfig(_Section):
    """`[notify]`: alerts (docs/triggers.md). Durations: seconds or "2s", "5m"."""

    command: tuple[str, ...] = ()  # an argv, run without a shell
    url: str | None = None
    events: frozenset[str] = frozenset(NOTIFY_KINDS)
    retries: int = 4  # after the first attempt
    backoff_s: float = Field(default=2.0, validation_alias="backoff")
    timeout_s: float = Field(default=10.0, validation_alias="timeout")  # per attempt

    @property
    def enabled(self) -> bool:
        return bool(self.command or self.url)

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or not all(isinstance(c, str) and c for c in value):
            raise ValueError(
                'command must be a list of strings, like ["notify-send", "agentctl"] (no shell)'
            )
        return tuple(value)

    @field_validator("url", mode="before")
    @classmethod
    def _http(cls, value: Any) -> Any:
        if value is not None and (
            not isinstance(value, str) or not value.startswith(("http://", "https://"))
        ):
            raise ValueError("url must be an http:// or https:// URL")
        return value

    @field_validator("events", mode="before")
    @classmethod
    def _kinds(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple | frozenset) or not set(value) <= set(NOTIFY_KINDS):
            raise ValueError(f"events must be a list of: {', '.join(NOTIFY_KINDS)}")
        return frozenset(value)

    @field_validator("retries", mode="before")
    @classmethod
    def _retries(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 20:
            raise ValueError("retries must be a whole number from 0 to 20")
        return value

    @field_validator("backoff_s", "timeout_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return _seconds(value)


# What a section is about, for the hint of its errors.
_DOCS = {
    "otel": "docs/observability.md",
    "notify": "docs/triggers.md",
    "store": "docs/scale.md",
    "sandbox": "docs/scale.md",
    "instructions": "docs/agents.md",
}
# The sections a session is made with: `load_config`'s default.
CORE = ("providers", "prices", "budget", "guards", "tui")

# The file and environment `load_config` is reading (None: only what is passed in).
_LOADING: ContextVar[tuple[Path, Mapping[str, str]] | None] = ContextVar("_LOADING", default=None)


class _Environment(PydanticBaseSettingsSource):
    """The environment variables that override config.toml keys (`ENV_OVERRIDES`)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, Any]] = {}
        for var, (section, key) in ENV_OVERRIDES.items():
            if self.environ.get(var):
                values.setdefault(section, {})[key] = self.environ[var]
        return values


class Config(BaseSettings):
    """The whole of config.toml. `load_config` makes one; `Config()` is the defaults."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    providers: dict[str, EndpointConfig] = Field(default_factory=dict)
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    budget: BudgetDefaults = Field(default_factory=BudgetDefaults)
    guards: Guards = Field(default_factory=Guards)
    tui: TuiConfig = Field(default_factory=TuiConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    otel: OtelConfigSection = Field(default_factory=OtelConfigSection)
    instructions: InstructionsConfig = Field(default_factory=InstructionsConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)

    # section -> the message of its mistakes; that section holds its defaults meanwhile
    _problems: dict[str, str] = PrivateAttr(default_factory=dict)
    _path: str = PrivateAttr(default="config.toml")  # for messages

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        loading = _LOADING.get()
        if loading is None:
            return (init_settings,)
        path, environ = loading
        return (
            init_settings,
            _Environment(settings_cls, environ),
            TomlConfigSettingsSource(settings_cls, toml_file=path),
        )

    @model_validator(mode="wrap")
    @classmethod
    def _sections_apart(cls, data: Any, handler: Any) -> Any:
        """Validate every section; one with mistakes is kept aside, named, not dropped."""
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, dict):
                raise
            errors: dict[str, list[ErrorDetails]] = {}
            for error in exc.errors():
                errors.setdefault(str(error["loc"][0]) if error["loc"] else "", []).append(error)
            if "" in errors:
                raise
            config = handler({k: v for k, v in data.items() if k not in errors})
            config._problems.update({name: _describe(found) for name, found in errors.items()})
            return config

    def check(self, *sections: str) -> Self:
        """This config, once `sections` (default: all) are known to be free of mistakes."""
        for name in sections or tuple(self._problems):
            if name in self._problems:
                raise UsageError(
                    f"{self._path}: {self._problems[name]}",
                    hint=f"see {_DOCS.get(name, 'docs/providers.md')} for every option",
                )
        return self

    @property
    def problems(self) -> dict[str, str]:
        """Each section with mistakes, and what they are."""
        return dict(self._problems)


def _describe(errors: list[ErrorDetails]) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "value_error":
            message = str((error.get("ctx") or {}).get("error", message))
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def load_config(
    path: Path, environ: Mapping[str, str] | None = None, *, sections: tuple[str, ...] = CORE
) -> Config:
    """config.toml at `path` (defaults when there is none) with the environment's overrides.

    A UsageError for bad TOML, or for a mistake in one of `sections` (the ones
    a session is made with, by default); `()` checks nothing, `Config.check`
    then asks for a section.
    """
    token = _LOADING.set((path, os.environ if environ is None else environ))
    try:
        config = Config()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    finally:
        _LOADING.reset(token)
    config._path = str(path)
    return config.check(*sections) if sections else config


__all__ = [
    "CORE",
    "ENV_OVERRIDES",
    "NOTIFY_KINDS",
    "REGISTRY_ENV",
    "STORE_URL_ENV",
    "TOKEN_ENV",
    "BudgetDefaults",
    "Config",
    "DaemonConfig",
    "EndpointConfig",
    "Guards",
    "InstructionsConfig",
    "NotifyConfig",
    "OtelConfigSection",
    "ProviderKind",
    "SandboxSection",
    "StoreConfig",
    "ToolChoice",
    "TuiConfig",
    "load_config",
]
