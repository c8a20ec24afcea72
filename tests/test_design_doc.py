"""docs/design.md cannot go stale silently: its tables are checked against the code.

- the event catalogue (§3) must name every event type of `agentctl.protocol`
  (`EVENT_DATA`, and the live-only `LIVE_DELTA`) and no other; each type's
  field table must list every field of its data model, nested ones included
  (`sandbox.limits.cpus`, `tool_calls[].id`), with its type, and no field the
  model lacks;
- the catalogue's model column names each type's model (whose `TYPE` is
  that type);
- the catalogue's fold column starts with "—" exactly for the types
  `fold_events` (agentctl/state.py) ignores (another fold may follow it);
- the API table (§14) must list every route the daemon mounts, method and
  path, and no route it does not;
- the dependency rules (§1) must be the import-linter contracts of
  `pyproject.toml`, each with its source and forbidden modules;
- every `docs/design.md §N` cited in the code and the docs names a section
  that exists, and no reference to the old design file (not in the
  repository) is left.

The tables are delimited by HTML comments (`<!-- catalogue:events -->` …
`<!-- /catalogue:events -->`) so that a reader sees plain Markdown.
"""

from __future__ import annotations

import datetime
import enum
import re
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from starlette.routing import Route

from agentctl import state
from agentctl.daemon.routes import ROUTES
from agentctl.protocol import EVENT_DATA, LIVE_DELTA, EventData, ModelDelta

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "design.md"
API_PREFIX = "/v1"  # server.create_app mounts ROUTES here
NOTHING = "—"
# The old design file's name, spelt so that grepping the tree for it finds no hit here.
OLD = "".join(("DES", "IGN"))

EVENT_MODELS: dict[str, type[EventData]] = {**EVENT_DATA, LIVE_DELTA: ModelDelta}


# --- the code's side ----------------------------------------------------------------


def type_name(annotation: object) -> str:
    """A field's type as the catalogue writes it: `str`, `int or null`, `"a"/"b"`, `[str]`..."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in args)
    if origin is typing.Literal:
        return "/".join(f'"{arg}"' for arg in args)
    if origin is list:
        return f"[{type_name(args[0])}]"
    if origin is dict:
        if args[1] is typing.Any:
            return "object"
        return f"{{{type_name(args[0])}: {type_name(args[1])}}}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "/".join(f'"{member.value}"' for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    if annotation is datetime.datetime:
        return "time"
    if annotation is typing.Any:
        return "any"
    assert isinstance(annotation, type), annotation
    return annotation.__name__


def _nested(annotation: object) -> Iterator[tuple[str, type[BaseModel]]]:
    """The models inside a field's type: ("", M) for M or M | None, ("[]", M) for list[M]."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    for candidate in typing.get_args(annotation) if union else (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            yield "", candidate
        elif typing.get_origin(candidate) is list:
            (item,) = typing.get_args(candidate)
            if isinstance(item, type) and issubclass(item, BaseModel):
                yield "[]", item


def model_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """Every field of `model` as (dotted name, type name), nested models' fields after theirs."""
    out = []
    for name, field in model.model_fields.items():
        out.append((prefix + name, type_name(field.annotation)))
        for suffix, inner in _nested(field.annotation):
            out += model_fields(inner, f"{prefix}{name}{suffix}.")
    return out


def routes() -> set[tuple[str, str]]:
    out = set()
    for route in ROUTES:
        assert isinstance(route, Route), route
        for method in route.methods or ():
            if method != "HEAD":  # starlette adds HEAD to every GET
                out.add((method, API_PREFIX + route.path))
    return out


# --- the document's side --------------------------------------------------------------


def table(marker: str) -> list[list[str]]:
    """The rows (cells stripped, header and rule dropped) of the table inside `marker`."""
    text = DOC.read_text()
    match = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", text, re.S)
    assert match, f"docs/design.md has no <!-- {marker} --> ... <!-- /{marker} --> table"
    lines = [line for line in match.group(1).splitlines() if line.startswith("|")]
    assert len(lines) >= 2, f"the {marker} table is empty"
    return [_cells(line) for line in lines[2:]]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _code(cell: str) -> str:
    """`x` → x: the names in the tables are code spans."""
    assert cell.startswith("`") and cell.endswith("`"), f"expected a `code` cell, got {cell!r}"
    return cell[1:-1]


def catalogue_types() -> dict[str, list[str]]:
    """Event type → its row in the events table (stream, appended by, the fold)."""
    rows = {}
    for row in table("catalogue:events"):
        name = _code(row[0])
        assert name not in rows, f"{name} is listed twice in the events table"
        rows[name] = row[2:]
    return rows


def catalogue_models() -> dict[str, str]:
    """Event type → the name of its model, as the events table's second column gives it."""
    return {_code(row[0]): _code(row[1]) for row in table("catalogue:events")}


def catalogue_fields() -> dict[str, dict[str, str]]:
    """Event type → {field: type} from the fields table (a blank first cell continues a type)."""
    fields: dict[str, dict[str, str]] = {}
    current = None
    for row in table("catalogue:fields"):
        if row[0]:
            current = _code(row[0])
            assert current not in fields, f"{current} starts twice in the fields table"
            fields[current] = {}
        assert current is not None, "the fields table starts without an event type"
        field = _code(row[1])
        assert field not in fields[current], f"{current}.{field} is listed twice"
        assert row[3], f"{current}.{field} has no meaning"
        fields[current][field] = row[2]
    return fields


