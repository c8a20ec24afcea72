"""Keep secrets out of the log (docs/design.md §3).

Values of environment variables that look secret (API keys, tokens,
passwords, or names listed in `AGENTCTL_SECRET_ENV`) are replaced by
`[REDACTED:NAME]` in every string of an event before it is appended. The
keys stored with `agentctl keys` are secrets too; they can be set while the
daemon runs, so `extra` is asked again whenever the keys file changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_MIN_LEN = 8  # shorter values would redact ordinary words


class Redactor:
    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        extra: Callable[[], Mapping[str, str]] | None = None,
        extra_version: Callable[[], object] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        listed = {n.strip() for n in env.get("AGENTCTL_SECRET_ENV", "").split(",") if n.strip()}
        self._env_secrets = {
            value: name
            for name, value in env.items()
            if (name in listed or _SECRET_NAME.search(name)) and len(value) >= _MIN_LEN
        }
        self._extra = extra
        self._extra_version = extra_version
        self._seen_version: object = None
        self._secrets = sorted(self._env_secrets.items(), key=lambda kv: -len(kv[0]))
        self._refresh()

    def _refresh(self) -> None:
        if self._extra is None:
            return
        version = self._extra_version() if self._extra_version is not None else object()
        if version == self._seen_version and version is not None:
            return
        self._seen_version = version
        secrets = dict(self._env_secrets)
        for name, value in self._extra().items():
            if len(value) >= _MIN_LEN:
                secrets[value] = name
        self._secrets = sorted(secrets.items(), key=lambda kv: -len(kv[0]))

    def __call__(self, value: Any) -> Any:
        self._refresh()
        if not self._secrets:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret, name in self._secrets:
                if secret in value:
                    value = value.replace(secret, f"[REDACTED:{name}]")
            return value
        if isinstance(value, dict):
            return {k: self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        return value
