"""Durations as people type them: `90s`, `15m`, `12h`, `7d`, `2w`, `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

from agentctl.errors import UsageError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """`7d` -> 7 days; a bare number is seconds. UsageError for anything else."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return timedelta(seconds=float(raw))
    parts = _PART.findall(raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise UsageError(
            f"{text!r} is not a duration",
            hint="use a number and a unit: 90s, 15m, 12h, 7d, 2w (or 1h30m)",
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
