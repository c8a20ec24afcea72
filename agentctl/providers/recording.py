"""The recording format: JSONL of model responses, shared by `agentctl record` and `replay:`.

Line 1 is a header, `{"format": "agentctl-recording", "version": 1, ...}`;
each further line is one model response in the same shape as the data of a
`model.responded` event (docs/design.md §3, §8), so recording a session is a copy and
replaying one is a lookup by step.

A line `{"kind": "compaction", "text": ...}` is the summary of a context
compaction (`context.compacted`, docs/context.md): a replay serves the n-th
compaction from the n-th such line, not from the steps' responses.

Loading validates every line with pydantic (unknown fields are errors, types
are strict) and reports the file, the line number and what is wrong, because
recordings are written by hand as often as by `agentctl record`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TextIO

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from agentctl.errors import RecordingError
from agentctl.providers.base import ModelResponse, ToolCall, Usage

FORMAT: Final = "agentctl-recording"
VERSION: Final = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RecordingHeader(_Strict):
    format: Literal["agentctl-recording"] = FORMAT
    version: Literal[1] = VERSION
    task: str | None = None
    model: str | None = None
    created: str | None = None  # ISO 8601
    session: str | None = None  # the session it was recorded from


def _object_or_string(value: object) -> object:
    # Checked up front so the error reads as one sentence, not one per union member.
    if not isinstance(value, dict | str):
        raise ValueError("must be a JSON object, or a string (arguments the model garbled)")
    return value


class RecordedToolCall(_Strict):
    id: str
    name: str
    args: Annotated[dict[str, Any] | str, BeforeValidator(_object_or_string)]


class RecordedUsage(_Strict):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)


class RecordedResponse(_Strict):
    text: str
    tool_calls: list[RecordedToolCall] = []
    usage: RecordedUsage = RecordedUsage()
    cost_usd: float = Field(default=0.0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)

    def to_model_response(self) -> ModelResponse:
        return ModelResponse(
            text=self.text,
            tool_calls=tuple(
                ToolCall(id=c.id, name=c.name, arguments=c.args) for c in self.tool_calls
            ),
            usage=Usage(self.usage.input_tokens, self.usage.output_tokens),
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
        )

    @classmethod
    def from_model_response(cls, response: ModelResponse) -> RecordedResponse:
        return cls(
            text=response.text,
            tool_calls=[
                RecordedToolCall(id=c.id, name=c.name, args=c.arguments)
                for c in response.tool_calls
            ],
            usage=RecordedUsage(
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
            ),
            cost_usd=float(response.cost_usd or 0.0),
            latency_ms=float(response.latency_ms),
        )


class RecordedCompaction(_Strict):
    kind: Literal["compaction"]
    text: str
    usage: RecordedUsage = RecordedUsage()
    cost_usd: float = Field(default=0.0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)

    def to_model_response(self) -> ModelResponse:
        usage = Usage(self.usage.input_tokens, self.usage.output_tokens)
        return ModelResponse(self.text, (), usage, self.cost_usd, self.latency_ms)


def compaction_line(response: ModelResponse) -> dict[str, Any]:
    """A compaction's summary as a recording line."""
    return RecordedCompaction(
        kind="compaction",
        text=response.text,
        usage=RecordedUsage(
            input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens
        ),
        cost_usd=float(response.cost_usd or 0.0),
        latency_ms=float(response.latency_ms),
    ).model_dump(mode="json")


def response_to_data(response: ModelResponse) -> dict[str, Any]:
    """The JSON shape of a response: a recording line, and the data of `model.responded`."""
    return RecordedResponse.from_model_response(response).model_dump(mode="json")


def response_from_data(data: object) -> ModelResponse:
    """The inverse of `response_to_data`; raises `RecordingError` on a wrong shape."""
    try:
        return RecordedResponse.model_validate(data).to_model_response()
    except ValidationError as exc:
        raise RecordingError(f"invalid model response: {_describe(exc)}") from None


@dataclass(frozen=True)
class Recording:
    header: RecordingHeader
    responses: tuple[ModelResponse, ...]
    compactions: tuple[ModelResponse, ...] = ()  # the summaries of context compactions


def load_recording(path: str | Path) -> Recording:
    """Read and validate a recording; any problem is a `RecordingError` naming `path:line`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError(f"recording not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"cannot read recording {path}: {exc}") from None

    header: RecordingHeader | None = None
    responses: list[ModelResponse] = []
    compactions: list[ModelResponse] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines are harmless; line numbers still count them
        where = f"{path}:{lineno}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordingError(
                f"{where}: not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        if header is None:
            header = _header(value, where)
            continue
        try:
            if isinstance(value, dict) and value.get("kind") == "compaction":
                compactions.append(RecordedCompaction.model_validate(value).to_model_response())
                continue
            responses.append(RecordedResponse.model_validate(value).to_model_response())
        except ValidationError as exc:
            raise RecordingError(f"{where}: invalid model response: {_describe(exc)}") from None
    if header is None:
        raise RecordingError(
            f"{path}:1: missing header: the file is empty",
            hint=f'the first line must be {{"format": "{FORMAT}", "version": {VERSION}}}',
        )
    return Recording(header=header, responses=tuple(responses), compactions=tuple(compactions))


def write_recording(
    header: RecordingHeader,
    responses: Iterable[ModelResponse],
    fp: TextIO,
    compactions: Iterable[ModelResponse] = (),
) -> None:
    """Write a recording that `load_recording` reads back unchanged."""
    fp.write(header.model_dump_json(exclude_none=True) + "\n")
    for response in responses:
        fp.write(json.dumps(response_to_data(response), ensure_ascii=False) + "\n")
    for summary in compactions:
        fp.write(json.dumps(compaction_line(summary), ensure_ascii=False) + "\n")


def _header(value: object, where: str) -> RecordingHeader:
    hint = f'the first line must be {{"format": "{FORMAT}", "version": {VERSION}}}'
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise RecordingError(
            f"{where}: missing header: the first line is not a recording header", hint=hint
        )
    if "version" in value and value["version"] != VERSION:
        raise RecordingError(
            f"{where}: unsupported recording version {value['version']!r} "
            f"(this agentctl reads version {VERSION})"
        )
    try:
        return RecordingHeader.model_validate(value)
    except ValidationError as exc:
        raise RecordingError(f"{where}: invalid header: {_describe(exc)}", hint=hint) from None


def _describe(exc: ValidationError) -> str:
    """pydantic's errors as one line: `tool_calls.0.args: Input should be ...; ...`."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown field {loc!r}")
        elif error["type"] == "missing":
            parts.append(f"missing field {loc!r}")
        else:
            msg = str(error["msg"]).removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)
