"""The rules of the approval policy: what a rule matches, the tier it gives, and the
one check of a rule's fields (docs/design.md §6).

Pure: no files, no TOML. A rule is checked in one place whatever it came
from: `read_rule` reads a table (a `[[rule]]` of a policy file, or a rule
stored in `session.created`) in the spelling of its `RuleForm`, and the
`Rule` it builds checks its own values in `__post_init__` (as it does for
a rule built in Python). The file loader (`agentctl.policy.files`) adds only
what a file has and a table has not: line numbers, `extends`, presets.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentctl.durations import format_duration
from agentctl.durations import parse_seconds as parse_duration
from agentctl.errors import PolicyError

from .terms import (
    WORKSPACE,
    OnExpiry,
    RuleProblem,
    Tier,
    ask_only,
    check_approvers,
    check_enum,
    choices,
    compile_glob,
    normalize_path,
    positive,
    shorten,
    unknown_key,
)


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
        """The check of a rule's values, wherever it came from (a file, a store, Python)."""
        set_ = functools.partial(object.__setattr__, self)
        set_("tier", check_enum(Tier, self.tier, "tier"))
        set_("on_expiry", check_enum(OnExpiry, self.on_expiry, "on_expiry"))
        self._compile_matchers()
        self._check_deadlines()
        if self.approvers:
            if self.tier is not Tier.ASK:
                raise ask_only("approvers", self.tier)
            set_("approvers", check_approvers(list(self.approvers), "approvers"))

    def _compile_matchers(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        if not self.tool:
            raise RuleProblem("'tool' is empty (use \"*\" for every tool)", key="tool")
        set_("_tool_re", re.compile(fnmatch.translate(self.tool)))
        command_re = None
        if self.command is not None:
            try:
                command_re = re.compile(self.command)
            except re.error as exc:
                raise RuleProblem(
                    f"bad regular expression in 'command': {exc}", key="command"
                ) from None
        set_("_command_re", command_re)
        if self.path is not None and not self.path:
            raise RuleProblem("'path' is empty", key="path")
        set_("_path_re", None if self.path is None else compile_glob(self.path))
        pairs = tuple((str(k), str(v)) for k, v in self.args)
        if not all(key and pattern for key, pattern in pairs):
            raise RuleProblem("'args' needs argument names and non-empty globs", key="args")
        set_("args", pairs)
        set_("_args_re", tuple((k, re.compile(fnmatch.translate(v), re.S)) for k, v in pairs))

    def _check_deadlines(self) -> None:
        """`timeout`, `on_expiry` and `escalate`: ask rules only, and each needs the one before."""
        asks = self.tier is Tier.ASK
        if self.timeout_s is not None:
            if not asks:
                raise RuleProblem(
                    f"'timeout' applies only to ask rules (this one is {self.tier})", key="timeout"
                )
            if not positive(self.timeout_s):
                raise RuleProblem(
                    f"timeout must be a positive duration, not {self.timeout_s!r}", key="timeout"
                )
            object.__setattr__(self, "timeout_s", float(self.timeout_s))
        for key, given in (
            ("on_expiry", self.on_expiry is not OnExpiry.DENY),
            ("escalate", bool(self.escalate)),
        ):
            if given and not asks:
                raise ask_only(key, self.tier)
        if self.on_expiry is not OnExpiry.DENY and self.timeout_s is None:
            raise RuleProblem(
                "'on_expiry' needs a 'timeout' (when else would it expire?)", key="on_expiry"
            )
        if self.escalate and self.timeout_s is None:
            raise RuleProblem(
                "'escalate' needs a 'timeout': the first deadline, after which it escalates",
                key="escalate",
            )
        for number, step in enumerate(self.escalate, start=1):
            try:
                check_approvers(step.approvers, "escalate")
            except RuleProblem as exc:
                raise RuleProblem(
                    f"escalation step {number}: {exc.message}", key="escalate"
                ) from None
            if not positive(step.timeout_s):
                raise RuleProblem(
                    f"escalation step {number}: timeout must be a positive duration",
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
            parts.append(f"command ~ /{shorten(self.command)}/")
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
        """A rule as `to_dict` stored it (in `session.created`)."""
        try:
            return read_rule(data, STORED)
        except RuleProblem as exc:
            raise PolicyError(f"stored rule: {exc.message}") from None


# --- reading a rule from a table ---------------------------------------------------------


@dataclass(frozen=True)
class RuleForm:
    """How a table spells a rule: a policy file's `[[rule]]`, or a stored one (`to_dict`)."""

    keys: tuple[str, ...]  # the keys a table may have
    timeout: str  # the key of a deadline, in the rule and in each escalation step
    durations: bool  # a deadline may be a duration string ("10m"), not only seconds
    # A file names what it sets, so an ask-only key on another tier is a mistake
    # even at its default value; a stored rule carries every key.
    explicit: bool
    missing_tier: str
    wrong_type: str  # format(key=..., kind=..., value=...)


_ASK_ONLY = ("timeout", "on_expiry", "approvers", "escalate")
_STRINGS = ("tool", "tier", "on_expiry", "name")
_OPTIONAL_STRINGS = ("command", "path")

FILE = RuleForm(
    keys=(
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
    ),
    timeout="timeout",
    durations=True,
    explicit=True,
    missing_tier=f"missing 'tier' ({choices(Tier)})",
    wrong_type="{key!r} must be {kind}, not {value!r}",
)
STORED = RuleForm(
    keys=(
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
    ),
    timeout="timeout_s",
    durations=False,
    explicit=False,
    missing_tier="no 'tier'",
    wrong_type="{key!r} has the wrong type: must be {kind}, not {value!r}",
)


def read_rule(table: Mapping[str, Any], form: RuleForm, *, line: int | None = None) -> Rule:
    """The rule a table spells; a RuleProblem naming the key for every mistake."""
    if not isinstance(table, Mapping):
        raise RuleProblem(f"a rule must be a mapping (a table), not {type(table).__name__}")
    for key in table:
        if key not in form.keys:
            raise RuleProblem(unknown_key(key, form.keys), key=key)
    _check_strings(table, form)
    if "tier" not in table:
        raise RuleProblem(form.missing_tier)
    tier = check_enum(Tier, table["tier"], "tier")
    if form.explicit:
        for key in _ASK_ONLY:
            if key in table and tier is not Tier.ASK:
                raise ask_only(key, tier)
    if "line" in table:
        line = _line(table["line"])
    raw_timeout = table.get(form.timeout)
    return Rule(
        tool=table.get("tool", "*"),
        command=table.get("command"),
        path=table.get("path"),
        tier=tier,
        timeout_s=None if raw_timeout is None else _seconds(raw_timeout, form, form.timeout),
        on_expiry=table.get("on_expiry", OnExpiry.DENY),
        name=table.get("name", ""),
        line=line,
        approvers=_read_approvers(table, form),
        escalate=_read_chain(table.get("escalate"), form),
        args=_read_args(table.get("args")),
    )


def _check_strings(table: Mapping[str, Any], form: RuleForm) -> None:
    for key in _STRINGS + _OPTIONAL_STRINGS:
        value = table.get(key)
        if key in table and not isinstance(value, str):
            if value is None and key in _OPTIONAL_STRINGS:
                continue
            message = form.wrong_type.format(key=key, kind="a string", value=value)
            raise RuleProblem(message, key=key)


def _line(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RuleProblem(f"'line' must be an integer, not {value!r}", key="line")
    return value


def _seconds(raw: Any, form: RuleForm, key: str) -> float:
    if isinstance(raw, str) and form.durations:
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise RuleProblem(str(exc), key=key) from None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        also = ' or a duration like "10m"' if form.durations else ""
        raise RuleProblem(f"{key!r} must be a number of seconds{also}, not {raw!r}", key=key)
    return float(raw)


def _read_approvers(table: Mapping[str, Any], form: RuleForm) -> tuple[str, ...]:
    raw = table.get("approvers")
    if raw is None or (not raw and not form.explicit):
        return ()  # a stored rule that lets anyone decide (or one stored before approvers)
    return check_approvers(raw, "approvers")


def _read_chain(raw: Any, form: RuleForm) -> tuple[Escalation, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple) or not all(isinstance(step, Mapping) for step in raw):
        raise RuleProblem(
            f"'escalate' must be a list of tables like {{ approvers = [...], {form.timeout} = "
            '"30m" }',
            key="escalate",
        )
    chain = []
    for number, step in enumerate(raw, start=1):
        if set(step) != {"approvers", form.timeout}:
            raise RuleProblem(
                f"escalation step {number} needs exactly 'approvers' and {form.timeout!r}",
                key="escalate",
            )
        try:
            names = check_approvers(step["approvers"], "escalate")
            seconds = _seconds(step[form.timeout], form, form.timeout)
        except RuleProblem as exc:
            raise RuleProblem(f"escalation step {number}: {exc.message}", key="escalate") from None
        chain.append(Escalation(names, seconds))
    return tuple(chain)


def _read_args(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise RuleProblem(
            '\'args\' must be a table of argument name = "glob", e.g. { repo = "me/*" }', key="args"
        )
    return tuple(raw.items())


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
        object.__setattr__(
            self, "default_tier", check_enum(Tier, self.default_tier, "default tier")
        )

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
        """A policy as `to_dict` stored it; its rules are read as every rule is (`read_rule`)."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"stored policy must be a mapping, not {type(data).__name__}")
        unknown = sorted(set(data) - {"name", "default_tier", "network", "hints", "rules"})
        if unknown:
            raise PolicyError(f"stored policy has unknown keys: {choices(unknown)}")
        for key, kind in (("name", str), ("default_tier", str), ("network", bool)):
            if key in data and not isinstance(data[key], kind):
                raise PolicyError(f"stored policy: {key!r} has the wrong type ({data[key]!r})")
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


__all__ = [
    "FILE",
    "STORED",
    "WORKSPACE",
    "Escalation",
    "OnExpiry",
    "Policy",
    "Rule",
    "RuleForm",
    "RuleProblem",
    "Tier",
    "Verdict",
    "format_duration",
    "normalize_path",
    "parse_duration",
    "read_rule",
]
