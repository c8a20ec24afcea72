"""`load_provider`: specs, schemes, configuration from the environment."""

from __future__ import annotations

import pytest

from agentctl.errors import ExitCode, UsageError
from agentctl.providers import load_provider
from agentctl.providers.openai_chat import DEFAULT_BASE_URL, OpenAIChatProvider
from tests.support.providers import ProviderFactory


@pytest.mark.parametrize("spec", ["gemini:pro", "gpt-4o", "", "Replay:x.jsonl"])
def test_unknown_scheme_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_provider(spec)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "replay:PATH, openai:MODEL, anthropic:MODEL" in str(caught.value)


@pytest.mark.parametrize("spec", ["openai:", "replay:", "anthropic:"])
def test_empty_name_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError, match="needs"):
        load_provider(spec)


async def test_openai_defaults(make_provider: ProviderFactory) -> None:
    provider = make_provider("openai:gpt-4o-mini")
    assert isinstance(provider, OpenAIChatProvider)
    assert provider.spec == "openai:gpt-4o-mini"
    assert provider.endpoint == DEFAULT_BASE_URL


def test_a_named_key_variable_must_be_set() -> None:
    with pytest.raises(UsageError, match="NOT_SET_KEY is not set"):
        load_provider("openai:m", api_key_env="NOT_SET_KEY")


async def test_key_is_not_in_repr(
    make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    provider = make_provider("openai:m")
    assert "sk-very-secret" not in repr(provider)
