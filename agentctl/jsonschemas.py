"""JSON Schema checks shared by MCP tools, elicitation answers and `delegate` schemas.

jsonschema is imported on first use: a daemon that never meets a schema does
not pay for it (tests/daemon/test_lazy_imports.py keeps it so).
"""

from __future__ import annotations

from typing import Any


def validator_class(schema: dict[str, Any]) -> Any:
    """The validator class of the draft `schema` names (2020-12 when it names none)."""
    import jsonschema

    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def validator_of(schema: dict[str, Any], *, formats: bool = False) -> Any:
    """A validator of `schema`; with `formats`, checking email, date, uri and the like."""
    cls = validator_class(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER) if formats else cls(schema)


def schema_error(schema: dict[str, Any]) -> str | None:
    """None for a valid schema, else what is wrong with it. Raises for a schema that
    cannot be used at all (an unknown $schema, a $ref that leads nowhere)."""
    import jsonschema

    try:
        validator_class(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return str(exc.message)
    return None


def best_error(validator: Any, value: Any) -> Any:
    """The error jsonschema judges most relevant of `value` against `validator`, or None."""
    import jsonschema

    return jsonschema.exceptions.best_match(validator.iter_errors(value))
