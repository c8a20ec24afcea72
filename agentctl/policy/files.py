"""Policy files: the TOML loader, the presets, and errors that name the line.

The format is described in `agentctl.policy` (and docs/policy.md). Each
`[[rule]]` table is read by `rules.read_rule` in the file's spelling
(`rules.FILE`); what is left here is what only a file has: the top-level
keys, `extends`, and the position of every mistake. tomllib keeps no
positions for tables or keys, so the lines of `[[rule]]` headers and keys are
found by scanning the text, skipping comments and strings.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

from agentctl.errors import PolicyError

from .rules import FILE, Policy, Rule, read_rule
from .terms import RuleProblem, Tier, choices, unknown_key

PRESETS: tuple[str, ...] = ("default", "strict", "permissive")

_TOP_KEYS = ("default", "network", "hints", "extends", "rule")
_TYPE_NAMES = {str: "a string", bool: "true or false"}


@dataclass(frozen=True)
class _Layout:
    """Where things are in the text: tomllib keeps no positions for tables or keys."""

    code: tuple[tuple[int, str], ...]  # (line number, text) of lines that start outside strings
    rules: tuple[int, ...]  # the line of each [[rule]] header

    @classmethod
    def scan(cls, text: str) -> _Layout:
        code: list[tuple[int, str]] = []
        inside: str | None = None  # the closing delimiter of an open multi-line string
        for number, line in enumerate(text.splitlines(), start=1):
            if inside is None:
                code.append((number, line))
            inside = _scan_strings(line, inside)
        headers = tuple(number for number, line in code if _RULE_HEADER.match(line))
        return cls(code=tuple(code), rules=headers)

    def rule_line(self, index: int, count: int) -> int | None:
        # Rules written another way (`rule = [{...}]`) leave the headers short.
        return self.rules[index] if len(self.rules) == count else None

    def key_line(self, key: str, after: int | None, fallback: int | None) -> int | None:
        """The line of `key = ...`: in the table whose header is line `after`, or at top level.

        At top level, `key` may also be a table header (`[key]`, `[[key]]`).
        """
        key_re = re.compile(
            rf"""\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*="""
        )
        table_re = re.compile(rf"\s*\[\[?\s*{re.escape(key)}\s*[\].]")
        in_table = False
        for number, line in self.code:
            if after is not None and number <= after:
                continue
            if _TABLE_HEADER.match(line):
                if after is not None:
                    break  # the rule's table ended before the key
                if table_re.match(line):
                    return number
                in_table = True  # keys from here on belong to that table
            elif not in_table and key_re.match(line):
                return number
        return fallback


_RULE_HEADER = re.compile(r"\s*\[\[\s*(?:rule|\"rule\"|'rule')\s*\]\]\s*(?:#.*)?$")
_TABLE_HEADER = re.compile(r"\s*\[")


def _scan_strings(line: str, inside: str | None) -> str | None:
    """Crude TOML lexing of one line: returns the open multi-line delimiter at its end."""
    i = 0
    while i < len(line):
        if inside is not None:
            end = line.find(inside, i)
            if end < 0:
                return inside
            i, inside = end + 3, None
            continue
        char = line[i]
        if char == "#":
            return None
        if line.startswith(('"""', "'''"), i):
            inside, i = line[i : i + 3], i + 3
        elif char == "'":
            end = line.find("'", i + 1)
            i = len(line) if end < 0 else end + 1
        elif char == '"':
            i += 1
            while i < len(line) and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
        else:
            i += 1
    return inside


class _Source:
    """Error messages that name the file, the line and the rule."""

    def __init__(self, name: str, layout: _Layout) -> None:
        self.name = name
        self.layout = layout

    def fail(self, message: str, *, line: int | None, rule: int | None = None) -> NoReturn:
        where = f"{self.name}:{line}" if line is not None else self.name
        prefix = f"rule {rule}: " if rule is not None else ""
        raise PolicyError(f"{where}: {prefix}{message}")

    def fail_top(self, message: str, key: str) -> NoReturn:
        self.fail(message, line=self.layout.key_line(key, None, None))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Read a policy file's text; every mistake is a PolicyError naming source:line."""
    return _parse(text, source=source, name=source)


def _parse(text: str, *, source: str, name: str) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        where = f"{source}:{found.group(1)}" if found else source
        raise PolicyError(f"{where}: invalid TOML: {exc}") from None
    src = _Source(source, _Layout.scan(text))
    top = _read_top(src, data)
    extends = top.get("extends")
    base = preset(extends) if extends is not None else Policy(name="", rules=())
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        src.fail_top("'rule' must be an array of tables, each written [[rule]]", "rule")
    rules = tuple(_parse_rule(src, table, index, len(tables)) for index, table in enumerate(tables))
    default = top.get("default")
    network = top.get("network")
    hints = top.get("hints")
    return Policy(
        name=name,
        rules=rules + base.rules,
        default_tier=Tier(default) if default else base.default_tier,
        network=network if network is not None else base.network,
        hints=hints if hints is not None else base.hints,
    )


