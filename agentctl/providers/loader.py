"""`load_provider("scheme:rest")`: the one place a model spec becomes a provider.

Configuration comes from arguments first, then the environment
(`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`),
then the public defaults. Keys are read here and handed to the provider; they
never appear in a message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from agentctl.errors import UsageError
from agentctl.providers import anthropic_messages, openai_chat
from agentctl.providers.base import Provider
from agentctl.providers.replay import ReplayProvider

SCHEMES = ("replay:PATH", "openai:MODEL", "anthropic:MODEL")


def load_provider(
    spec: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 120.0,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> Provider:
    scheme, sep, rest = spec.partition(":")
    valid = "valid model specs: " + ", ".join(SCHEMES)
    if not sep or scheme not in ("replay", "openai", "anthropic"):
        raise UsageError(f"unknown model provider in {spec!r}", hint=valid)
    if not rest:
        what = "a path" if scheme == "replay" else "a model name"
        raise UsageError(f"model spec {spec!r} needs {what} after '{scheme}:'", hint=valid)
    if timeout_s <= 0:
        raise UsageError(f"timeout must be positive, got {timeout_s}")

    if scheme == "replay":
        return ReplayProvider(rest)

    if scheme == "openai":
        key_env = api_key_env or "OPENAI_API_KEY"
        key = os.environ.get(key_env) or None
        if api_key_env and key is None:
            # Naming a variable that is not set is a mistake; the default may be absent
            # (local servers need no key).
            raise UsageError(f"{api_key_env} is not set", hint="export it, or drop --api-key-env")
        return openai_chat.OpenAIChatProvider(
            rest,
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or openai_chat.DEFAULT_BASE_URL,
            api_key=key,
            api_key_env=key_env,
            timeout_s=timeout_s,
            prices=prices,
        )

    key_env = api_key_env or "ANTHROPIC_API_KEY"
    key = os.environ.get(key_env)
    if not key:
        raise UsageError(
            f"anthropic:{rest} needs an API key in {key_env}", hint=f"export {key_env}=..."
        )
    return anthropic_messages.AnthropicMessagesProvider(
        rest,
        api_key=key,
        api_key_env=key_env,
        base_url=base_url
        or os.environ.get("ANTHROPIC_BASE_URL")
        or anthropic_messages.DEFAULT_BASE_URL,
        timeout_s=timeout_s,
        prices=prices,
    )
