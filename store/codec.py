"""Checking and encoding events before they reach the writer, decoding them after.

Every check runs in the caller's thread, before anything is queued: a bad
append fails at once with a precise message and never costs the writer (or
the other appends of its batch) anything. The data goes to JSON text here and
back to a dict right away, so an append returns exactly what a later read
will: tuples become lists, keys become strings.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json

from store.events import (
    EventTooLargeError,
    InvalidArgumentError,
    NewEvent,
    SerializationError,
    StoredEvent,
)


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """A checked `NewEvent`: its data as JSON text and as the dict JSON makes of it."""

    type: str
    json: str
    data: dict[str, Any]
    ts: datetime | None  # tz-aware UTC, or None for "the time of the commit"


def encode_append(
    stream: str, events: Sequence[NewEvent], expected_seq: int, max_event_bytes: int
) -> list[EncodedEvent]:
    """Check the arguments of an append and encode its events, or raise a `StoreError`."""
    check_stream(stream)
    if isinstance(expected_seq, bool) or not isinstance(expected_seq, int) or expected_seq < 1:
        raise InvalidArgumentError(
            f"expected_seq must be an int >= 1 (the seq of the first new event), got {expected_seq!r}"
        )
    if isinstance(events, NewEvent) or not isinstance(events, Sequence):
        raise InvalidArgumentError("events must be a sequence of NewEvent")
    if not events:
        raise InvalidArgumentError(f"append to stream {stream!r} with no events")
    return [_encode(event, max_event_bytes) for event in events]


def encode_snapshot(data: Mapping[str, Any], max_bytes: int) -> str:
    """A snapshot's data as JSON text, checked like an event's."""
    return _encode(NewEvent("snapshot", data), max_bytes).json


_SNAPSHOT_KEY = re.compile(r"[A-Za-z0-9_-]{1,200}")


def check_snapshot_keys(
    only: Collection[str] | None, omit: Collection[str]
) -> tuple[list[str] | None, list[str]]:
    """The keys of `read_snapshots(only=..., omit=...)`, checked: plain names (letters,
    digits, `_`, `-`), as lists; one of the two at most."""
    if only is not None and omit:
        raise InvalidArgumentError("read_snapshots takes `only` or `omit`, not both")
    for name, keys in (("only", only), ("omit", omit)):
        if keys is None:
            continue
        if isinstance(keys, str) or not isinstance(keys, Collection):
            raise InvalidArgumentError(f"{name} must be a collection of keys, got {keys!r}")
        for key in keys:
            if not isinstance(key, str) or not _SNAPSHOT_KEY.fullmatch(key):
                raise InvalidArgumentError(
                    f"a snapshot key must be letters, digits, '_' or '-', got {key!r}"
                )
    return (None if only is None else list(only)), list(omit)


def project_snapshot(
    data: dict[str, Any], only: Sequence[str] | None, omit: Sequence[str]
) -> dict[str, Any]:
    """A snapshot's data narrowed as `read_snapshots(only=..., omit=...)` says (in Python)."""
    if only is not None:
        return {key: data[key] for key in only if key in data}
    if omit:
        return {key: value for key, value in data.items() if key not in omit}
    return data


def check_stream(stream: str) -> None:
    if not isinstance(stream, str) or not stream:
        raise InvalidArgumentError(f"a stream id must be a non-empty string, got {stream!r}")
    _check_text("stream id", stream)


def check_cursor(after: int, limit: int | None) -> None:
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidArgumentError(f"after must be an int >= 0, got {after!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidArgumentError(f"limit must be None or an int >= 0, got {limit!r}")


def loads(text: str) -> Any:
    """What `json.loads` makes of the text the store wrote, three times as fast.

    pydantic-core's parser gives the same objects for every text `_encode`
    writes (big ints, floats to the bit, the last of repeated keys); it
    refuses an escaped lone surrogate, which `json.loads` reads, so that text
    goes to `json.loads`.
    """
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


def decode(stream: str, seq: int, offset: int, ts: datetime, type_: str, data: str) -> StoredEvent:
    """A stored row back to an event; `ts` may be naive (then it is UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return StoredEvent(stream, seq, offset, ts, type_, loads(data))


def _encode(event: NewEvent, max_event_bytes: int) -> EncodedEvent:
    if not isinstance(event, NewEvent):
        raise InvalidArgumentError(f"events must be NewEvent instances, got {type(event).__name__}")
    if not isinstance(event.type, str) or not event.type:
        raise InvalidArgumentError(f"an event type must be a non-empty string, got {event.type!r}")
    _check_text("event type", event.type)
    if not isinstance(event.data, Mapping):
        raise SerializationError(
            f"data of event {event.type!r} must be a mapping, got {type(event.data).__name__}"
        )
    try:
        text = json.dumps(
            event.data, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_mapping
        )
        size = len(text.encode("utf-8")) + len(event.type.encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        try:
            where = _first_unserialisable(event.data, "data", set()) or "data"
        except RecursionError:
            where = "data (nested too deeply)"
        raise SerializationError(
            f"data of event {event.type!r} is not JSON-serialisable at {where}: {exc}"
        ) from None
    if size > max_event_bytes:
        raise EventTooLargeError(size, max_event_bytes, event_type=event.type)
    return EncodedEvent(event.type, text, loads(text), _utc(event))


def _mapping(value: object) -> dict[Any, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _utc(event: NewEvent) -> datetime | None:
    ts = event.ts
    if ts is None:
        return None
    if not isinstance(ts, datetime) or ts.tzinfo is None or ts.utcoffset() is None:
        raise InvalidArgumentError(
            f"ts of event {event.type!r} must be a timezone-aware datetime, got {ts!r}"
        )
    return ts.astimezone(UTC)


def _check_text(what: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(f"{what} {text!r} is not valid UTF-8 text") from None


def _first_unserialisable(value: object, path: str, seen: set[int]) -> str | None:
    """The path of the first value JSON refuses, to name it in the error."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path} (a string with a lone surrogate)"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} ({value!r} is not valid JSON)"
    if isinstance(value, Mapping | list | tuple):
        if id(value) in seen:
            return f"{path} (a circular reference)"
        seen.add(id(value))
        try:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if not isinstance(key, str | int | float | bool) and key is not None:
                        return f"{path} (key {key!r} of type {type(key).__name__})"
                    found = _first_unserialisable(item, f"{path}.{key}", seen)
                    if found:
                        return found
            else:
                for index, item in enumerate(value):
                    found = _first_unserialisable(item, f"{path}[{index}]", seen)
                    if found:
                        return found
        finally:
            seen.discard(id(value))
        return None
    return f"{path} (a {type(value).__name__})"
