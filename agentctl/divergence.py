"""Where two runs of one recording part: the comparison a replay reports (pure).

What it compares is what the world did, not what the model said: the
sequence of executed tool calls as (step, tool name, sha256 of the canonical
JSON of the arguments that ran, exit code), then the final status. The first
difference is the divergence (see `agentctl.replay`, which drives a replay).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agentctl.protocol import ModelResponded, SessionStatusChanged, ToolFinished, ToolStarted
from agentctl.state import EventLike


def args_hash(args: object) -> str:
    """sha256 of the canonical JSON of a call's arguments (sorted keys, no spaces)."""
    text = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExecutedCall:
    """A tool call that really ran (a `tool.started` with its `tool.finished`)."""

    step: int  # 1-based: the model response that asked for it
    call_id: str
    name: str
    args_hash: str
    exit_code: int | None
    seq: int  # of its tool.started, in its own log

    @property
    def key(self) -> tuple[int, str, str, int | None]:
        return (self.step, self.name, self.args_hash, self.exit_code)


def executed_calls(events: Iterable[EventLike]) -> list[ExecutedCall]:
    """The executed tool calls of a log, in order. A call re-run after a crash counts once."""
    step = 0
    started: dict[str, tuple[int, str, str, int]] = {}  # call id -> (step, name, hash, seq)
    calls: list[ExecutedCall] = []
    for event in events:
        if event.type == ModelResponded.TYPE:
            step += 1
            started.clear()
        elif event.type == ToolStarted.TYPE:
            d = event.data
            started[d["call_id"]] = (step, d["name"], args_hash(d.get("args")), event.seq)
        elif event.type == ToolFinished.TYPE:
            begun = started.pop(event.data["call_id"], None)
            if begun is None:
                continue  # refused: it never ran
            at, name, digest, seq = begun
            calls.append(
                ExecutedCall(
                    at, event.data["call_id"], name, digest, event.data.get("exit_code"), seq
                )
            )
    return calls


def final_status(events: Sequence[EventLike]) -> tuple[str | None, str]:
    """The last `session.status` of a log: (status, reason)."""
    for event in reversed(events):
        if event.type == SessionStatusChanged.TYPE:
            return str(event.data["status"]), str(event.data.get("reason", ""))
    return None, ""


@dataclass(frozen=True)
class Divergence:
    """The first place where two runs differ.

    `kind` is what differs: `tool` (another tool ran), `args` (same tool,
    other arguments), `exit_code`, `missing` (the replay ran fewer calls),
    `extra` (it ran more), `step` (the same call at another step) or
    `status` (every call agrees but the runs ended differently).
    """

    kind: str
    index: int  # position in the sequence of executed calls (0-based)
    step: int | None
    original: ExecutedCall | None
    replay: ExecutedCall | None
    original_status: str | None = None
    replay_status: str | None = None

    def describe(self) -> str:
        o, r = self.original, self.replay
        if self.kind == "status":
            return f"the runs ended differently: {self.original_status} (original) vs {self.replay_status} (replay)"
        if self.kind == "missing" and o is not None:
            return f"step {o.step}: the original ran {o.name} ({o.call_id}); the replay did not"
        if self.kind == "extra" and r is not None:
            return f"step {r.step}: the replay ran {r.name} ({r.call_id}); the original did not"
        assert o is not None and r is not None
        if self.kind == "tool":
            return f"step {r.step}: the replay ran {r.name} where the original ran {o.name}"
        if self.kind == "args":
            return f"step {r.step}: {r.name} ran with other arguments (sha256 {o.args_hash[:12]} → {r.args_hash[:12]})"
        if self.kind == "exit_code":
            return f"step {r.step}: {r.name} exited {r.exit_code} where the original exited {o.exit_code}"
        return f"{r.name} ran at step {r.step} where the original ran it at step {o.step}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "index": self.index,
            "step": self.step,
            "original": asdict(self.original) if self.original else None,
            "replay": asdict(self.replay) if self.replay else None,
            "original_status": self.original_status,
            "replay_status": self.replay_status,
            "message": self.describe(),
        }


def compare(
    original_events: Sequence[EventLike], replay_events: Sequence[EventLike]
) -> Divergence | None:
    """The first divergence between two runs of the same recording, or None when identical."""
    original, replay = executed_calls(original_events), executed_calls(replay_events)
    for index, (o, r) in enumerate(zip(original, replay, strict=False)):
        if o.key == r.key:
            continue
        if o.name != r.name:
            kind = "tool"
        elif o.args_hash != r.args_hash:
            kind = "args"
        elif o.step != r.step:
            kind = "step"
        else:
            kind = "exit_code"
        return Divergence(kind, index, min(o.step, r.step), o, r)
    if len(original) > len(replay):
        o = original[len(replay)]
        return Divergence("missing", len(replay), o.step, o, None)
    if len(replay) > len(original):
        r = replay[len(original)]
        return Divergence("extra", len(original), r.step, None, r)
    o_status, _ = final_status(original_events)
    r_status, _ = final_status(replay_events)
    if o_status != r_status:
        last = original[-1].step if original else None
        return Divergence("status", len(original), last, None, None, o_status, r_status)
    return None
