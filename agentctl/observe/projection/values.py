"""What the stats SQL makes of a value: its casts of a JSON field, its clock, its arithmetic.

The projection must give the figures `agentctl.observe.stats`'s SQL gives, so
it reads an event's data as DuckDB reads `x->>'$.f'` cast to BIGINT, DOUBLE
or BOOLEAN, keeps time as UTC microseconds (DuckDB's TIMESTAMP), and rounds
and interpolates as DuckDB's `round` and `quantile_cont` do.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

HOUR_US = 3_600_000_000
NULL_TOOL = "\x00"  # a JSON key for a tool without a name (SQL's NULL group)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


# --- time ----------------------------------------------------------------------------------


def to_us(ts: datetime) -> int:
    """Microseconds since the epoch (a naive `ts` is UTC, as the log's column)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _US


def from_us(us: int) -> datetime:
    """Naive UTC, as DuckDB returns a TIMESTAMP."""
    return (_EPOCH + timedelta(microseconds=us)).replace(tzinfo=None)


def interval_ms(us: int) -> int:
    """epoch_ms of an interval: whole milliseconds, toward zero."""
    return us // 1000 if us >= 0 else -((-us) // 1000)


# --- SQL's casts of a JSON value read with ->> ---------------------------------------------


def bigint(value: Any) -> int | None:
    """TRY_CAST(x->>'$.f' AS BIGINT): ints, numeric text, a float rounded half away from 0."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return int(stripped)
        except ValueError:
            pass
        try:
            value = float(stripped)
        except ValueError:
            return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return None


def double(value: Any) -> float | None:
    """TRY_CAST(x->>'$.f' AS DOUBLE)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def boolean(value: Any) -> bool | None:
    """TRY_CAST(x->>'$.f' AS BOOLEAN)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def text(value: Any) -> str | None:
    """x->>'$.f': a string as it is; anything else but null as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def get(data: Any, *path: str) -> Any:
    """data->'$.a.b': None where a step is missing or not an object."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def add(total: Any, value: Any) -> Any:
    """SQL's SUM: NULLs are left out; NULL when every value is."""
    if value is None:
        return total
    return value if total is None else total + value


# --- DuckDB's numerics ---------------------------------------------------------------------


def sql_round(value: float | None, digits: int) -> float | None:
    """DuckDB's round of a DOUBLE: the exact binary value, ties away from zero."""
    if value is None or not math.isfinite(value):
        return value
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


def quantile_cont(values: list[float], q: float) -> float | None:
    """DuckDB's quantile_cont: linear between the two nearest ranks; sorts `values`.

    To the last bit: DuckDB's build computes `lo * (1 - d) + hi * d` with a fused
    multiply-add (hi * d rounded, then one rounding); so does this, in fractions.
    """
    if not values:
        return None
    values.sort()
    pos = (len(values) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return values[lo]
    d = pos - lo
    return float(Fraction(values[lo]) * Fraction(1.0 - d) + Fraction(values[hi] * d))


def nulls_last(value: Any) -> tuple[bool, Any]:
    """A sort key that orders as SQL's ORDER BY x NULLS LAST."""
    return (value is None, value if value is not None else 0)
