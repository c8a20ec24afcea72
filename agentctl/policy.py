"""The approval policy: the one place where a proposed tool call gets its tier.

A policy is an ordered list of rules; the first rule that matches a call
decides its tier (docs/design.md §6): `allow` runs it, `ask` waits for a person,
`deny` refuses it and tells the model why. When no rule matches, the policy's
default tier applies. The runtime stores the whole policy (`to_dict`) in the
`session.created` event, so a resumed session is judged by the rules it
started with, whatever the policy file says by then (`from_dict`).

Policies are TOML files; the presets (`default`, `strict`, `permissive`) are
TOML files too, in `agentctl/presets/`, read by the same parser:

    default = "ask"          # optional: the tier when no rule matches
    network = true           # optional: false forbids network in the sandbox
    extends = "default"      # optional: a preset whose rules follow this file's
    hints = true             # optional: MCP tool annotations set the tier no rule sets

    [[rule]]
    tool = "shell"                       # glob on the tool name (default "*")
    command = '^\\s*(ls|cat|grep)\\b'      # regex searched in args["command"]
    tier = "allow"

    [[rule]]
    tool = "write_file"
    path = "secrets/**"                  # glob on args["path"]
    tier = "deny"

    [[rule]]
    tool = "*"
    tier = "ask"
    timeout = "10m"                      # ask only: seconds, or 30s / 10m / 2h / 1h30m
    on_expiry = "pause"                  # ask only, needs a timeout: "deny" or "pause"
    name = "anything else"               # optional: shown to the approver

Matching, in the order a reader would check it:

- `tool` is an `fnmatch` glob on the tool name, so a rule works for any tool,
  including ones registered in-process (a benchmark's `noop`).
- `command` is a regular expression searched (`re.search`) in a string
  `command` argument; a rule with one never matches a call without it.
- `path` is an `fnmatch` glob on a string `path` argument, after lexical
  normalisation: `./a`, `a/./b/../a` and `/workspace/a` all become `a`, so
  `..` cannot step around a rule. As with fnmatch, `*` crosses `/`;
  additionally a leading `**/` may match no directory and a trailing `/**`
  matches the directory itself, so `**/.git/**` covers `.git`, `.git/config`
  and `src/.git/HEAD`. A rule with a path never matches a call without one.
- `args` is a table of `fnmatch` globs on other arguments by name (an MCP
  tool's: `args = { repo = "me/*" }`), each matched against the argument's
  text (JSON for a value that is not a string); a call without one of them
  does not match.
- `hints = true` (the `default` and `permissive` presets) lets a tool's own
  hint, an MCP server's annotations, give the tier of a call that no rule
  matches: read-only → allow, anything else → ask. Hints come from a server
  nobody vetted; a rule always wins over them.

Every mistake in a file is a `PolicyError` naming the file, the line and the
rule number: TOML syntax, unknown keys, wrong types, unknown tiers or
presets, bad regular expressions or durations, and `timeout` or `on_expiry`
on a rule that does not ask. tomllib gives no line numbers for tables, so the
lines of `[[rule]]` headers and keys are found by scanning the text, skipping
comments and strings.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
import math
import posixpath
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from agentctl.durations import format_duration
from agentctl.durations import parse_seconds as parse_duration
from agentctl.errors import PolicyError

PRESETS: tuple[str, ...] = ("default", "strict", "permissive")

# The sandbox's working directory: absolute paths under it are judged as the
# relative paths they are, so `/workspace/secrets/x` meets `secrets/**`.
WORKSPACE = "/workspace"


class Tier(StrEnum):
    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"
    HALT = "halt"  # stop the session at once and alert a person


class OnExpiry(StrEnum):
    DENY = "deny"
    PAUSE = "pause"


class _RuleProblem(PolicyError):
    """A rule is invalid; `key` says which of its keys, for the line number."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def _choices(values: Iterable[str]) -> str:
    return ", ".join(values)


# --- paths and durations ---------------------------------------------------------------


def normalize_path(path: str) -> str:
    """The path a rule sees: lexical, relative to the workspace when inside it."""
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    normal = posixpath.normpath(path) if path else "."
    if normal == WORKSPACE:
        return "."
    if normal.startswith(WORKSPACE + "/"):
        return normal[len(WORKSPACE) + 1 :]
    return normal


