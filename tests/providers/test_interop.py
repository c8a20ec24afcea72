"""What real servers need and send, against a real HTTP server on loopback.

tool_choice, parallel tool calls, empty content beside tool calls, reasoning
fields, missing and partial usage, error bodies, the deterministic 500, named
endpoints from config with their headers, and keys resolved at request time.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from agentctl.config import Config, EndpointConfig
from agentctl.errors import ProviderError, UsageError
from agentctl.keys import KeyStore
from agentctl.providers import Message, ToolCall, ToolSpec, load_provider
from agentctl.providers.retry import (
    CircuitBreaker,
    DeterministicServerError,
    RetryPolicy,
    call_with_retries,
)
from tests.support.providers import ProviderFactory

from .fake_server import FakeModelServer, Reply, openai_completion

SHELL = ToolSpec("shell", "Run a command", {"type": "object", "properties": {}})
ASK = (Message("user", "hi"),)
KEY = "sk-local-0123456789abcdef"


def endpoint(fake: FakeModelServer, **options: Any) -> Config:
    return Config(
        providers={
            "local": EndpointConfig(base_url=f"{fake.url}/v1", stream=False, timeout_s=5, **options)
        }
    )


@pytest.mark.parametrize("choice", ["auto", "required", "none"])
async def test_tool_choice_is_sent_with_tools_auto_unless_configured(
    fake: FakeModelServer, make_provider: ProviderFactory, choice: str
) -> None:
    fake.script(Reply.json(openai_completion("ok")), Reply.json(openai_completion("ok")))
    config = endpoint(fake, tool_choice=None if choice == "auto" else choice)
    provider = make_provider("local:smol", config=config)
    await provider.complete(ASK, [SHELL], step=0)
    await provider.complete(ASK, [], step=1)
    with_tools, without = (r.body for r in fake.requests)
    assert with_tools["tool_choice"] == choice
    assert with_tools["model"] == "smol"
    assert "tool_choice" not in without and "tools" not in without


async def test_parallel_tool_calls_and_params_are_sent_only_when_configured(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("ok")), Reply.json(openai_completion("ok")))
    await make_provider("local:m", config=endpoint(fake)).complete(ASK, [SHELL], step=0)
    configured = endpoint(fake, parallel_tool_calls=True, params={"temperature": 0, "seed": 7})
    await make_provider("local:m", config=configured).complete(ASK, [SHELL], step=0)
    plain, tuned = (r.body for r in fake.requests)
    assert "parallel_tool_calls" not in plain and "temperature" not in plain
    assert tuned["parallel_tool_calls"] is True
    assert (tuned["temperature"], tuned["seed"]) == (0, 7)


async def test_assistant_turns_with_tool_calls_carry_empty_content_not_null(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("ok")))
    history = (
        *ASK,
        Message("assistant", "", tool_calls=(ToolCall("c1", "shell", {"command": "ls"}),)),
        Message("tool", "a.txt", tool_call_id="c1", name="shell"),
    )
    await make_provider("local:m", config=endpoint(fake)).complete(history, [SHELL], step=1)
    assistant = fake.requests[0].body["messages"][1]
    assert assistant["content"] == "" and assistant["tool_calls"][0]["id"] == "c1"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_fields_are_kept(
    fake: FakeModelServer, make_provider: ProviderFactory, field: str
) -> None:
    body = openai_completion("answer")
    body["choices"][0]["message"][field] = "because"
    fake.script(Reply.json(body))
    response = await make_provider("local:m", config=endpoint(fake)).complete(ASK, [], step=0)
    assert (response.text, response.reasoning) == ("answer", "because")


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, (0, 0, False)),
        ({}, (0, 0, False)),
        ({"total_tokens": 30, "prompt_tokens": 20}, (20, 10, True)),
        ({"total_tokens": 30, "completion_tokens": 5}, (25, 5, True)),
        ({"prompt_tokens": 12}, (12, 0, True)),
    ],
    ids=["missing", "empty", "no-completion", "no-prompt", "prompt-only"],
)
async def test_missing_and_partial_usage(
    fake: FakeModelServer,
    make_provider: ProviderFactory,
    usage: dict[str, int] | None,
    expected: tuple[int, int, bool],
) -> None:
    body = openai_completion("ok")
    body.pop("usage")
    if usage is not None:
        body["usage"] = usage
    fake.script(Reply.json(body))
    config = endpoint(fake)
    config = config.model_copy(update={"prices": {"local:m": (1.0, 2.0)}})
    response = await make_provider("local:m", config=config).complete(ASK, [], step=0)
    got = response.usage
    assert (got.input_tokens, got.output_tokens, got.reported) == expected
    if not got.reported:
        assert response.cost_usd is None  # a price, but nothing to apply it to
    else:
        assert response.cost_usd == pytest.approx((got.input_tokens + 2 * got.output_tokens) / 1e6)


async def test_an_unpriced_model_costs_unknown_and_a_free_one_zero(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(Reply.json(openai_completion("ok")), Reply.json(openai_completion("ok")))
    unknown = make_provider("local:m", config=endpoint(fake))
    assert not unknown.price_known
    assert (await unknown.complete(ASK, [], step=0)).cost_usd is None
    free = endpoint(fake).model_copy(update={"prices": {"local:m": (0.0, 0.0)}})
    assert (await make_provider("local:m", config=free).complete(ASK, [], step=0)).cost_usd == 0.0


def test_well_known_models_have_a_price_and_config_overrides_it() -> None:
    from agentctl.providers.pricing import price_of

    assert price_of(None, "openai:gpt-4o-mini", "gpt-4o-mini") == (0.15, 0.60)
    # A dated name finds its family; the longest match wins.
    assert price_of(None, "anthropic:x", "claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert price_of(None, "anthropic:x", "claude-sonnet-4-20250514") == (3.0, 15.0)
    assert price_of({"gpt-4o-mini": (1.0, 1.0)}, "openai:gpt-4o-mini", "gpt-4o-mini") == (1.0, 1.0)
    assert price_of(None, "local:smol", "smol") is None


@pytest.mark.parametrize("status", [400, 422, 500, 503])
async def test_an_error_body_message_is_in_the_error(
    fake: FakeModelServer, make_provider: ProviderFactory, status: int
) -> None:
    fake.script(Reply.error(status, "messages[1].content: null is not allowed"))
    with pytest.raises(ProviderError, match=r"null is not allowed"):
        await make_provider("local:m", config=endpoint(fake)).complete(ASK, [], step=0)


async def test_an_empty_error_message_falls_back_to_its_type(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    # llama-cpp-python's 500s: {"error": {"message": "", "type": "internal_server_error"}}
    fake.script(Reply.json({"error": {"message": "", "type": "internal_server_error"}}, 500))
    with pytest.raises(ProviderError, match=r"HTTP 500 .*: internal_server_error"):
        await make_provider("local:m", config=endpoint(fake)).complete(ASK, [], step=0)


async def _call(provider: Any, breaker: CircuitBreaker) -> tuple[list[str], Any]:
    failures: list[str] = []

    async def on_attempt(attempt: int) -> None:
        return None

    async def on_failure(error: Any, attempt: int, retry_in_ms: float | None) -> None:
        failures.append(str(error))

    async def no_sleep(_: float) -> None:
        return None

    try:
        result: Any = await call_with_retries(
            provider,
            ASK,
            [],
            step=0,
            policy=RetryPolicy(max_attempts=6, jitter=0.0),
            breaker=breaker,
            on_attempt=on_attempt,
            on_failure=on_failure,
            sleep=no_sleep,
            rng=random.Random(0),
        )
    except ProviderError as exc:
        result = exc
    return failures, result


async def test_the_same_500_twice_is_not_retried_into_the_breaker(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(*[Reply.error(500, "null content is not supported")] * 6)
    breaker = CircuitBreaker(failure_threshold=3)
    failures, result = await _call(make_provider("local:m", config=endpoint(fake)), breaker)
    assert isinstance(result, DeterministicServerError) and not result.retryable
    assert "null content is not supported" in str(result)
    assert len(fake.requests) == 2  # asked twice, the second answer the same: stop
    assert breaker.state == "closed"
    assert len(failures) == 2


async def test_the_open_breaker_names_the_last_error_and_a_trial_is_allowed_at_once(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    fake.script(*[Reply.error(503, f"overloaded {i}") for i in range(2)])
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=600)
    _, result = await _call(make_provider("local:m", config=endpoint(fake)), breaker)
    assert len(fake.requests) == 2  # then refused without touching the network
    assert breaker.state == "open"
    assert "circuit open" in str(result) and "last error:" in str(result)
    assert "HTTP 503" in str(result) and "overloaded 1" in str(result)
    breaker.allow_trial()  # what `resume` does
    fake.script(Reply.json(openai_completion("back")))
    _, result = await _call(make_provider("local:m", config=endpoint(fake)), breaker)
    # allow_trial() moved the state on; mypy still holds it to the "open" asserted above
    assert result.text == "back" and breaker.state == "closed"  # type: ignore[comparison-overlap]


async def test_configured_headers_are_sent_and_the_key_is_read_at_request_time(
    fake: FakeModelServer, make_provider: ProviderFactory, tmp_path: Path
) -> None:
    keys = KeyStore(tmp_path / "config", environ={})
    config = endpoint(fake, api_key_name="local", headers={"X-Team": "blue"})
    provider = make_provider("local:m", config=config, keys=keys)
    fake.script(Reply.json(openai_completion("ok")), Reply.json(openai_completion("ok")))
    await provider.complete(ASK, [], step=0)
    keys.set("local", KEY)  # set while the provider exists: used by the next request
    await provider.complete(ASK, [], step=1)
    first, second = fake.requests
    assert first.headers["x-team"] == "blue" and "authorization" not in first.headers
    assert second.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(provider)


async def test_the_environment_overrides_the_stored_key(
    fake: FakeModelServer, make_provider: ProviderFactory, tmp_path: Path
) -> None:
    keys = KeyStore(tmp_path / "config", environ={"LOCAL_API_KEY": "sk-from-env-0123456789"})
    keys.set("local", KEY)
    provider = make_provider("local:m", config=endpoint(fake, api_key_name="local"), keys=keys)
    fake.script(Reply.json(openai_completion("ok")))
    await provider.complete(ASK, [], step=0)
    assert fake.requests[0].headers["authorization"] == "Bearer sk-from-env-0123456789"


def test_keys_file_is_0600_and_ls_never_shows_a_value(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "config", environ={})
    keys.set("openai", KEY)
    assert keys.path.stat().st_mode & 0o777 == 0o600
    assert keys.info("openai").source == "file"
    assert keys.info("anthropic").source == "missing"
    assert keys.remove("openai") and keys.get("openai") is None
    with pytest.raises(UsageError):
        keys.set("../etc", KEY)


def test_builtin_local_endpoints_need_no_config() -> None:
    provider = load_provider("ollama:qwen3")
    assert provider.endpoint == "http://127.0.0.1:11434/v1"
    with pytest.raises(UsageError, match="unknown model provider"):
        load_provider("nowhere:m")


async def test_text_tool_calls_are_parsed_only_when_opted_in(
    fake: FakeModelServer, make_provider: ProviderFactory
) -> None:
    text = 'Sure.\n<tool_call>\n{"name": "shell", "arguments": {"command": "ls"}}\n</tool_call>'
    fake.script(Reply.json(openai_completion(text)), Reply.json(openai_completion(text)))
    plain = await make_provider("local:m", config=endpoint(fake)).complete(ASK, [SHELL], step=0)
    assert plain.tool_calls == () and plain.text == text
    parsing = make_provider("local:m", config=endpoint(fake, text_tool_calls=True))
    parsed = await parsing.complete(ASK, [SHELL], step=3)
    assert parsed.tool_calls == (ToolCall("call_3_0", "shell", {"command": "ls"}),)
    assert parsed.text == "Sure."
