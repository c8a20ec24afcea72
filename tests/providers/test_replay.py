"""The recording format and the replay provider."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from agentctl.errors import ProviderError, RecordingError
from agentctl.providers import (
    Message,
    ModelResponse,
    RecordingHeader,
    ToolCall,
    Usage,
    load_provider,
    load_recording,
    response_from_data,
    response_to_data,
    write_recording,
)
from agentctl.providers.replay import ReplayProvider

HEADER = {"format": "agentctl-recording", "version": 1, "task": "list files", "model": "x"}
RESPONSES: list[dict[str, Any]] = [
    {
        "text": "Let me look.",
        "tool_calls": [{"id": "c1", "name": "shell", "args": {"command": "ls"}}],
        "usage": {"input_tokens": 100, "output_tokens": 20},
        "cost_usd": 0.001,
        "latency_ms": 812.5,
    },
    {
        "text": "",
        "tool_calls": [{"id": "c2", "name": "shell", "args": '{"command": "cat'}],
        "usage": {"input_tokens": 130, "output_tokens": 9},
    },
    {"text": "Two files.", "tool_calls": [], "usage": {"input_tokens": 150, "output_tokens": 4}},
]


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def recording(tmp_path: Path) -> Path:
    return write_lines(tmp_path, [json.dumps(HEADER), *map(json.dumps, RESPONSES)])


async def test_replay_returns_response_k_for_step_k(tmp_path: Path) -> None:
    provider = load_provider(f"replay:{recording(tmp_path)}")
    assert isinstance(provider, ReplayProvider)
    assert provider.endpoint.startswith("replay:")

    first = await provider.complete([Message("user", "list files")], [], step=0)
    assert first == ModelResponse(
        text="Let me look.",
        tool_calls=(ToolCall("c1", "shell", {"command": "ls"}),),
        usage=Usage(100, 20),
        cost_usd=0.001,
        latency_ms=812.5,
    )
    second = await provider.complete([], [], step=1)
    assert second.tool_calls == (ToolCall("c2", "shell", '{"command": "cat'),)  # raw, malformed
    assert (second.cost_usd, second.latency_ms) == (0.0, 0.0)
    # Deterministic: asking again for a step (as a resume does) gives the same answer.
    assert await provider.complete([Message("user", "other")], [], step=0) == first
    assert (await provider.complete([], [], step=2)).text == "Two files."


async def test_replay_exhaustion_is_not_retryable(tmp_path: Path) -> None:
    provider = load_provider(f"replay:{recording(tmp_path)}")
    with pytest.raises(ProviderError, match="recording exhausted after 3 responses") as caught:
        await provider.complete([], [], step=3)
    assert caught.value.retryable is False


def test_round_trip(tmp_path: Path) -> None:
    loaded = load_recording(recording(tmp_path))
    assert loaded.header.task == "list files"
    assert len(loaded.responses) == 3

    buffer = io.StringIO()
    write_recording(loaded.header, loaded.responses, buffer)
    again = write_lines(tmp_path, buffer.getvalue().splitlines())
    assert load_recording(again) == loaded
    assert json.loads(buffer.getvalue().splitlines()[0]) == HEADER


def test_written_header_defaults(tmp_path: Path) -> None:
    buffer = io.StringIO()
    write_recording(RecordingHeader(task="t"), [], buffer)
    assert json.loads(buffer.getvalue()) == {
        "format": "agentctl-recording",
        "version": 1,
        "task": "t",
    }


def test_event_data_shape_round_trips() -> None:
    data = {**RESPONSES[0]}
    assert response_to_data(response_from_data(data)) == data


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [json.dumps(HEADER), "", json.dumps(RESPONSES[0]), "{"])
    with pytest.raises(RecordingError, match=r"rec\.jsonl:4: not valid JSON"):
        load_recording(path)


@pytest.mark.parametrize(
    ("lines", "where", "what"),
    [
        (  # bad JSON on line 3
            [json.dumps(HEADER), json.dumps(RESPONSES[0]), '{"text": "x", "tool_calls": [}'],
            3,
            "not valid JSON",
        ),
        ([json.dumps(RESPONSES[0]), json.dumps(RESPONSES[1])], 1, "missing header"),
        ([], 1, "missing header"),
        ([json.dumps({**HEADER, "version": 2})], 1, "unsupported recording version 2"),
        (
            [json.dumps(HEADER), json.dumps({**RESPONSES[0], "temperature": 0.2})],
            2,
            "unknown field 'temperature'",
        ),
        (
            [json.dumps(HEADER), json.dumps({**RESPONSES[2]}), json.dumps({"tool_calls": []})],
            3,
            "missing field 'text'",
        ),
        (
            [json.dumps(HEADER), json.dumps({**RESPONSES[2], "usage": {"input_tokens": "10"}})],
            2,
            "usage.input_tokens",
        ),
        (
            [json.dumps({**HEADER, "creator": "me"})],
            1,
            "unknown field 'creator'",
        ),
        (
            [
                json.dumps(HEADER),
                json.dumps({"text": "", "tool_calls": [{"id": "c", "name": "shell", "args": 3}]}),
            ],
            2,
            "tool_calls.0.args",
        ),
    ],
)
def test_corrupt_recordings_name_the_line(
    tmp_path: Path, lines: list[str], where: int, what: str
) -> None:
    path = write_lines(tmp_path, lines) if lines else tmp_path / "rec.jsonl"
    if not lines:
        path.write_text("")
    with pytest.raises(RecordingError) as caught:
        load_recording(path)
    message = str(caught.value)
    assert f"{path}:{where}:" in message
    assert what in message


def test_a_corrupt_recording_fails_at_load_provider(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [json.dumps(HEADER), "not json"])
    with pytest.raises(RecordingError, match=r":2: not valid JSON"):
        load_provider(f"replay:{path}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="recording not found"):
        load_provider(f"replay:{tmp_path / 'nope.jsonl'}")
