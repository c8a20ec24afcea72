"""The words of a policy: tiers, expiries, the paths rules see, and the checks of a value.

Shared by `rules` (matching, evaluation, reading a rule) and `files` (the TOML
loader); pure.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import posixpath
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TypeVar

from agentctl.errors import PolicyError

# The sandbox's working directory: absolute paths under it are judged as the
# relative paths they are, so `/workspace/secrets/x` meets `secrets/**`.
WORKSPACE = "/workspace"


class Tier(StrEnum):
    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"
    HALT = "halt"  # stop the session at once and alert a person


class OnExpiry(StrEnum):
    DENY = "deny"
    PAUSE = "pause"


class RuleProblem(PolicyError):
    """A rule is invalid; `key` says which of its keys, for the line number."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def choices(values: Iterable[str]) -> str:
    return ", ".join(values)


def unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f", did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (known: {choices(allowed)})"


# --- paths -----------------------------------------------------------------------------


def normalize_path(path: str) -> str:
    """The path a rule sees: lexical, relative to the workspace when inside it."""
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    normal = posixpath.normpath(path) if path else "."
    if normal == WORKSPACE:
        return "."
    if normal.startswith(WORKSPACE + "/"):
        return normal[len(WORKSPACE) + 1 :]
    return normal


def compile_glob(pattern: str) -> re.Pattern[str]:
    pattern = normalize_path(pattern)
    variants = {pattern}
    if pattern.startswith("**/"):
        variants |= {variant[3:] for variant in list(variants)}
    if pattern.endswith("/**"):
        variants |= {variant[:-3] for variant in list(variants) if variant.endswith("/**")}
    return re.compile("|".join(fnmatch.translate(variant) for variant in sorted(variants)))


def shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- checks of values -----------------------------------------------------------------------------

_APPROVER = re.compile(r"(?:group:)?[A-Za-z0-9_][A-Za-z0-9_.@$-]*")
_E = TypeVar("_E", bound=StrEnum)


def check_approvers(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise RuleProblem(
            f'{key!r} must be a non-empty list of names, like ["alice", "group:oncall"]', key=key
        )
    for name in value:
        if not isinstance(name, str) or not _APPROVER.fullmatch(name):
            raise RuleProblem(f"{key!r}: {name!r} is not a user name or group:NAME", key=key)
    return tuple(value)


def check_enum(kind: type[_E], value: str, key: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise RuleProblem(f"unknown {key} {value!r} ({choices(kind)})", key=key) from None


def positive(seconds: float) -> bool:
    return math.isfinite(seconds) and seconds > 0


def ask_only(key: str, tier: Tier) -> RuleProblem:
    return RuleProblem(f"{key!r} applies only to ask rules (this one is {tier})", key=key)
