"""Fixtures: one fake model server per test session, reset before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agentctl.providers import Provider, load_provider
from agentctl.providers.retry import reset_breakers
from tests.support.providers import ENV_VARS, ProviderFactory

from .fake_server import FakeModelServer


@pytest.fixture(scope="session")
def model_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(model_server: FakeModelServer) -> Iterator[FakeModelServer]:
    model_server.reset()
    yield model_server
    model_server.reset()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real key, base URL or proxy from the developer's shell leaks into a test."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    reset_breakers()
    yield
    reset_breakers()


@pytest.fixture
async def make_provider() -> AsyncIterator[ProviderFactory]:
    """`load_provider` whose providers are closed when the test ends."""
    made: list[Provider] = []

    def make(spec: str, **kwargs: Any) -> Provider:
        provider = load_provider(spec, **kwargs)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()
