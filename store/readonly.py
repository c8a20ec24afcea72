"""The guard of `DuckDBEventStore.query`: one read-only statement, or a refusal.

The check asks DuckDB's own parser for the statements and their types rather
than matching text, so comments, case, CTEs and string literals cannot fool
it. DESCRIBE, SHOW and SUMMARIZE parse as SELECT. EXPLAIN is let through only
over a SELECT, because EXPLAIN ANALYZE runs its statement. The query then
runs in a transaction that is always rolled back, a second fence should
anything that writes ever pass as a SELECT.
"""

from __future__ import annotations

import duckdb

from store.events import StoreError


def check_read_only(sql: str) -> None:
    """Raise `StoreError` ("read-only: ... refused") unless `sql` is one read-only statement."""
    statement = _single_statement(sql)
    if statement.type == duckdb.StatementType.SELECT:
        return
    if statement.type == duckdb.StatementType.EXPLAIN:
        inner = _single_statement(_explained(statement.query))
        if inner.type == duckdb.StatementType.SELECT:
            return
        raise StoreError(f"read-only: EXPLAIN of a {inner.type.name} statement refused")
    raise StoreError(f"read-only: {statement.type.name} statement refused")


def _single_statement(sql: str) -> duckdb.Statement:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"read-only: the query does not parse, refused: {exc}") from exc
    if len(statements) != 1:
        raise StoreError(
            f"read-only: exactly one statement allowed, got {len(statements)}, refused"
        )
    return statements[0]


def _explained(sql: str) -> str:
    """The statement an EXPLAIN is about: what follows EXPLAIN [ANALYZE] [(options)]."""
    all_tokens = duckdb.tokenize(sql)
    # (start, text, kind) of each token but comments; a token's text runs to the next token.
    tokens = [
        (start, sql[start:end].strip().lower(), kind)
        for (start, kind), end in zip(
            all_tokens, [p for p, _ in all_tokens[1:]] + [len(sql)], strict=True
        )
        if kind != duckdb.token_type.comment
    ]
    index = 1  # tokens[0] is EXPLAIN
    if index < len(tokens) and tokens[index][1] in {"analyze", "analyse"}:
        index += 1
    if index < len(tokens) and tokens[index][1].startswith("("):
        depth = 0
        while index < len(tokens):
            _, text, kind = tokens[index]
            if kind == duckdb.token_type.operator:  # not a paren inside a string
                depth += text.count("(") - text.count(")")
            index += 1
            if depth <= 0:
                break
    if index >= len(tokens):
        raise StoreError("read-only: EXPLAIN without a statement, refused")
    return sql[tokens[index][0] :]
