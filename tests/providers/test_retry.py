"""Backoff, the circuit breaker, and the retry loop against a real HTTP server."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from agentctl.errors import ProviderError
from agentctl.providers import (
    CircuitBreaker,
    CircuitOpenError,
    Message,
    ModelResponse,
    RetryPolicy,
    breaker_for,
    call_with_retries,
)
from agentctl.providers.openai_chat import OpenAIChatProvider
from tests.support.providers import ProviderFactory

from .fake_server import FakeModelServer, Reply, openai_completion

ASK = [Message("user", "hello")]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def state(breaker: CircuitBreaker) -> str:
    # A call, not the property: mypy would narrow the property across state changes.
    return breaker.state


@dataclass
class Trace:
    """What the runtime would append: model.requested / model.failed, and the sleeps."""

    clock: FakeClock | None = None
    attempts: list[int] = field(default_factory=list)
    failures: list[tuple[ProviderError, int, float | None]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    async def on_attempt(self, attempt: int) -> None:
        self.attempts.append(attempt)

    async def on_failure(
        self, error: ProviderError, attempt: int, retry_in_ms: float | None
    ) -> None:
        self.failures.append((error, attempt, retry_in_ms))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)


async def call(
    provider: OpenAIChatProvider,
    trace: Trace,
    *,
    policy: RetryPolicy | None = None,
    breaker: CircuitBreaker | None = None,
) -> ModelResponse:
    return await call_with_retries(
        provider,
        ASK,
        [],
        step=0,
        policy=policy or RetryPolicy(),
        breaker=breaker or CircuitBreaker(),
        on_attempt=trace.on_attempt,
        on_failure=trace.on_failure,
        sleep=trace.sleep,
        rng=random.Random(7),
    )


@pytest.fixture
def provider(fake: FakeModelServer, make_provider: ProviderFactory) -> OpenAIChatProvider:
    made = make_provider("openai:test-model", base_url=f"{fake.url}/v1", timeout_s=0.5)
    assert isinstance(made, OpenAIChatProvider)
    return made


# --- RetryPolicy -------------------------------------------------------------


def test_delays_grow_exponentially_within_the_jitter() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=30.0, jitter=0.2)
    rng = random.Random(1)
    delays = [policy.delay_s(attempt, rng=rng) for attempt in range(1, 7)]
    for attempt, delay in enumerate(delays, start=1):
        nominal = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert nominal * 0.8 <= delay <= min(30.0, nominal * 1.2)
    assert delays == sorted(delays)


def test_delays_are_capped() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=5.0, jitter=0.0)
    assert [policy.delay_s(a) for a in (1, 2, 3, 4, 10, 200)] == [1, 2, 4, 5, 5, 5]


def test_retry_after_is_a_floor_capped_at_the_maximum() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=30.0, jitter=0.0)
    assert policy.delay_s(1, retry_after_s=4.0) == 4.0
    assert policy.delay_s(5, retry_after_s=1.0) == 8.0  # backoff is longer than Retry-After
    assert policy.delay_s(1, retry_after_s=600.0) == 30.0


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().delay_s(0)


# --- call_with_retries over real HTTP ----------------------------------------


async def test_transient_failures_are_retried_with_growing_delays(
    fake: FakeModelServer, provider: OpenAIChatProvider
) -> None:
    fake.script(
        Reply.error(429, "slow down"),
        Reply.error(500, "boom"),
        Reply.never(),  # the client times out after 0.5 s
        Reply.error(503, "unavailable"),
        Reply.json(openai_completion("finally")),
    )
    trace = Trace()

    response = await call(provider, trace)

    assert response.text == "finally"
    assert len(fake.requests) == 5
    assert trace.attempts == [1, 2, 3, 4, 5]
    assert [(e.status, a) for e, a, _ in trace.failures] == [
        (429, 1),
        (500, 2),
        (None, 3),
        (503, 4),
    ]
    assert all(e.retryable for e, _, _ in trace.failures)
    assert "timed out" in str(trace.failures[2][0])
    assert trace.sleeps == sorted(trace.sleeps) and len(set(trace.sleeps)) == 4
    # The delay reported to the runtime is the one slept.
    assert [ms for _, _, ms in trace.failures] == pytest.approx([s * 1000 for s in trace.sleeps])


async def test_client_errors_are_not_retried(
    fake: FakeModelServer, provider: OpenAIChatProvider
) -> None:
    fake.script(Reply.error(400, "invalid tools"), Reply.json(openai_completion("never used")))
    trace = Trace()
    breaker = CircuitBreaker(failure_threshold=1)

    with pytest.raises(ProviderError, match="HTTP 400") as caught:
        await call(provider, trace, breaker=breaker)

    assert caught.value.retryable is False
    assert len(fake.requests) == 1
    assert trace.attempts == [1]
    assert [(a, ms) for _, a, ms in trace.failures] == [(1, None)]
    assert trace.sleeps == []
    assert state(breaker) == "closed"  # a 400 is not the endpoint's fault


async def test_gives_up_after_max_attempts(
    fake: FakeModelServer, provider: OpenAIChatProvider
) -> None:
    fake.script(*[Reply.error(502, "bad gateway")] * 3)
    trace = Trace()

    with pytest.raises(ProviderError, match="HTTP 502"):
        await call(provider, trace, policy=RetryPolicy(max_attempts=3))

    assert trace.attempts == [1, 2, 3]
    assert [a for _, a, _ in trace.failures] == [1, 2, 3]
    assert trace.failures[-1][2] is None  # no retry announced after the last attempt
    assert len(trace.sleeps) == 2


async def test_retry_after_is_honoured(fake: FakeModelServer, provider: OpenAIChatProvider) -> None:
    fake.script(
        Reply.error(429, "slow down", headers={"retry-after": "12"}),
        Reply.json(openai_completion("ok")),
    )
    trace = Trace()
    await call(provider, trace)
    assert trace.sleeps == [12.0]
    assert trace.failures[0][2] == 12000.0


# --- CircuitBreaker ----------------------------------------------------------


def test_breaker_state_machine() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=10.0, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert state(breaker) == "closed"
    breaker.record_success()  # a success resets the count of consecutive failures
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert state(breaker) == "open"

    clock.advance(4.0)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.before_call()
    assert refused.value.retryable is True
    assert refused.value.retry_in_s == pytest.approx(6.0)

    clock.advance(6.0)
    assert state(breaker) == "half_open"
    breaker.before_call()  # the one trial call
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # others wait while it is in flight
    breaker.record_failure()  # the trial failed: open again, for a full period
    assert state(breaker) == "open"
    assert breaker.retry_in_s() == pytest.approx(10.0)

    clock.advance(10.0)
    breaker.before_call()
    breaker.record_success()
    assert state(breaker) == "closed"
    breaker.before_call()


def test_a_lost_trial_does_not_wedge_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5.0, clock=clock)
    breaker.record_failure()
    clock.advance(5.0)
    breaker.before_call()  # a trial whose caller is cancelled and never reports
    clock.advance(5.0)
    breaker.before_call()  # a new trial is allowed


def test_breakers_are_shared_per_endpoint() -> None:
    assert breaker_for("http://a/v1") is breaker_for("http://a/v1")
    assert breaker_for("http://a/v1") is not breaker_for("http://b/v1")


async def test_breaker_opens_refuses_and_recovers_over_http(
    fake: FakeModelServer, provider: OpenAIChatProvider
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=20.0, clock=clock)
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.5, jitter=0.0)

    # Three consecutive 500s (each different: not deterministic): the session gives up
    # and the breaker opens.
    fake.script(*[Reply.error(500, f"down {i}") for i in range(3)])
    trace = Trace(clock=clock)
    with pytest.raises(ProviderError, match="HTTP 500"):
        await call(provider, trace, policy=policy, breaker=breaker)
    assert state(breaker) == "open"
    assert len(fake.requests) == 3

    # While open, calls are refused without touching the network.
    trace = Trace()  # its sleeps do not move the clock
    with pytest.raises(CircuitOpenError):
        await call(provider, trace, policy=policy, breaker=breaker)
    assert len(fake.requests) == 3
    assert trace.attempts == [1, 2, 3]  # each refusal is a recorded attempt
    assert all(isinstance(e, CircuitOpenError) for e, _, _ in trace.failures)
    assert trace.failures[0][2] == pytest.approx(20_000.0)  # waits for the breaker
    assert trace.failures[-1][2] is None

    # The session sleeps out the open period; the trial call succeeds and closes it.
    fake.script(Reply.json(openai_completion("back")))
    trace = Trace(clock=clock)
    response = await call(provider, trace, policy=policy, breaker=breaker)
    assert response.text == "back"
    assert trace.attempts == [1, 2]
    assert isinstance(trace.failures[0][0], CircuitOpenError)
    assert trace.sleeps == [pytest.approx(20.0)]
    assert state(breaker) == "closed"
    assert len(fake.requests) == 4


async def test_failed_trial_reopens_the_breaker(
    fake: FakeModelServer, provider: OpenAIChatProvider
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5.0, clock=clock)
    fake.script(Reply.error(503), Reply.error(503), Reply.json(openai_completion("ok")))
    trace = Trace(clock=clock)
    policy = RetryPolicy(max_attempts=5, base_delay_s=0.1, jitter=0.0)

    response = await call(provider, trace, policy=policy, breaker=breaker)

    assert response.text == "ok"
    # 503 opens it; the backoff sleep is shorter than the open period, so the next
    # attempt is refused and waits the rest; the trial gets 503 and reopens it;
    # the next attempt is refused again; the second trial succeeds.
    kinds = [type(e).__name__ for e, _, _ in trace.failures]
    assert kinds == [
        "ProviderRequestError",
        "CircuitOpenError",
        "ProviderRequestError",
        "CircuitOpenError",
    ]
    assert len(fake.requests) == 3
    assert state(breaker) == "closed"
