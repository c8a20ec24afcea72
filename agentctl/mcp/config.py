"""The MCP servers a user has configured: `mcp.json` in the config folder.

Like Claude Code's and Codex's, one entry per server: a stdio command (run in
the session's sandbox, or on the host with `scope = "host"`) or a Streamable
HTTP URL. The file is 0600 and written by rename, like `keys.json`: its
environment values and headers may carry credentials. A value may name a
stored key as `${key:NAME}` instead of holding it: the key is read from
`agentctl keys` when the server is started, and never written here or to
the log.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentctl.errors import UsageError
from agentctl.keys import KeyStore

FILE_NAME = "mcp.json"
# Tool names are `mcp__SERVER__TOOL`: a server name has no `__` and fits a tool name.
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]|_(?!_)){0,31}$")
_KEY_REF = re.compile(r"\$\{key:([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\}")

Scope = Literal["sandbox", "host"]


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    command: list[str] = Field(default_factory=list)  # stdio: the program and its arguments
    scope: Scope = "sandbox"  # stdio only: where the program runs
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None  # Streamable HTTP
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _shape(self) -> ServerConfig:
        check_name(self.name)
        if bool(self.command) == bool(self.url):
            raise ValueError("give either a command (stdio) or a url (Streamable HTTP)")
        if self.url is not None:
            if not re.match(r"^https?://", self.url):
                raise ValueError(f"url {self.url!r} is not http:// or https://")
            if self.env:
                raise ValueError("--env is for stdio servers; an HTTP server takes --header")
        elif self.headers:
            raise ValueError("--header is for HTTP servers; a stdio server takes --env")
        return self

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    @property
    def where(self) -> str:
        """Where it runs, as `mcp ls` says it: sandbox, host or http."""
        return "http" if self.url else self.scope

    def public(self) -> dict[str, object]:
        """What may be shown and logged: no environment values, no header values."""
        return {
            "name": self.name,
            "transport": self.transport,
            "scope": self.where,
            "command": list(self.command),
            "url": self.url,
            "env": sorted(self.env),
            "headers": sorted(self.headers),
        }


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a server name",
            hint="lower-case letters, digits, '-' and single '_', at most 32, e.g. github",
        )
    return name


def resolve(values: dict[str, str], keys: KeyStore) -> dict[str, str]:
    """`values` with each `${key:NAME}` replaced by the stored key; a missing key is an error."""

    def one(match: re.Match[str]) -> str:
        value = keys.get(match.group(1))
        if value is None:
            raise UsageError(
                f"the key {match.group(1)!r} is not set", hint=f"agentctl keys set {match.group(1)}"
            )
        return value

    return {k: _KEY_REF.sub(one, v) for k, v in values.items()}


class ServerStore:
    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / FILE_NAME
        self._cache: tuple[tuple[int, int, int], dict[str, ServerConfig]] | None = None

    def servers(self) -> dict[str, ServerConfig]:
        """The file as it is now (read again only when it changed: each call looks)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise UsageError(f"{self.path} is not a readable MCP servers file: {exc}") from None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._cache is not None and self._cache[0] == stamp:
            return dict(self._cache[1])
        servers = self._read()
        self._cache = (stamp, servers)
        return dict(servers)

    def _read(self) -> dict[str, ServerConfig]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UsageError(f"{self.path} is not a readable MCP servers file: {exc}") from None
        entries = raw.get("servers", {}) if isinstance(raw, dict) else None
        if not isinstance(entries, dict):
            raise UsageError(f"{self.path} has no 'servers' object")
        out: dict[str, ServerConfig] = {}
        for name, entry in entries.items():
            try:
                out[name] = ServerConfig.model_validate({**entry, "name": name})
            except (ValidationError, TypeError) as exc:
                raise UsageError(f"{self.path}: server {name!r}: {exc}") from None
        return out

    def get(self, name: str) -> ServerConfig | None:
        return self.servers().get(name)

    def add(self, server: ServerConfig, *, replace: bool = False) -> None:
        servers = self.servers()
        if server.name in servers and not replace:
            raise UsageError(
                f"an MCP server named {server.name!r} exists",
                hint=f"agentctl mcp rm {server.name} first",
            )
        servers[server.name] = server
        self._write(servers)

    def remove(self, name: str) -> bool:
        servers = self.servers()
        if servers.pop(name, None) is None:
            return False
        self._write(servers)
        return True

    def _write(self, servers: dict[str, ServerConfig]) -> None:
        body = {
            "servers": {
                name: s.model_dump(exclude={"name"}, exclude_defaults=True)
                for name, s in sorted(servers.items())
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(body, handle, indent=2)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


__all__ = ["ServerConfig", "ServerStore", "check_name", "resolve"]