# --- the tests -------------------------------------------------------------------------


def test_the_catalogue_names_every_event_type_and_no_other() -> None:
    listed = set(catalogue_types())
    known = set(EVENT_MODELS)
    assert not known - listed, f"event types missing from docs/design.md §3: {known - listed}"
    assert not listed - known, f"docs/design.md §3 lists types the code lacks: {listed - known}"
    assert set(catalogue_fields()) == known, "the fields table covers other types than the code"


def test_the_catalogue_names_each_types_model_whose_type_it_is() -> None:
    documented = catalogue_models()
    problems = [
        f"{type_}: the doc says {documented.get(type_)!r}, the code {model.__name__!r}"
        for type_, model in EVENT_MODELS.items()
        if documented.get(type_) != model.__name__
    ]
    problems += [
        f"{type_}: {model.__name__}.TYPE is {model.TYPE!r}"
        for type_, model in EVENT_MODELS.items()
        if type_ != model.TYPE
    ]
    assert not problems, "docs/design.md §3's model column is stale:\n" + "\n".join(problems)


def test_every_field_of_every_event_is_in_the_catalogue_with_its_type() -> None:
    documented = catalogue_fields()
    problems = []
    for type_, model in EVENT_MODELS.items():
        code = dict(model_fields(model))
        doc = documented.get(type_, {})
        problems += [f"{type_}.{f}: missing" for f in code if f not in doc]
        problems += [f"{type_}.{f}: not a field of {model.__name__}" for f in doc if f not in code]
        problems += [
            f"{type_}.{f}: the doc says {doc[f]!r}, the code {code[f]!r}"
            for f in code
            if f in doc and doc[f] != code[f]
        ]
    assert not problems, "docs/design.md §3 is stale:\n" + "\n".join(problems)


def test_the_fold_column_says_what_fold_events_does() -> None:
    folded = set(state._HANDLERS)
    for type_, (_stream, appended_by, fold) in catalogue_types().items():
        assert appended_by, f"{type_}: who appends it?"
        if type_ in folded:
            assert not fold.startswith(NOTHING), f"{type_}: fold_events handles it; say how"
        else:
            assert fold.startswith(NOTHING), f"{type_}: fold_events ignores it, not {fold!r}"


def test_the_api_table_lists_every_route_and_no_other() -> None:
    listed = set()
    for row in table("api:routes"):
        method, path = row[0], _code(row[1])
        assert row[2], f"{method} {path}: what does it do?"
        listed.add((method, path))
    mounted = routes()
    assert not mounted - listed, f"routes missing from docs/design.md §14: {mounted - listed}"
    assert not listed - mounted, (
        f"docs/design.md §14 lists routes the daemon lacks: {listed - mounted}"
    )


def _modules(cell: str) -> set[str]:
    return {_code(part.strip()) for part in cell.split(",")}


def test_the_dependency_rules_are_the_import_linter_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = {
        c["name"]: (c["type"], set(c["source_modules"]), set(c["forbidden_modules"]))
        for c in config["contracts"]
        if c["type"] == "forbidden"
    }
    documented = {
        row[0]: ("forbidden", _modules(row[1]), _modules(row[2]))
        for row in table("importlinter:contracts")
    }
    assert documented == contracts, "docs/design.md §1 is not what pyproject.toml enforces"


def test_the_layers_are_the_import_linter_layers_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    kinds = {c["type"] for c in config["contracts"]}
    assert kinds <= {"forbidden", "layers"}, f"docs/design.md §1 has no table for {kinds}"
    contracts = {
        c["name"]: (list(c["layers"]), set(c.get("ignore_imports", [])))
        for c in config["contracts"]
        if c["type"] == "layers"
    }
    documented = {
        row[0]: ([_code(part.strip()) for part in row[1].split(",")], _modules(row[2]))
        for row in table("importlinter:layers")
    }
    assert documented == contracts, "docs/design.md §1 is not the layers pyproject.toml enforces"


def _section_numbers() -> set[str]:
    return set(re.findall(r"^## (\d+)\. ", DOC.read_text(), re.M))


def _cited(text: str) -> Iterator[str]:
    for refs in re.findall(r"design\.md ((?:§\d+(?:, | and )?)+)", text):
        yield from re.findall(r"§(\d+)", refs)


def _sources() -> Iterator[Path]:
    for folder in ("agentctl", "tui", "store", "sandboxes", "tests", "bench", "docs"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".md", ".tcss", ".toml") and path.is_file():
                yield path
    yield ROOT / "README.md"


def test_every_design_reference_names_a_section() -> None:
    sections = _section_numbers()
    assert {str(n) for n in range(1, 14)} <= sections, "the original §1-§13 keep their numbers"
    stale = []
    for path in _sources():
        text = path.read_text(errors="replace")
        where = path.relative_to(ROOT)
        if path == Path(__file__):
            continue
        stale += [f"{where}: {OLD} {m}" for m in re.findall(rf"{OLD}(?:\.md)? (§\d+)", text)]
        stale += [f"{where}: §{n} is not a section" for n in _cited(text) if n not in sections]
    inside = re.findall(r"§(\d+)", DOC.read_text())
    stale += [f"docs/design.md: §{n} is not a section" for n in inside if n not in sections]
    assert not stale, "\n".join(stale)
