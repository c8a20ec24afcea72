"""`@agentctl.tool`: a typed function becomes a tool whose arguments are checked."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field

import agentctl
from agentctl.tools import ToolCallError, ToolContext, ToolOutcome, ToolRegistry


def ctx(cap: int = 64_000) -> ToolContext:
    return ToolContext(session_id="ses_T", sandbox=None, output_cap=cap)


@agentctl.tool(idempotent=True)
def add(a: int, b: Annotated[int, Field(ge=0, description="Not negative.")] = 1) -> dict[str, int]:
    """Add two numbers.

    The rest of the docstring is not the description."""
    return {"sum": a + b}


def test_the_signature_is_the_schema_and_the_docstring_the_description() -> None:
    assert add.name == "add" and add.idempotent and not add.needs_sandbox
    assert add.description == "Add two numbers."
    schema = add.schema
    assert schema["required"] == ["a"] and schema["additionalProperties"] is False
    assert schema["properties"]["b"] == {
        "default": 1,
        "description": "Not negative.",
        "minimum": 0,
        "title": "B",
        "type": "integer",
    }


def test_arguments_are_checked_before_the_function_runs() -> None:
    registry = ToolRegistry({"add": add})
    tool, args = registry.validate("add", '{"a": 2, "b": 3}')
    assert json.loads(tool.run(ctx(), args).output) == {"sum": 5}
    for bad, said in (
        ('{"b": 3}', "a: Field required"),
        ('{"a": 1, "b": -1}', "b: Input should be greater than or equal to 0"),
        ('{"a": 1, "c": 2}', "c: Extra inputs are not permitted"),
        ('{"a": "x"}', "a: Input should be a valid integer"),
    ):
        with pytest.raises(ToolCallError, match=said):
            registry.validate("add", bad)


def test_context_async_outcomes_and_the_cap(tmp_path: Path) -> None:
    seen: list[str] = []

    @agentctl.tool(name="who-am-i", description="Say the session.")
    async def whoami(context: ToolContext, loud: bool = False) -> str:
        seen.append(context.session_id)
        return context.session_id.upper() if loud else context.session_id

    assert "context" not in whoami.schema["properties"]
    _, args = ToolRegistry({"who-am-i": whoami}).validate("who-am-i", {"loud": True})
    assert whoami.run(ctx(), args).output == "SES_T" and seen == ["ses_T"]

    @agentctl.tool
    def shout(text: str) -> Any:
        return ToolOutcome(exit_code=3, output=text * 100)

    _, args = ToolRegistry({"shout": shout}).validate("shout", {"text": "ab"})
    capped = shout.run(ctx(cap=50), args)  # no spill folder: the rest is not kept
    assert capped.truncated and capped.exit_code == 3 and capped.full_output is None
    assert capped.output == "ab" * 25 + "\n[output truncated; the whole output was not kept]"
    spilled = shout.run(dataclasses.replace(ctx(cap=50), spill_dir=tmp_path), args)
    assert spilled.truncated and spilled.output == "ab" * 25  # as a command's output is
    assert spilled.full_output is not None and spilled.full_output.read_text() == "ab" * 100

    @agentctl.tool
    def nothing() -> None:
        return None

    _, args = ToolRegistry({"nothing": nothing}).validate("nothing", "")
    assert nothing.run(ctx(), args).output == ""


def test_a_sandbox_tool_in_a_session_without_one_is_an_error_result() -> None:
    @agentctl.tool(needs_sandbox=True)
    def inside(context: ToolContext) -> str:
        raise AssertionError("never called without a sandbox")

    _, args = ToolRegistry({"inside": inside}).validate("inside", {})
    with pytest.raises(ToolCallError, match="inside needs a sandbox, and this session has none"):
        inside.run(ctx(), args)


def test_what_cannot_be_a_tool_says_why() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]  # what the test is about
        return x

    def star(*items: int) -> int:
        return len(items)

    def fine(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="argument 'x' has no type annotation"):
        agentctl.tool(untyped)
    with pytest.raises(ValueError, match=r"\*items cannot be a tool argument"):
        agentctl.tool(star)
    with pytest.raises(ValueError, match="is not 1-64 letters"):
        agentctl.tool(name="no spaces")(fine)
