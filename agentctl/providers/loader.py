"""`load_provider("scheme:rest")`: the one place a model spec becomes a provider.

A scheme is `replay`, `openai`, `anthropic`, or the name of an endpoint:
one of `[providers.NAME]` in config.toml, or a built-in local one (`ollama`,
`vllm`, `llamacpp`, `lmstudio`, `litellm`), so `--model ollama:qwen3` works
with no configuration at all. A `[providers.openai]` or
`[providers.anthropic]` table adjusts those two.

What wins: arguments (`--base-url`), then the endpoint's configuration, then
the environment (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`), then the public
defaults. Keys are never read here into a message: the provider is handed a
function that looks the key up (`agentctl.keys`) when it sends a request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agentctl.config import Config, EndpointConfig
from agentctl.errors import ProviderError, UsageError
from agentctl.keys import KeyStore, env_var
from agentctl.providers.base import Message, ModelResponse, OnDelta, Provider, ToolSpec
from agentctl.providers.replay import ReplayProvider

SCHEMES = ("replay:PATH", "openai:MODEL", "anthropic:MODEL", "ENDPOINT:MODEL")

# Local servers at their usual ports; none wants a key unless configured.
BUILTIN_ENDPOINTS: dict[str, EndpointConfig] = {
    "ollama": EndpointConfig(base_url="http://127.0.0.1:11434/v1"),
    "vllm": EndpointConfig(base_url="http://127.0.0.1:8000/v1"),
    "llamacpp": EndpointConfig(base_url="http://127.0.0.1:8080/v1"),
    "lmstudio": EndpointConfig(base_url="http://127.0.0.1:1234/v1"),
    "litellm": EndpointConfig(base_url="http://127.0.0.1:4000/v1"),
}
_DEFAULT_KEYS = {"openai": "openai", "anthropic": "anthropic"}


@dataclass(frozen=True)
class ResolvedEndpoint:
    """An endpoint as the daemon sees it: what `doctor` reports (never a key's value)."""

    name: str
    kind: str
    base_url: str
    key_name: str | None
    source: str  # "config", "built-in"


def endpoint_config(scheme: str, config: Config) -> EndpointConfig | None:
    if scheme in config.providers:
        return config.providers[scheme]
    if scheme in BUILTIN_ENDPOINTS:
        return BUILTIN_ENDPOINTS[scheme]
    if scheme in _DEFAULT_KEYS:
        return EndpointConfig(kind="anthropic" if scheme == "anthropic" else "openai")
    return None


def resolve_endpoint(scheme: str, config: Config) -> ResolvedEndpoint | None:
    endpoint = endpoint_config(scheme, config)
    if endpoint is None:
        return None
    return ResolvedEndpoint(
        name=scheme,
        kind=endpoint.kind,
        base_url=_base_url(scheme, endpoint, None),
        key_name=endpoint.api_key_name or _DEFAULT_KEYS.get(scheme),
        source="config" if scheme in config.providers else "built-in",
    )


def known_endpoints(config: Config) -> list[ResolvedEndpoint]:
    names = ["openai", "anthropic", *BUILTIN_ENDPOINTS, *config.providers]
    out = [resolve_endpoint(n, config) for n in dict.fromkeys(names)]
    return [e for e in out if e is not None]


def _base_url(scheme: str, endpoint: EndpointConfig, given: str | None) -> str:
    if given:
        return given
    if endpoint.base_url:
        return endpoint.base_url
    # The HTTP providers (and httpx) are imported when one is made, not with the loader.
    if endpoint.kind == "anthropic":
        from agentctl.providers.anthropic_messages import DEFAULT_BASE_URL as ANTHROPIC_URL

        return os.environ.get("ANTHROPIC_BASE_URL") or ANTHROPIC_URL
    from agentctl.providers.openai_chat import DEFAULT_BASE_URL as OPENAI_URL

    return os.environ.get("OPENAI_BASE_URL") or OPENAI_URL


def load_provider(
    spec: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    config: Config | None = None,
    keys: KeyStore | None = None,
    plugins: Mapping[str, PluginFactory] | None = None,
) -> Provider:
    """The provider of `spec`. A scheme is `replay`, an endpoint of config.toml, a
    plugin's (`agentctl.plugins`; it cannot take a built-in name), or a built-in endpoint."""
    config = config or Config()
    plugins = plugins or {}
    scheme, sep, rest = spec.partition(":")
    valid = (
        "valid model specs: "
        + ", ".join([*SCHEMES, *(f"{name}:MODEL" for name in plugins)])
        + " (an ENDPOINT is a [providers.NAME] table in config.toml, or one of "
        + ", ".join(BUILTIN_ENDPOINTS)
        + ")"
    )
    plugin = plugins.get(scheme) if scheme not in config.providers else None
    own = plugin is not None or scheme in _SCHEMES
    endpoint = None if own else endpoint_config(scheme, config)
    if not sep or (not own and endpoint is None):
        raise UsageError(f"unknown model provider in {spec!r}", hint=valid)
    if not rest:
        what = "a path" if scheme == "replay" else "a model name"
        raise UsageError(f"model spec {spec!r} needs {what} after '{scheme}:'", hint=valid)
    if timeout_s is not None and timeout_s <= 0:
        raise UsageError(f"timeout must be positive, got {timeout_s}")

    if scheme in _SCHEMES:
        return _SCHEMES[scheme](spec, rest, base_url)
    if plugin is not None:
        return _from_plugin(plugin, spec, rest, base_url)
    assert endpoint is not None

    if keys is None:
        from agentctl.paths import get_paths

        keys = KeyStore(get_paths().config)
    store = keys
    key_name = endpoint.api_key_name or _DEFAULT_KEYS.get(scheme)
    if api_key_env:
        # An explicit variable: it must be set now, and it is what is used.
        if not os.environ.get(api_key_env):
            raise UsageError(f"{api_key_env} is not set", hint="export it, or drop --api-key-env")
        var = api_key_env

        def key() -> str | None:
            return os.environ.get(var) or None

        key_env: str | None = api_key_env
    elif key_name:
        name = key_name

        def key() -> str | None:
            return store.get(name)

        key_env = env_var(key_name)
    else:

        def key() -> str | None:
            return None

        key_env = None

    from agentctl.providers.transport import Timeouts

    timeouts = Timeouts.of(
        timeout_s or endpoint.timeout_s, endpoint.connect_timeout_s, endpoint.read_timeout_s
    )
    prices = {**config.prices, **(prices or {})}
    url = _base_url(scheme, endpoint, base_url)
    common = {
        "spec": spec,
        "api_key": key,
        "api_key_env": key_env,
        "timeouts": timeouts,
        "prices": prices,
        "headers": endpoint.headers,
        "tool_choice": endpoint.tool_choice or "auto",
        "parallel_tool_calls": endpoint.parallel_tool_calls,
        "stream": True if endpoint.stream is None else endpoint.stream,
        "params": endpoint.params,
    }
    if endpoint.kind in _KEY_REQUIRED and not key():
        hint = f"`agentctl keys set {key_name}`, or export {key_env}" if key_name else None
        raise UsageError(f"{spec} needs an API key and none is set", hint=hint)
    return _KINDS[endpoint.kind](rest, url, endpoint, common)


class PluginFactory(Protocol):
    def __call__(self, spec: str, model: str, base_url: str | None) -> Provider: ...


def _replay(spec: str, rest: str, base_url: str | None) -> Provider:
    return ReplayProvider(rest)


# The schemes that are not endpoints; a plugin cannot take these, nor an endpoint's name.
_SCHEMES: dict[str, Callable[[str, str, str | None], Provider]] = {"replay": _replay}


def _from_plugin(factory: PluginFactory, spec: str, rest: str, base_url: str | None) -> Provider:
    try:
        provider = factory(spec, rest, base_url)
    except UsageError:
        raise
    except Exception as exc:  # a plugin's bug is the plugin's, said as such
        raise UsageError(
            f"the plugin provider of {spec!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(provider, Provider):
        raise UsageError(f"the plugin provider of {spec!r} returned {type(provider).__name__}")
    return _PluginProvider(provider)


class _PluginProvider(Provider):
    """A plugin's provider whose own bugs are not retried, and read as the plugin's."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.endpoint = inner.endpoint

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        step: int,
        on_delta: OnDelta | None = None,
    ) -> ModelResponse:
        try:
            return await self.inner.complete(messages, tools, step=step, on_delta=on_delta)
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(
                f"the model plugin of {self.spec} failed: {type(exc).__name__}: {exc}",
                retryable=False,
            ) from None

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def price_known(self) -> bool:
        return self.inner.price_known


def _openai(rest: str, url: str, endpoint: EndpointConfig, common: dict[str, Any]) -> Provider:
    from agentctl.providers import openai_chat

    return openai_chat.OpenAIChatProvider(
        rest,
        base_url=url,
        text_tool_calls=bool(endpoint.text_tool_calls),
        stream_tools=endpoint.stream_tools,
        **common,
    )


def _anthropic(rest: str, url: str, endpoint: EndpointConfig, common: dict[str, Any]) -> Provider:
    from agentctl.providers import anthropic_messages

    return anthropic_messages.AnthropicMessagesProvider(
        rest,
        base_url=url,
        max_tokens=endpoint.max_tokens or anthropic_messages.DEFAULT_MAX_TOKENS,
        **common,
    )


# An endpoint's `kind` (config.toml) is the API it speaks; some refuse every request keyless.
_KEY_REQUIRED = {"anthropic"}
_KINDS: dict[str, Callable[[str, str, EndpointConfig, dict[str, Any]], Provider]] = {
    "openai": _openai,
    "anthropic": _anthropic,
}


def builtin_schemes() -> list[str]:
    """The schemes no plugin may take."""
    return [*_SCHEMES, *_DEFAULT_KEYS, *BUILTIN_ENDPOINTS]


__all__ = [
    "BUILTIN_ENDPOINTS",
    "SCHEMES",
    "ResolvedEndpoint",
    "builtin_schemes",
    "endpoint_config",
    "known_endpoints",
    "load_provider",
    "resolve_endpoint",
]
