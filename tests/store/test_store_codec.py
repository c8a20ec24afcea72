"""The store's JSON reading is `json.loads`, whatever the text: Hypothesis draws JSON
values, each written as the store writes it, and the fast parser must give back
exactly what `json.loads` does (types included: an int is not a float)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from store.codec import loads

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (and -0.0 kept apart from 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(values)
def test_loads_reads_what_json_loads_reads(value: Any) -> None:
    for text in (
        json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")),
        json.dumps(value),  # escaped, as older text may be
    ):
        assert same(loads(text), json.loads(text)), text


def test_an_escaped_lone_surrogate_reads_as_json_loads_reads_it() -> None:
    text = '{"a":"\\ud800","b":[1,2.5]}'
    assert loads(text) == json.loads(text) == {"a": "\ud800", "b": [1, 2.5]}
