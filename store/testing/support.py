"""What the parts of the contract share: events to append, threads, the fixtures."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from store import (
    EventStore,
    NewEvent,
)


def ev(i: int = 0, type_: str = "thing.happened", **data: Any) -> NewEvent:
    return NewEvent(type_, {"i": i, **data})


def run_threads(count: int, target: Any) -> None:
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


MakeStore = Callable[..., EventStore]


class ContractBase:
    """The fixtures every part of the contract uses; a subclass gives `make_store`."""

    @pytest.fixture
    def make_store(self) -> Iterator[MakeStore]:
        raise NotImplementedError("a subclass gives the make_store fixture of its backend")

    @pytest.fixture
    def log(self, make_store: MakeStore) -> EventStore:
        return make_store()
