"""Parsing what the session-starting commands share (`run`, `schedule add`, `hook add`):
labels, a model or policy given as a path, a start time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from agentctl.triggers.clock import parse_when


def labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--label")
        labels[key] = val
    return labels


def model_spec(model: str) -> str:
    """A replay recording's path made absolute: the daemon does not share our working directory."""
    if not model.startswith("replay:"):
        return model
    path = Path(model.removeprefix("replay:")).expanduser()
    if not path.is_file():
        raise typer.BadParameter(f"no recording at {path}", param_hint="--model")
    return f"replay:{path.resolve()}"


def policy_spec(policy: str | None) -> str | None:
    """A policy file's path made absolute; a preset name stays as it is."""
    if policy and Path(policy).expanduser().is_file():
        return str(Path(policy).expanduser().resolve())
    return policy


def start_time(at: str | None) -> datetime | None:
    """`--at WHEN` as a UTC time; a usage error when it does not parse or is past."""
    if at is None:
        return None
    now = datetime.now(UTC)
    try:
        when = parse_when(at, now)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None
    return when
