"""Durations as people type them: `500ms`, `90s`, `15m`, `12h`, `7d`, `2w`, `1h30m`.

The one parser of the policy's timeouts, `gc --older-than`, `stats --since`,
`run --at +30m` and the notify settings. Spaces are ignored (`2 h`); a bare
number is seconds only where the caller allows it (`bare=True`): in a policy
file `timeout = "10"` is more likely a mistake than ten seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta

from agentctl.errors import UsageError

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(rf"(?:{_PART.pattern})+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
HINT = "a number and a unit: 500ms, 90s, 15m, 12h, 7d, 2w, or several: 1h30m"


def parse_seconds(text: str, *, bare: bool = False) -> float:
    """The seconds `text` spells; ValueError ("bad duration …") when it spells none."""
    compact = text.strip().lower().replace(" ", "")
    if bare and _NUMBER.fullmatch(compact):
        return float(compact)
    if not _WHOLE.fullmatch(compact):
        also = ", or a number of seconds" if bare else ""
        raise ValueError(f"bad duration {text!r} ({HINT}{also})")
    return sum(float(n) * UNITS[unit] for n, unit in _PART.findall(compact))


def parse_timedelta(text: str) -> timedelta:
    """`7d` -> 7 days, a bare number seconds; a UsageError a client is shown otherwise."""
    try:
        return timedelta(seconds=parse_seconds(text, bare=True))
    except ValueError:
        raise UsageError(
            f"{text!r} is not a duration", hint=f"use {HINT} (a bare number is seconds)"
        ) from None


def format_duration(seconds: float) -> str:
    """The shortest readable spelling: 90 -> "1m30s", 600 -> "10m", 0.5 -> "0.5s"."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
