"""API keys by name: a 0600 JSON file in the config folder, the environment over it.

As `llm` does it: `agentctl keys set openai` stores a key under a name;
providers name the key they need (`openai`, `anthropic`, or a config's
`api_key_name`). The environment overrides the file: the key named `openai`
is `OPENAI_API_KEY` when that is set (a name is upper-cased, anything but
letters and digits becomes `_`, and `_API_KEY` is appended; a name already
written as an environment variable, `MY_TOKEN`, is used as it is).

The daemon resolves a key when it sends a request, not when it starts, so a
key set with `agentctl keys set` is used by the next request without a
restart. Values never leave this module except into an HTTP header: `ls`
shows names and where each comes from, and the journal's redactor is given
every stored value so none can reach the log.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentctl.errors import UsageError

FILE_NAME = "keys.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_STYLE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class KeyInfo:
    """What may be said about a key: its name, its variable, where it was found. Never the value."""

    name: str
    env: str
    source: str  # "env", "file" or "missing"


def env_var(name: str) -> str:
    """The environment variable that overrides the stored key `name`."""
    if _ENV_STYLE.match(name):
        return name
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_API_KEY"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a key name",
            hint="letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return name


class KeyStore:
    def __init__(self, config_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = config_dir / FILE_NAME
        self._environ = environ

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def stored(self) -> dict[str, str]:
        """Every key in the file (empty when there is none)."""
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"{self.path} is not a readable keys file: {exc}",
                hint="fix it, or remove it and set the keys again",
            ) from None
        if not isinstance(raw, dict):
            raise UsageError(f"{self.path} is not a JSON object of name: key")
        return {str(k): str(v) for k, v in raw.items() if isinstance(v, str)}

    def get(self, name: str) -> str | None:
        """The key `name`: its environment variable when set, else the file's, else None."""
        from_env = self.environ.get(env_var(name))
        if from_env:
            return from_env
        return self.stored().get(name) or None

    def info(self, name: str) -> KeyInfo:
        var = env_var(name)
        if self.environ.get(var):
            return KeyInfo(name, var, "env")
        if self.stored().get(name):
            return KeyInfo(name, var, "file")
        return KeyInfo(name, var, "missing")

    def set(self, name: str, value: str) -> None:
        check_name(name)
        value = value.strip()
        if not value:
            raise UsageError("the key is empty")
        keys = self.stored()
        keys[name] = value
        self._write(keys)

    def remove(self, name: str) -> bool:
        keys = self.stored()
        if keys.pop(name, None) is None:
            return False
        self._write(keys)
        return True

    def _write(self, keys: dict[str, str]) -> None:
        # Created 0600 before a byte is written, then renamed over the old file:
        # no moment where another user could read it, no half-written file.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def secrets(self) -> dict[str, str]:
        """Every stored key's value by a label, for the journal's redactor."""
        return {f"key:{name}": value for name, value in self.stored().items()}


__all__ = ["KeyInfo", "KeyStore", "check_name", "env_var"]
