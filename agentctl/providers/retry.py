"""Retries with backoff, and a circuit breaker per endpoint (docs/design.md §4).

Providers make one attempt per call; this module is the loop around them that
the runtime uses, with a hook before each attempt and after each failure so
that every attempt is an event (`model.requested`, `model.failed`).

The breaker is per endpoint and process-wide (`breaker_for`), because many
sessions in one daemon share one endpoint: once it has failed
`failure_threshold` times in a row, calls are refused without touching the
network until `reset_after_s` has passed; then one trial call goes through,
and its outcome closes the breaker or opens it again. Only retryable failures
count: a 400 means the endpoint answered and the request was wrong.

Two refinements, both about telling a person what is really wrong:

- the breaker remembers the last error that counted, and its refusal says
  it (`circuit open … last error: HTTP 500 …: the server's message`);
- an HTTP 500 that repeats word for word (same status, same body) is
  deterministic: retrying cannot help, and five of them would open the
  breaker and bury the message. The second one stops the retries, as a
  non-retryable error that names the server's message.

`resume` of a session calls `allow_trial` so a person who brought the server
back does not wait out the breaker.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agentctl.errors import ProviderError
from agentctl.providers.base import (
    Message,
    ModelResponse,
    OnDelta,
    Provider,
    ProviderRequestError,
    ToolSpec,
    retry_after_of,
)

_RNG = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.2  # each delay is scaled by a factor in [1 - jitter, 1 + jitter]

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay_s(
        self,
        attempt: int,
        retry_after_s: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based).

        Exponential: base, 2*base, 4*base, ... with jitter so that sessions
        that failed together do not retry together; never more than
        `max_delay_s`. A server's Retry-After is a floor (waiting less would
        only earn another 429), also capped at `max_delay_s`.
        """
        if attempt < 1:
            raise ValueError(f"attempt starts at 1, got {attempt}")
        exponent = min(attempt - 1, 62)  # 2**62 * base is past any cap; avoids float overflow
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0**exponent)
        if self.jitter:
            backoff *= (rng or _RNG).uniform(1.0 - self.jitter, 1.0 + self.jitter)
        if retry_after_s is not None:
            backoff = max(backoff, retry_after_s)
        return max(0.0, min(self.max_delay_s, backoff))


class CircuitOpenError(ProviderRequestError):
    """The endpoint's breaker is open: the call was refused without being sent."""

    def __init__(self, endpoint: str, retry_in_s: float, last_error: str | None = None) -> None:
        cause = f"; last error: {last_error}" if last_error else ""
        super().__init__(
            f"circuit open for {endpoint}: too many consecutive failures{cause}; "
            f"next trial in {retry_in_s:.1f} s",
            retryable=True,
            retry_after_s=retry_in_s,
        )
        self.last_error = last_error
        self.endpoint = endpoint
        self.retry_in_s = retry_in_s


BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """closed -> open after N consecutive retryable failures -> half-open after a pause.

    In half-open one trial call is let through; the others are refused until
    it reports. A trial that never reports (its caller was cancelled) stops
    blocking after another `reset_after_s`, so the breaker cannot wedge.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        endpoint: str = "endpoint",
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self.endpoint = endpoint
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_started_at: float | None = None
        self.last_error: str | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after_s:
            return "half_open"
        return "open"

    def retry_in_s(self) -> float:
        """Seconds until the breaker lets a call through; 0.0 when it would now."""
        if self._opened_at is None:
            return 0.0
        now = self._clock()
        remaining = self._opened_at + self.reset_after_s - now
        if remaining > 0:
            return remaining
        if self._trial_started_at is not None:
            return max(0.0, self._trial_started_at + self.reset_after_s - now)
        return 0.0

    def before_call(self) -> None:
        """Let the call through, or raise `CircuitOpenError` with the time to wait."""
        state = self.state
        if state == "closed":
            return
        wait = self.retry_in_s()
        if state == "half_open" and wait == 0.0:
            self._trial_started_at = self._clock()
            return
        raise CircuitOpenError(self.endpoint, wait, self.last_error)

    def allow_trial(self) -> None:
        """Let the next call through at once (a person resumed: the endpoint may be back)."""
        if self._opened_at is not None:
            # a second back, not exactly reset_after_s: float rounding must not keep it open
            self._opened_at = self._clock() - self.reset_after_s - 1.0
            self._trial_started_at = None

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_started_at = None
        self.last_error = None

    def record_failure(self, error: str | None = None) -> None:
        self._failures += 1
        if error is not None:
            self.last_error = error
        was_trial = self._trial_started_at is not None
        if was_trial or (self._opened_at is None and self._failures >= self.failure_threshold):
            self._opened_at = self._clock()
            self._trial_started_at = None

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.endpoint} {self.state} failures={self._failures}>"


_BREAKERS: dict[str, CircuitBreaker] = {}


def breaker_for(endpoint: str) -> CircuitBreaker:
    """The process-wide breaker of `endpoint`, made on first use."""
    breaker = _BREAKERS.get(endpoint)
    if breaker is None:
        breaker = _BREAKERS[endpoint] = CircuitBreaker(endpoint=endpoint)
    return breaker


def reset_breakers() -> None:
    """Forget every breaker (tests; an operator's `agentctl daemon` reload)."""
    _BREAKERS.clear()


class DeterministicServerError(ProviderRequestError):
    """The same server error twice in a row: not retried, the server's message kept."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(
            f"{error.message} (the same reply twice in a row: not retried)",
            retryable=False,
            status=error.status,
            hint=error.hint,
        )


OnAttempt = Callable[[int], Awaitable[None]]
OnFailure = Callable[[ProviderError, int, float | None], Awaitable[None]]


async def call_with_retries(
    provider: Provider,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
    *,
    step: int,
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    on_attempt: OnAttempt,
    on_failure: OnFailure,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
    on_delta: OnDelta | None = None,
) -> ModelResponse:
    """Ask `provider` for step `step`, retrying transient failures.

    For each attempt: `on_attempt(attempt)`, then the call; on a failure,
    `on_failure(error, attempt, retry_in_ms)` where `retry_in_ms` is None
    when no retry follows (the error is then raised). A refusal by the open
    breaker counts as a failed attempt that waits for the breaker.
    """
    previous: str | None = None  # the fingerprint of the last server error
    for attempt in range(1, policy.max_attempts + 1):
        await on_attempt(attempt)
        last = attempt == policy.max_attempts
        try:
            breaker.before_call()
        except CircuitOpenError as refused:
            if last:
                await on_failure(refused, attempt, None)
                raise
            await on_failure(refused, attempt, refused.retry_in_s * 1000.0)
            await sleep(refused.retry_in_s)
            continue
        try:
            response = await provider.complete(messages, tools, step=step, on_delta=on_delta)
        except ProviderError as error:
            # Only a 500 is taken as deterministic: 502/503/504 and 429 repeat their
            # body by nature (a gateway's page, "overloaded") and do pass.
            fingerprint = getattr(error, "fingerprint", None) if error.status == 500 else None
            if error.retryable and fingerprint is not None and fingerprint == previous:
                error = DeterministicServerError(error)
            previous = fingerprint
            if error.retryable:
                breaker.record_failure(error.message)
            else:
                # The endpoint answered; it is the request that is wrong.
                breaker.record_success()
            if not error.retryable or last:
                await on_failure(error, attempt, None)
                raise error from None
            delay = policy.delay_s(attempt, retry_after_of(error), rng)
            await on_failure(error, attempt, delay * 1000.0)
            await sleep(delay)
            continue
        breaker.record_success()
        return response
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover
