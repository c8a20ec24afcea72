"""Helpers of the provider tests: the environment no test may inherit, the provider factory."""

from __future__ import annotations

from collections.abc import Callable

from agentctl.providers import Provider

# No real key, base URL or proxy from the developer's shell leaks into a test.
ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)

# The `make_provider` fixture: `load_provider(spec, **kwargs)`, closed when the test ends.
ProviderFactory = Callable[..., Provider]
