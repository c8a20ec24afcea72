"""Cost of a response: model -> (USD per 1M input tokens, USD per 1M output tokens).

Two sources: `[prices]` in config.toml, looked up by the whole spec
(`local:smol`) and then by the model name, and a built-in table of
well-known hosted models, matched by the longest name the model starts with
(Anthropic's dated names, `claude-sonnet-4-20250514`, find `claude-sonnet-4`).
Config wins: prices change, and the table is only as fresh as this release.

A model found in neither has no known cost: `None`, shown as "unknown", never
0.0 — an honest zero would let `--max-cost` believe a paid model is free.
The runtime refuses `--max-cost` for such a model instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentctl.providers.base import Usage

Prices = Mapping[str, tuple[float, float]]

# USD per million tokens, as published by each vendor (checked 2025-11).
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
}


def price_of(prices: Prices | None, spec: str, model: str) -> tuple[float, float] | None:
    """The price of `model` (served as `spec`), or None when no source knows it."""
    configured = prices or {}
    for name in (spec, model):
        if name in configured:
            return configured[name]
    best = ""
    for name in BUILTIN_PRICES:
        if (model == name or model.startswith(name + "-")) and len(name) > len(best):
            best = name
    return BUILTIN_PRICES[best] if best else None


def cost_usd(price: tuple[float, float] | None, usage: Usage) -> float | None:
    """The cost of `usage` at `price`; None when the price or the usage is unknown."""
    if price is None:
        return None
    if price == (0, 0):  # a free (local) model costs nothing, reported usage or not
        return 0.0
    if not usage.reported:
        return None
    per_million_in, per_million_out = price
    return (usage.input_tokens * per_million_in + usage.output_tokens * per_million_out) / 1e6
