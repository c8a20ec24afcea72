"""Matching: first match wins, tool globs, command regexes, normalised path globs."""

from __future__ import annotations

from typing import Any

import pytest

from agentctl.errors import PolicyError
from agentctl.policy import OnExpiry, Policy, Rule, Tier, normalize_path, parse_policy


def test_first_matching_rule_wins() -> None:
    policy = Policy(
        name="t",
        rules=(
            Rule(tool="shell", command=r"\brm\b", tier=Tier.DENY, name="no rm"),
            Rule(tool="shell", tier=Tier.ALLOW, name="shell ok"),
            Rule(tool="shell", command=r"\brm\b", tier=Tier.ASK, name="never reached"),
        ),
    )
    assert policy.evaluate("shell", {"command": "rm x"}).rule == "no rm"
    assert policy.evaluate("shell", {"command": "ls"}).rule == "shell ok"
    swapped = Policy(name="t", rules=policy.rules[1::-1])
    assert swapped.evaluate("shell", {"command": "rm x"}).rule == "shell ok"


def test_no_match_gives_the_default_tier() -> None:
    policy = Policy(
        name="t", rules=(Rule(tool="read_file", tier=Tier.ALLOW),), default_tier=Tier.DENY
    )
    verdict = policy.evaluate("write_file", {"path": "a"})
    assert (verdict.tier, verdict.rule, verdict.timeout_s) == (Tier.DENY, "default: deny", None)


@pytest.mark.parametrize(
    ("glob", "tool", "matches"),
    [
        ("*", "noop", True),
        ("*", "shell", True),
        ("*_file", "read_file", True),
        ("*_file", "shell", False),
        ("shell", "shell", True),
        ("shell", "shell2", False),
        ("read_*", "read_file", True),
        ("[rw]*_file", "write_file", True),
        ("[rw]*_file", "edit_file", False),
    ],
)
def test_tool_glob(glob: str, tool: str, matches: bool) -> None:
    assert Rule(tool=glob, tier=Tier.DENY).matches(tool, {}) is matches


@pytest.mark.parametrize(
    ("regex", "command", "matches"),
    [
        (r"rm -rf", "sudo rm -rf /", True),  # searched, not anchored
        (r"^ls\b", "ls -la", True),
        (r"^ls\b", "lsblk", False),
        (r"^ls\b", "echo; ls", False),
        (r"(?i)^MAKE\b", "make test", True),
    ],
)
def test_command_regex_is_searched(regex: str, command: str, matches: bool) -> None:
    assert (
        Rule(tool="shell", command=regex, tier=Tier.DENY).matches("shell", {"command": command})
        is matches
    )


@pytest.mark.parametrize("args", [{}, {"path": "x"}, {"command": None}, {"command": ["ls"]}])
def test_a_command_rule_needs_a_string_command(args: dict[str, Any]) -> None:
    assert not Rule(command=".*", tier=Tier.DENY).matches("shell", args)


def test_a_command_rule_matches_any_tool_with_a_command() -> None:
    rule = Rule(command="^deploy", tier=Tier.DENY)
    assert rule.matches("my_runner", {"command": "deploy prod"})


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("a", "a"),
        ("./a", "a"),
        ("a/./b", "a/b"),
        ("a//b/", "a/b"),
        ("a/../b", "b"),
        ("src/../secrets/key", "secrets/key"),
        ("/workspace/secrets/key", "secrets/key"),
        ("//workspace/./secrets", "secrets"),
        ("/workspace", "."),
        ("", "."),
        ("../outside", "../outside"),
        ("/etc/passwd", "/etc/passwd"),
    ],
)
def test_paths_are_normalised_lexically(raw: str, normal: str) -> None:
    assert normalize_path(raw) == normal


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("secrets/**", "secrets/key", True),
        ("secrets/**", "./secrets/key", True),
        ("secrets/**", "secrets/deep/er/key", True),
        ("secrets/**", "src/../secrets/key", True),
        ("secrets/**", "/workspace/secrets/key", True),
        ("secrets/**", "secrets", True),  # a trailing /** covers the folder itself
        ("secrets/**", "secrets.txt", False),
        ("secrets/**", "src/secrets/key", False),
        ("./secrets/**", "secrets/key", True),
        ("**/.env", ".env", True),  # a leading **/ may match no folder
        ("**/.env", "app/.env", True),
        ("**/.env", "app/.envrc", False),
        ("*.py", "a.py", True),
        ("*.py", "pkg/a.py", True),  # fnmatch: * crosses /
        ("*.py", "a.pyc", False),
        ("Makefile", "./Makefile", True),
        ("Makefile", "sub/../Makefile", True),
    ],
)
def test_path_glob(glob: str, path: str, matches: bool) -> None:
    assert Rule(path=glob, tier=Tier.DENY).matches("write_file", {"path": path}) is matches


