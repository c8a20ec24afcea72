"""Cost of a response from a price table: model -> (USD per 1M input, USD per 1M output).

No built-in table: prices change, and a stale number in a budget is worse than
an honest 0.0. The caller passes the table from its configuration; a model
that is not in it costs 0.0.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentctl.providers.base import Usage

Prices = Mapping[str, tuple[float, float]]


def cost_usd(prices: Prices | None, model: str, usage: Usage) -> float:
    if not prices or model not in prices:
        return 0.0
    per_million_in, per_million_out = prices[model]
    return (usage.input_tokens * per_million_in + usage.output_tokens * per_million_out) / 1e6
