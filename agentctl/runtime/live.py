"""Live model output: streamed deltas fanned out to attached clients, never stored.

The log keeps one `model.responded` per call (docs/design.md §3); a person watching
`run`, `attach` or the TUI still wants the text as it forms. So the step
machine publishes each delta here, and the daemon's event stream of a
session merges them in for clients that ask (`live=1`), as envelopes of type
`model.delta` carrying the seq of the session's last event.

The bus keeps the response so far of each call in flight: a client that
attaches mid-call first gets it whole (`snapshot`), then the deltas after
it. Everything runs on the event loop; subscribers only enqueue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentctl.protocol import ModelDelta, ToolCallDeltaData
from agentctl.providers.base import Delta

Subscriber = Callable[[int, dict[str, Any]], None]  # (seq, ModelDelta data)


@dataclass
class _Partial:
    seq: int
    text: str = ""
    reasoning: str = ""
    calls: dict[int, ToolCallDeltaData] = field(default_factory=dict)


class LiveBus:
    def __init__(self, redact: Callable[[Any], Any] | None = None) -> None:
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._partial: dict[str, _Partial] = {}
        self._redact = redact or (lambda value: value)

    def subscribe(self, session_id: str, subscriber: Subscriber) -> Callable[[], None]:
        """Deliver the session's deltas to `subscriber`; returns the function that stops it."""
        self._subscribers.setdefault(session_id, []).append(subscriber)
        partial = self._partial.get(session_id)
        if partial is not None and (partial.text or partial.reasoning or partial.calls):
            snapshot = ModelDelta(
                text=partial.text,
                reasoning=partial.reasoning,
                tool_calls=list(partial.calls.values()),
                snapshot=True,
            )
            subscriber(partial.seq, self._redact(snapshot.model_dump(mode="json")))

        def unsubscribe() -> None:
            subscribers = self._subscribers.get(session_id, [])
            if subscriber in subscribers:
                subscribers.remove(subscriber)
            if not subscribers:
                self._subscribers.pop(session_id, None)

        return unsubscribe

    def publish(self, session_id: str, seq: int, delta: Delta) -> None:
        partial = self._partial.setdefault(session_id, _Partial(seq))
        partial.text += delta.text
        partial.reasoning += delta.reasoning
        calls = []
        for call in delta.tool_calls:
            known = partial.calls.get(call.index)
            whole = ToolCallDeltaData(
                index=call.index,
                id=call.id or (known.id if known else ""),
                name=call.name or (known.name if known else ""),
                args=(known.args if known else "") + call.arguments,
            )
            partial.calls[call.index] = whole
            calls.append(
                ToolCallDeltaData(
                    index=call.index, id=whole.id, name=whole.name, args=call.arguments
                )
            )
        subscribers = self._subscribers.get(session_id)
        if not subscribers:
            return
        data = self._redact(
            ModelDelta(text=delta.text, reasoning=delta.reasoning, tool_calls=calls).model_dump(
                mode="json"
            )
        )
        for subscriber in list(subscribers):
            subscriber(seq, data)

    def end(self, session_id: str) -> None:
        """The call is over (answered, failed or cancelled): forget its partial response."""
        self._partial.pop(session_id, None)


__all__ = ["LiveBus"]