@pytest.mark.parametrize("args", [{}, {"path": None}, {"path": 3}])
def test_a_path_rule_needs_a_string_path(args: dict[str, Any]) -> None:
    assert not Rule(path="*", tier=Tier.DENY).matches("list_files", args)


def test_command_and_path_must_both_match() -> None:
    rule = Rule(command="^cat", path="secrets/**", tier=Tier.DENY)
    assert rule.matches("x", {"command": "cat", "path": "secrets/a"})
    assert not rule.matches("x", {"command": "cat", "path": "public/a"})
    assert not rule.matches("x", {"command": "ls", "path": "secrets/a"})


def test_ask_verdict_carries_timeout_and_expiry() -> None:
    policy = parse_policy('[[rule]]\ntier = "ask"\ntimeout = "10m"\non_expiry = "pause"\n')
    verdict = policy.evaluate("write_file", {"path": "a"})
    assert (verdict.tier, verdict.timeout_s, verdict.on_expiry) == (Tier.ASK, 600.0, OnExpiry.PAUSE)


def test_rule_names_describe_the_rule_and_where_it_is() -> None:
    text = '\n[[rule]]\ntool = "shell"\ncommand = "rm -rf"\ntier = "deny"\n\n[[rule]]\ntier = "ask"\ntimeout = 90\n'
    policy = parse_policy(text, source="/home/me/.config/agentctl/policy.toml")
    assert policy.evaluate("shell", {"command": "rm -rf x"}).rule == (
        "shell command ~ /rm -rf/ → deny (policy.toml:2)"
    )
    assert (
        policy.evaluate("noop", {}).rule == "any tool → ask within 1m30s, then deny (policy.toml:7)"
    )


def test_an_explicit_name_is_what_the_approver_sees() -> None:
    policy = parse_policy(
        '[[rule]]\nname = "writes need review"\ntool = "write_file"\ntier = "ask"\n'
    )
    assert policy.evaluate("write_file", {"path": "a"}).rule == "writes need review"


def test_rules_built_in_python_get_a_description() -> None:
    rule = Rule(tool="write_file", path="secrets/**", tier=Tier.DENY, line=4)
    assert rule.label == "write_file path ~ secrets/** → deny (line 4)"
    long = Rule(command="x" * 200, tier=Tier.DENY)
    assert len(long.label) < 100 and "…" in long.label


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"tier": "maybe"}, "unknown tier 'maybe' (allow, ask, deny, halt)"),
        ({"tier": Tier.ALLOW, "timeout_s": 5.0}, "'timeout' applies only to ask rules"),
        ({"tier": Tier.DENY, "on_expiry": OnExpiry.PAUSE}, "'on_expiry' applies only to ask rules"),
        ({"tier": Tier.ASK, "on_expiry": OnExpiry.PAUSE}, "'on_expiry' needs a 'timeout'"),
        ({"tier": Tier.ASK, "timeout_s": 0.0}, "positive"),
        ({"tier": Tier.ASK, "command": "("}, "bad regular expression"),
        ({"tier": Tier.ASK, "tool": ""}, "'tool' is empty"),
        ({"tier": Tier.ASK, "path": ""}, "'path' is empty"),
    ],
)
def test_rules_built_in_python_are_validated(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(PolicyError, match=None) as caught:
        Rule(**kwargs)
    assert needle in str(caught.value)


def test_rules_accept_tier_strings() -> None:
    rule = Rule(tier="allow", on_expiry="deny")  # type: ignore[arg-type]  # strings, as TOML has them
    assert rule.tier is Tier.ALLOW and rule.on_expiry is OnExpiry.DENY
