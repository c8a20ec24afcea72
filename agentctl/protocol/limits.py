"""A sandbox's resource limits, and the range a client may ask for each."""

from __future__ import annotations

from agentctl.protocol.base import _Data


class Limits(_Data):
    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 256
    disk_mb: int = 2048  # what the sandbox may write (its container's writable layer)
    files: int = 500_000  # how many files it may hold there (inodes of the host's disk)


# The sandbox limits a client may ask for: positive and bounded (Docker reads 0 as "none").
LIMIT_RANGES: dict[str, tuple[float, float]] = {
    "memory_mb": (64, 65_536),
    "cpus": (0.01, 64),
    "pids": (32, 32_768),
    "disk_mb": (64, 1_048_576),
    "files": (1_000, 100_000_000),
}


def limit_problem(name: str, value: float) -> str | None:
    """What is wrong with a sandbox limit's value (None: it is in `LIMIT_RANGES`)."""
    low, high = LIMIT_RANGES[name]
    if low <= value <= high:
        return None
    return f"{name} must be from {_number(low)} to {_number(high)}, not {_number(value)}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"
