"""The `delegate` tool's contract, pure: its arguments, the child's answer judged against
the call's schema, the child's request id, and what a parent's fold keeps of its children.

The runtime's side (making the child, waiting, waking the parent) is
agentctl.runtime.delegation; docs/subagents.md describes the whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentctl.jsonschemas import schema_error, validator_of

DELEGATE_TOOL = "delegate"
MAX_SCHEMA_BYTES = 16 * 1024


class DelegateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, max_length=32_000, description="What the child agent does.")
    profile: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="The agent profile the child runs as (default: this session's settings).",
    )
    sandbox: str = Field(
        default="fresh",
        pattern=r"^(fresh|fork)$",
        description="`fresh`: a new sandbox; `fork`: a copy of this session's files "
        "at its latest checkpoint.",
    )
    output_schema: dict[str, Any] | None = Field(
        default=None,
        description="A JSON Schema the child's final answer (JSON) must satisfy; "
        "the call's result is that answer.",
    )

    @model_validator(mode="after")
    def _schema_is_a_schema(self) -> DelegateArgs:
        if self.output_schema is not None:
            if len(json.dumps(self.output_schema)) > MAX_SCHEMA_BYTES:
                raise ValueError(f"output_schema is over {MAX_SCHEMA_BYTES} bytes")
            problem = schema_error(self.output_schema)
            if problem is not None:
                raise ValueError(f"output_schema is not a JSON Schema: {problem}")
        return self


def request_id(parent: str, call_id: str) -> str:
    """The child's client request id: the same for the same call, so a call run again
    after a crash finds the child it made instead of making a second."""
    digest = hashlib.sha256(f"{parent}\0{call_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"delegate.{digest[:40]}"


def judge(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The answer as JSON and None, or None and what is wrong with it (in words)."""
    body = text.strip()
    if body.startswith("```"):  # a fenced block: ```json ... ```
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0].strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"the answer is not JSON ({exc})"
    validator = validator_of(schema)
    problems = [
        f"{'.'.join(str(p) for p in err.absolute_path) or 'the answer'}: {err.message}"
        for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))[:5]
    ]
    if problems:
        return None, "; ".join(problems)
    return value, None


@dataclass
class Delegation:
    """What a session's fold keeps of its children (agentctl.state)."""

    child: str | None = None  # the child a `waiting` session waits for
    rejected: dict[str, list[int]] = field(default_factory=dict)  # child -> its seq each time
    # What the ended children spent: counted against the session's budget.
    children: int = 0
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: bool = False

    def apply(self, data: Any) -> None:
        """A `delegate.rejected` or `delegate.ended` (agentctl.protocol)."""
        if data.TYPE == "delegate.rejected":
            self.rejected.setdefault(data.child, []).append(data.child_seq)
            return
        self.children += 1
        self.steps += data.steps
        self.input_tokens += data.input_tokens
        self.output_tokens += data.output_tokens
        self.cost_usd += data.cost_usd
        self.cost_unknown |= not data.cost_known


__all__ = ["DELEGATE_TOOL", "DelegateArgs", "Delegation", "judge", "request_id"]