def _compile_glob(pattern: str) -> re.Pattern[str]:
    pattern = normalize_path(pattern)
    variants = {pattern}
    if pattern.startswith("**/"):
        variants |= {variant[3:] for variant in list(variants)}
    if pattern.endswith("/**"):
        variants |= {variant[:-3] for variant in list(variants) if variant.endswith("/**")}
    return re.compile("|".join(fnmatch.translate(variant) for variant in sorted(variants)))


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- rules -----------------------------------------------------------------------------

_APPROVER = re.compile(r"(?:group:)?[A-Za-z0-9_][A-Za-z0-9_.@$-]*")


def _approvers(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise _RuleProblem(
            f'{key!r} must be a non-empty list of names, like ["alice", "group:oncall"]', key=key
        )
    for name in value:
        if not isinstance(name, str) or not _APPROVER.fullmatch(name):
            raise _RuleProblem(f"{key!r}: {name!r} is not a user name or group:NAME", key=key)
    return tuple(value)


@dataclass(frozen=True)
class Escalation:
    """One step of an escalation chain: who may decide next, and for how long."""

    approvers: tuple[str, ...]
    timeout_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"approvers": list(self.approvers), "timeout_s": self.timeout_s}


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One line of judgement: which calls it matches, and the tier it gives them."""

    tool: str = "*"
    command: str | None = None
    path: str | None = None
    tier: Tier
    timeout_s: float | None = None
    on_expiry: OnExpiry = OnExpiry.DENY
    name: str = ""
    line: int | None = None
    approvers: tuple[str, ...] = ()  # ask only: who may decide (empty: anyone)
    escalate: tuple[Escalation, ...] = ()  # ask only, needs a timeout: the chain after it
    # Globs on other arguments by name (an MCP tool's): each must match the argument's text.
    args: tuple[tuple[str, str], ...] = ()

    _tool_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _command_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _path_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _args_re: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        tier = _enum(Tier, self.tier, "tier")
        on_expiry = _enum(OnExpiry, self.on_expiry, "on_expiry")
        set_("tier", tier)
        set_("on_expiry", on_expiry)

        if not self.tool:
            raise _RuleProblem("'tool' is empty (use \"*\" for every tool)", key="tool")
        set_("_tool_re", re.compile(fnmatch.translate(self.tool)))
        command_re = None
        if self.command is not None:
            try:
                command_re = re.compile(self.command)
            except re.error as exc:
                raise _RuleProblem(
                    f"bad regular expression in 'command': {exc}", key="command"
                ) from None
        set_("_command_re", command_re)
        if self.path is not None and not self.path:
            raise _RuleProblem("'path' is empty", key="path")
        set_("_path_re", None if self.path is None else _compile_glob(self.path))
        pairs = tuple((str(k), str(v)) for k, v in self.args)
        for key, pattern in pairs:
            if not key or not pattern:
                raise _RuleProblem("'args' needs argument names and non-empty globs", key="args")
        set_("args", pairs)
        set_("_args_re", tuple((k, re.compile(fnmatch.translate(v), re.S)) for k, v in pairs))

        if self.timeout_s is not None:
            if tier is not Tier.ASK:
                raise _RuleProblem(
                    f"'timeout' applies only to ask rules (this one is {tier})", key="timeout"
                )
            if not math.isfinite(self.timeout_s) or self.timeout_s <= 0:
                raise _RuleProblem(
                    f"timeout must be a positive duration, not {self.timeout_s!r}", key="timeout"
                )
            set_("timeout_s", float(self.timeout_s))
        if on_expiry is not OnExpiry.DENY:
            if tier is not Tier.ASK:
                raise _RuleProblem(
                    f"'on_expiry' applies only to ask rules (this one is {tier})", key="on_expiry"
                )
            if self.timeout_s is None:
                raise _RuleProblem(
                    "'on_expiry' needs a 'timeout' (when else would it expire?)", key="on_expiry"
                )
        if self.approvers:
            if tier is not Tier.ASK:
                raise _RuleProblem(
                    f"'approvers' applies only to ask rules (this one is {tier})", key="approvers"
                )
            set_("approvers", _approvers(list(self.approvers), "approvers"))
        if self.escalate:
            if tier is not Tier.ASK:
                raise _RuleProblem(
                    f"'escalate' applies only to ask rules (this one is {tier})", key="escalate"
                )
            if self.timeout_s is None:
                raise _RuleProblem(
                    "'escalate' needs a 'timeout': the first deadline, after which it escalates",
                    key="escalate",
                )

    def matches(self, tool: str, args: Mapping[str, Any]) -> bool:
        if not self._tool_re.match(tool):
            return False
        if self._command_re is not None:
            command = args.get("command")
            if not isinstance(command, str) or not self._command_re.search(command):
                return False
        if self._path_re is not None:
            path = args.get("path")
            if not isinstance(path, str) or not self._path_re.match(normalize_path(path)):
                return False
        for key, pattern in self._args_re:
            value = args.get(key)
            if value is None:
                return False
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            if not pattern.match(text):
                return False
        return True

    def describe(self) -> str:
        """What the rule says, e.g. `shell command ~ /rm -rf/ → deny`."""
        parts = ["any tool" if self.tool == "*" else self.tool]
        if self.command is not None:
            parts.append(f"command ~ /{_shorten(self.command)}/")
        if self.path is not None:
            parts.append(f"path ~ {self.path}")
        parts.extend(f"{k} ~ {v}" for k, v in self.args)
        outcome = str(self.tier)
        if self.approvers:
            outcome += f" by {', '.join(self.approvers)}"
        if self.timeout_s is not None:
            then = "".join(
                f", then {', '.join(e.approvers)} within {format_duration(e.timeout_s)}"
                for e in self.escalate
            )
            outcome += f" within {format_duration(self.timeout_s)}{then}, then {self.on_expiry}"
        return f"{' '.join(parts)} → {outcome}"

    @property
    def label(self) -> str:
        """The name shown to an approver and recorded with the verdict."""
        if self.name:
            return self.name
        return self.describe() + (f" (line {self.line})" if self.line is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "command": self.command,
            "path": self.path,
            "tier": str(self.tier),
            "timeout_s": self.timeout_s,
            "on_expiry": str(self.on_expiry),
            "name": self.name,
            "line": self.line,
            "approvers": list(self.approvers),
            "escalate": [step.to_dict() for step in self.escalate],
            "args": dict(self.args),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        _check_keys(data, _RULE_FIELDS, "rule")
        for key in ("tool", "tier", "on_expiry", "name"):
            _check_type(data, key, str)
        for key in ("command", "path"):
            _check_type(data, key, (str, type(None)))
        _check_number(data, "timeout_s")
        line = data.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
            raise PolicyError(f"stored rule: 'line' must be an integer, not {line!r}")
        if "tier" not in data:
            raise PolicyError("stored rule has no 'tier'")
        timeout = data.get("timeout_s")
        escalate = []
        for step in data.get("escalate") or []:
            _check_keys(step, ("approvers", "timeout_s"), "escalation step")
            _check_number(step, "timeout_s")
            escalate.append(Escalation(tuple(step["approvers"]), float(step["timeout_s"])))
        return cls(
            tool=data.get("tool", "*"),
            command=data.get("command"),
            path=data.get("path"),
            tier=data["tier"],
            timeout_s=None if timeout is None else float(timeout),
            on_expiry=data.get("on_expiry", OnExpiry.DENY),
            name=data.get("name", ""),
            line=line,
            approvers=tuple(data.get("approvers") or ()),
            escalate=tuple(escalate),
            args=tuple((data.get("args") or {}).items()),
        )


_RULE_FIELDS = (
    "args",
    "tool",
    "command",
    "path",
    "tier",
    "timeout_s",
    "on_expiry",
    "name",
    "line",
    "approvers",
    "escalate",
)


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: str, key: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise _RuleProblem(f"unknown {key} {value!r} ({_choices(kind)})", key=key) from None


def _check_keys(data: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    if not isinstance(data, Mapping):
        raise PolicyError(f"stored {what} must be a mapping, not {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise PolicyError(f"stored {what} has unknown keys: {_choices(unknown)}")


def _check_type(data: Mapping[str, Any], key: str, types: type | tuple[type, ...]) -> None:
    if key in data and not isinstance(data[key], types):
        raise PolicyError(f"stored policy: {key!r} has the wrong type ({data[key]!r})")


def _check_number(data: Mapping[str, Any], key: str) -> None:
    value = data.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PolicyError(f"stored policy: {key!r} must be a number, not {value!r}")


# --- policies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    tier: Tier
    rule: str  # the label of the rule that matched, or "default: <tier>"
    timeout_s: float | None  # ask only: how long a person has to decide
    on_expiry: OnExpiry
    approvers: tuple[str, ...] = ()  # ask only: who may decide (empty: anyone)
    escalate: tuple[Escalation, ...] = ()  # ask only: the chain after the first deadline


@dataclass(frozen=True)
class Policy:
    name: str  # a preset name, or the file it came from
    rules: tuple[Rule, ...]
    default_tier: Tier = Tier.ASK
    network: bool = True  # False: the session's sandbox must have no network
    # Whether a tool's own hint (MCP annotations) sets the tier of a call no rule matches.
    hints: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "default_tier", _enum(Tier, self.default_tier, "default tier"))

    def evaluate(self, tool: str, args: Mapping[str, Any], hint: str | None = None) -> Verdict:
        """The tier of a proposed call: the first matching rule's, else the tool's hint
        (when the policy takes hints), else the default. A rule always wins over a hint."""
        for rule in self.rules:
            if rule.matches(tool, args):
                asks = rule.tier is Tier.ASK
                return Verdict(
                    tier=rule.tier,
                    rule=rule.label,
                    timeout_s=rule.timeout_s if asks else None,
                    on_expiry=rule.on_expiry if asks else OnExpiry.DENY,
                    approvers=rule.approvers if asks else (),
                    escalate=rule.escalate if asks else (),
                )
        if hint is not None and self.hints and hint in (Tier.ALLOW, Tier.ASK):
            return Verdict(
                tier=Tier(hint),
                rule=f"tool hint: {hint} (no rule matched)",
                timeout_s=None,
                on_expiry=OnExpiry.DENY,
            )
        return Verdict(
            tier=self.default_tier,
            rule=f"default: {self.default_tier}",
            timeout_s=None,
            on_expiry=OnExpiry.DENY,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default_tier": str(self.default_tier),
            "network": self.network,
            "hints": self.hints,
            "rules": [rule.to_dict() for rule in self.rules],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        _check_keys(data, ("name", "default_tier", "network", "hints", "rules"), "policy")
        _check_type(data, "name", str)
        _check_type(data, "default_tier", str)
        _check_type(data, "network", bool)
        rules = data.get("rules", [])
        if not isinstance(rules, list | tuple):
            raise PolicyError("stored policy: 'rules' must be a list")
        return cls(
            name=data.get("name", "stored"),
            rules=tuple(Rule.from_dict(rule) for rule in rules),
            default_tier=data.get("default_tier", Tier.ASK),
            network=data.get("network", True),
            hints=bool(data.get("hints", False)),
        )


# --- the file format -------------------------------------------------------------------

_TOP_KEYS = ("default", "network", "hints", "extends", "rule")
_RULE_KEYS = (
    "args",
    "tool",
    "command",
    "path",
    "tier",
    "timeout",
    "on_expiry",
    "name",
    "approvers",
    "escalate",
)
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


def _unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f", did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (known: {_choices(allowed)})"


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
    layout = _Layout.scan(text)
    src = _Source(source, layout)

    for key in data:
        if key not in _TOP_KEYS:
            src.fail(_unknown_key(key, _TOP_KEYS), line=layout.key_line(key, None, None))

    def top(key: str, kind: type) -> Any:
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            src.fail(
                f"{key!r} must be {_TYPE_NAMES[kind]}, not {value!r}",
                line=layout.key_line(key, None, None),
            )
        return value

    base: Policy | None = None
    extends = top("extends", str)
    if extends is not None:
        if extends not in PRESETS:
            src.fail(
                f"unknown preset {extends!r} in 'extends' ({_choices(PRESETS)})",
                line=layout.key_line("extends", None, None),
            )
        base = preset(extends)
    default = top("default", str)
    if default is not None and default not in set(Tier):
        src.fail(
            f"unknown tier {default!r} for 'default' ({_choices(Tier)})",
            line=layout.key_line("default", None, None),
        )
    network = top("network", bool)
    hints = top("hints", bool)

    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        src.fail(
            "'rule' must be an array of tables, each written [[rule]]",
            line=layout.key_line("rule", None, None),
        )
    rules = tuple(_parse_rule(src, table, index, len(tables)) for index, table in enumerate(tables))

    return Policy(
        name=name,
        rules=rules + (base.rules if base else ()),
        default_tier=Tier(default) if default else (base.default_tier if base else Tier.ASK),
        network=network if network is not None else (base.network if base else True),
        hints=hints if hints is not None else (base.hints if base else False),
    )


def _parse_rule(src: _Source, table: Mapping[str, Any], index: int, count: int) -> Rule:
    number = index + 1
    header = src.layout.rule_line(index, count)

    def fail(message: str, key: str | None = None) -> NoReturn:
        line = header if key is None else src.layout.key_line(key, header, header)
        src.fail(message, line=line, rule=number)

    for key in table:
        if key not in _RULE_KEYS:
            fail(_unknown_key(key, _RULE_KEYS), key)
    for key in ("tool", "command", "path", "tier", "on_expiry", "name"):
        if key in table and not isinstance(table[key], str):
            fail(f"{key!r} must be a string, not {table[key]!r}", key)
    if "tier" not in table:
        fail(f"missing 'tier' ({_choices(Tier)})")
    tier = table["tier"]
    if tier not in set(Tier):
        fail(f"unknown tier {tier!r} ({_choices(Tier)})", "tier")
    for key in ("timeout", "on_expiry", "approvers", "escalate"):
        if key in table and tier != Tier.ASK:
            fail(f"{key!r} applies only to ask rules (this one is {tier})", key)

    timeout_s: float | None = None
    if "timeout" in table:
        raw = table["timeout"]
        if isinstance(raw, str):
            try:
                timeout_s = parse_duration(raw)
            except ValueError as exc:
                fail(str(exc), "timeout")
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            timeout_s = float(raw)
        else:
            fail(
                f"'timeout' must be a number of seconds or a duration like \"10m\", not {raw!r}",
                "timeout",
            )

    on_expiry = table.get("on_expiry", OnExpiry.DENY)
    if on_expiry not in set(OnExpiry):
        fail(f"unknown on_expiry {on_expiry!r} ({_choices(OnExpiry)})", "on_expiry")

    escalate: list[Escalation] = []
    raw_chain = table.get("escalate", [])
    if not isinstance(raw_chain, list) or not all(isinstance(step, dict) for step in raw_chain):
        fail(
            "'escalate' must be a list of tables like { approvers = [...], timeout = \"30m\" }",
            "escalate",
        )
    for number, step in enumerate(raw_chain, start=1):
        unknown = sorted(set(step) - {"approvers", "timeout"})
        if unknown or "approvers" not in step or "timeout" not in step:
            fail(f"escalation step {number} needs exactly 'approvers' and 'timeout'", "escalate")
        try:
            step_approvers = _approvers(step["approvers"], "escalate")
            step_timeout = (
                parse_duration(step["timeout"])
                if isinstance(step["timeout"], str)
                else float(step["timeout"])
            )
        except (ValueError, TypeError) as exc:
            fail(f"escalation step {number}: {exc}", "escalate")
        except _RuleProblem as exc:
            fail(f"escalation step {number}: {exc.message}", "escalate")
        if not math.isfinite(step_timeout) or step_timeout <= 0:
            fail(f"escalation step {number}: timeout must be a positive duration", "escalate")
        escalate.append(Escalation(step_approvers, step_timeout))

    raw_args = table.get("args", {})
    if not isinstance(raw_args, dict) or not all(isinstance(v, str) for v in raw_args.values()):
        fail('\'args\' must be a table of argument name = "glob", e.g. { repo = "me/*" }', "args")
    if "approvers" in table:
        try:
            _approvers(table["approvers"], "approvers")
        except _RuleProblem as exc:
            fail(exc.message, "approvers")
    try:
        rule = Rule(
            tool=table.get("tool", "*"),
            command=table.get("command"),
            path=table.get("path"),
            tier=Tier(tier),
            timeout_s=timeout_s,
            on_expiry=OnExpiry(on_expiry),
            name=table.get("name", ""),
            line=header,
            approvers=tuple(table.get("approvers") or ()),
            escalate=tuple(escalate),
            args=tuple(raw_args.items()),
        )
    except _RuleProblem as exc:
        fail(exc.message, exc.key)
    if not rule.name:
        where = Path(src.name).name + (f":{header}" if header is not None else "")
        rule = replace(rule, name=f"{rule.describe()} ({where})")
    return rule


# --- presets and loading ---------------------------------------------------------------


@functools.cache
def preset(name: str) -> Policy:
    """A built-in policy by name (one of PRESETS)."""
    if name not in PRESETS:
        raise PolicyError(f"unknown policy preset {name!r} ({_choices(PRESETS)})")
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
            f"policy {spec!r} is neither a preset ({_choices(PRESETS)}) nor an existing file"
        )
    return _load_file(path)


def _load_file(path: Path) -> Policy:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    return parse_policy(text, source=str(path))


__all__ = [
    "PRESETS",
    "Escalation",
    "OnExpiry",
    "Policy",
    "Rule",
    "Tier",
    "Verdict",
    "format_duration",
    "load_policy",
    "normalize_path",
    "parse_duration",
    "parse_policy",
    "preset",
]