def _read_top(src: _Source, data: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level keys but `rule`, checked: each a known key of the right type."""
    for key in data:
        if key not in _TOP_KEYS:
            src.fail_top(unknown_key(key, _TOP_KEYS), key)
    top: dict[str, Any] = {}
    for key, kind in (("extends", str), ("default", str), ("network", bool), ("hints", bool)):
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            src.fail_top(f"{key!r} must be {_TYPE_NAMES[kind]}, not {value!r}", key)
        top[key] = value
    if top["extends"] is not None and top["extends"] not in PRESETS:
        src.fail_top(
            f"unknown preset {top['extends']!r} in 'extends' ({choices(PRESETS)})", "extends"
        )
    if top["default"] is not None and top["default"] not in set(Tier):
        src.fail_top(f"unknown tier {top['default']!r} for 'default' ({choices(Tier)})", "default")
    return top


def _parse_rule(src: _Source, table: Mapping[str, Any], index: int, count: int) -> Rule:
    header = src.layout.rule_line(index, count)
    try:
        rule = read_rule(table, FILE, line=header)
    except RuleProblem as exc:
        line = header if exc.key is None else src.layout.key_line(exc.key, header, header)
        src.fail(exc.message, line=line, rule=index + 1)
    if not rule.name:
        where = Path(src.name).name + (f":{header}" if header is not None else "")
        rule = replace(rule, name=f"{rule.describe()} ({where})")
    return rule


# --- writing a file back -------------------------------------------------------------


def _toml_str(value: str) -> str:
    # A JSON string (ASCII, escapes \" \\ \n \uXXXX) is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def _toml_bool(value: object) -> str:
    return "true" if value else "false"


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def policy_toml(policy: dict[str, Any]) -> str:
    """A policy file that `load_policy` reads back as the stored policy (rule names kept).

    `policy` is `Policy.to_dict()` (as `session.created` stores it): how
    `agentctl replay` judges a replay by the rules of the original.
    """
    lines = [
        f"# the policy of {policy.get('name', 'a session')}, as recorded in its session.created",
        f"default = {_toml_str(str(policy.get('default_tier', 'ask')))}",
        f"network = {_toml_bool(policy.get('network', True))}",
    ]
    if policy.get("hints") is not None:
        lines.append(f"hints = {_toml_bool(policy['hints'])}")
    for rule in policy.get("rules", []):
        lines += ["", "[[rule]]", f"tool = {_toml_str(rule.get('tool', '*'))}"]
        for key in ("command", "path"):
            if rule.get(key) is not None:
                lines.append(f"{key} = {_toml_str(rule[key])}")
        if rule.get("args"):
            pairs = ", ".join(f"{_toml_str(k)} = {_toml_str(v)}" for k, v in rule["args"].items())
            lines.append(f"args = {{ {pairs} }}")
        lines.append(f"tier = {_toml_str(rule['tier'])}")
        if rule.get("timeout_s") is not None:
            lines.append(f"timeout = {float(rule['timeout_s'])!r}")
        if rule.get("on_expiry", "deny") != "deny":
            lines.append(f"on_expiry = {_toml_str(rule['on_expiry'])}")
        if rule.get("approvers"):
            lines.append(f"approvers = {_toml_list(rule['approvers'])}")
        if rule.get("escalate"):
            steps = ", ".join(
                f"{{ approvers = {_toml_list(step['approvers'])}, "
                f"timeout = {float(step['timeout_s'])!r} }}"
                for step in rule["escalate"]
            )
            lines.append(f"escalate = [{steps}]")
        if rule.get("name"):
            lines.append(f"name = {_toml_str(rule['name'])}")
    return "\n".join(lines) + "\n"


# --- presets and loading ---------------------------------------------------------------


@functools.cache
def preset(name: str) -> Policy:
    """A built-in policy by name (one of PRESETS)."""
    if name not in PRESETS:
        raise PolicyError(f"unknown policy preset {name!r} ({choices(PRESETS)})")
    text = resources.files("agentctl.presets").joinpath(f"{name}.toml").read_text("utf-8")
    return _parse(text, source=f"{name}.toml", name=name)


def load_policy(spec: str | None, *, config_dir: Path | None = None) -> Policy:
    """The policy named by `spec`: a preset name, or a path to a TOML file.

    None means `config_dir/policy.toml` if it exists (config_dir defaults to
    agentctl's config folder), else the `default` preset. A preset name wins
    over a file of the same name in the current directory.
    """
    if spec is None:
        if config_dir is None:
            from agentctl.paths import get_paths

            config_dir = get_paths().config
        candidate = config_dir / "policy.toml"
        return _load_file(candidate) if candidate.is_file() else preset("default")
    if spec in PRESETS:
        return preset(spec)
    path = Path(spec).expanduser()
    if not path.exists():
        raise PolicyError(
            f"policy {spec!r} is neither a preset ({choices(PRESETS)}) nor an existing file"
        )
    return _load_file(path)


def _load_file(path: Path) -> Policy:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    return parse_policy(text, source=str(path))


__all__ = ["PRESETS", "load_policy", "parse_policy", "policy_toml", "preset"]
