"""The TOML format: readable errors with the right line, extends, loading, round trips."""

from __future__ import annotations

import json
import re
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentctl.errors import PolicyError
from agentctl.policy import (
    PRESETS,
    OnExpiry,
    Policy,
    Rule,
    Tier,
    format_duration,
    load_policy,
    parse_duration,
    parse_policy,
    preset,
)

EXAMPLE = dedent(
    r"""
    # optional
    default = "ask"          # tier when nothing matches
    network = true
    extends = "default"

    [[rule]]
    tool = "shell"
    command = '^\s*(ls|cat|grep)\b'
    tier = "allow"

    [[rule]]
    tool = "write_file"
    path = "secrets/**"
    tier = "deny"

    [[rule]]
    tool = "*"
    tier = "ask"
    timeout = "10m"           # or a number of seconds
    on_expiry = "pause"
    """
)


def test_the_documented_example_parses() -> None:
    policy = parse_policy(EXAMPLE, source="policy.toml")
    own = policy.rules[:3]
    assert [rule.line for rule in own] == [7, 12, 17]
    assert own[2].timeout_s == 600.0 and own[2].on_expiry is OnExpiry.PAUSE
    assert policy.rules[3:] == preset("default").rules  # extends: the preset's rules come after
    assert policy.name == "policy.toml" and policy.default_tier is Tier.ASK and policy.network
    assert policy.evaluate("shell", {"command": "cat a"}).rule.endswith("(policy.toml:7)")
    assert policy.evaluate("write_file", {"path": "./secrets/k"}).tier is Tier.DENY
    # The file's catch-all comes before the preset's read_file rule, so it wins.
    assert policy.evaluate("read_file", {"path": "a"}).timeout_s == 600.0


def test_extends_takes_the_presets_default_and_network_unless_overridden() -> None:
    strict = parse_policy('extends = "strict"\n')
    assert (strict.default_tier, strict.network) == (Tier.ASK, False)
    permissive = parse_policy('extends = "permissive"\ndefault = "ask"\n')
    assert permissive.default_tier is Tier.ASK
    assert permissive.evaluate("shell", {"command": "rm -rf /"}).tier is Tier.DENY


def test_an_empty_file_asks_for_everything() -> None:
    policy = parse_policy("", source="empty.toml")
    assert policy.rules == () and policy.default_tier is Tier.ASK and policy.network


# Each case: the file, the line the error must name, and a piece of the message.
INVALID = [
    pytest.param('default = "ask"\nnetwork = tru\n', 2, "invalid TOML", id="toml-syntax"),
    pytest.param('[[rule]]\ntier = "allow"\n\n[[rule]\n', 4, "invalid TOML", id="toml-header"),
    pytest.param(
        'default = "ask"\nnetwrok = true\n',
        2,
        "unknown key 'netwrok', did you mean 'network'?",
        id="top-key",
    ),
    pytest.param(
        '[[rules]]\ntier = "ask"\n', 1, "unknown key 'rules', did you mean 'rule'?", id="top-table"
    ),
    pytest.param(
        'default = "maybe"\n',
        1,
        "unknown tier 'maybe' for 'default' (allow, ask, deny, halt)",
        id="default-tier",
    ),
    pytest.param('network = "yes"\n', 1, "'network' must be true or false", id="network-type"),
    pytest.param(
        '\nextends = "defualt"\n',
        2,
        "unknown preset 'defualt' in 'extends' (default, strict, permissive)",
        id="extends",
    ),
    pytest.param(
        '[rule]\ntier = "ask"\n', 1, "'rule' must be an array of tables", id="rule-not-array"
    ),
    pytest.param(
        '[[rule]]\ntier = "allow"\n\n[[rule]]\ntool = "shell"\ntier = "ask"\n\n[[rule]]\n# a comment\ntool = "x"\ntier = "maybe"\n',
        11,
        "rule 3: unknown tier 'maybe' (allow, ask, deny, halt)",
        id="tier",
    ),
    pytest.param(
        '[[rule]]\ntier = "allow"\n\n[[rule]]\ntool = "shell"\n',
        4,
        "rule 2: missing 'tier'",
        id="no-tier",
    ),
    pytest.param(
        '[[rule]]\ntier = "deny"\ncomand = "rm"\n',
        3,
        "rule 1: unknown key 'comand', did you mean 'command'?",
        id="rule-key",
    ),
    pytest.param(
        '[[rule]]\ntier = "deny"\ntimeout = "10m"\n',
        3,
        "rule 1: 'timeout' applies only to ask rules (this one is deny)",
        id="timeout-not-ask",
    ),
    pytest.param(
        '[[rule]]\ntier = "allow"\non_expiry = "deny"\n',
        3,
        "rule 1: 'on_expiry' applies only to ask rules",
        id="expiry-not-ask",
    ),
    pytest.param(
        '[[rule]]\ntier = "ask"\non_expiry = "pause"\n',
        3,
        "'on_expiry' needs a 'timeout'",
        id="expiry-no-timeout",
    ),
    pytest.param(
        '[[rule]]\ntier = "ask"\ntimeout = "10m"\non_expiry = "later"\n',
        4,
        "unknown on_expiry 'later' (deny, pause)",
        id="expiry-value",
    ),
    pytest.param(
        '[[rule]]\ntier = "ask"\n\n[[rule]]\ntool = "shell"\ncommand = "(ls"\ntier = "allow"\n',
        6,
        "rule 2: bad regular expression in 'command': missing ), unterminated subpattern at position 0",
        id="regex",
    ),
    pytest.param(
        '[[rule]]\ntier = "ask"\ntimeout = "10 minutes"\n',
        3,
        "bad duration '10 minutes'",
        id="duration",
    ),
    pytest.param('[[rule]]\ntier = "ask"\ntimeout = -5\n', 3, "positive", id="negative-timeout"),
    pytest.param(
        '[[rule]]\ntier = "ask"\ntimeout = true\n',
        3,
        "'timeout' must be a number of seconds or a duration",
        id="timeout-type",
    ),
    pytest.param(
        '[[rule]]\ntool = ["shell"]\ntier = "ask"\n',
        2,
        "rule 1: 'tool' must be a string, not ['shell']",
        id="tool-type",
    ),
    pytest.param(
        '[[rule]]\ntier = "ask"\npath = 3\n', 3, "'path' must be a string", id="path-type"
    ),
    pytest.param('[[rule]]\ntier = "ask"\ntool = ""\n', 3, "'tool' is empty", id="empty-tool"),
]


@pytest.mark.parametrize(("text", "line", "message"), INVALID)
def test_mistakes_name_the_file_the_line_and_the_rule(text: str, line: int, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy.toml")
    error = str(caught.value)
    assert error.startswith(f"policy.toml:{line}: "), error
    assert message in error, error


def test_toml_syntax_errors_keep_tomllibs_position() -> None:
    with pytest.raises(PolicyError, match=r"^p\.toml:2: invalid TOML: .*\(at line 2, column \d+\)"):
        parse_policy('default = "ask"\nnetwork = tru\n', source="p.toml")


def test_rule_lines_ignore_headers_inside_strings_and_comments() -> None:
    text = dedent(
        """\
        # [[rule]] in a comment
        [[rule]]
        name = '''
        [[rule]]
        '''
        tool = "a"
        tier = "allow"

        [[rule]]  # the second one
        tool = "b"
        name = "[[rule]]"
        tier = "bad"
        """
    )
    with pytest.raises(PolicyError, match=r"^<policy>:12: rule 2: unknown tier 'bad'"):
        parse_policy(text)
    fixed = parse_policy(text.replace('"bad"', '"deny"'))
    assert [rule.line for rule in fixed.rules] == [2, 9]


def test_rules_written_inline_still_parse_without_lines() -> None:
    policy = parse_policy('rule = [{tool = "shell", tier = "deny"}]\n', source="p.toml")
    assert policy.rules[0].line is None
    assert policy.evaluate("shell", {"command": "x"}).rule == "shell → deny (p.toml)"
    with pytest.raises(PolicyError, match=r"^p\.toml: rule 1: unknown tier"):
        parse_policy('rule = [{tool = "shell", tier = "nah"}]\n', source="p.toml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1d", 86400),
        (" 2 h ", 7200),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "10x", "m", "-5s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10**7))
def test_format_duration_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


# --- load_policy -------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_load_a_preset_by_name(name: str) -> None:
    assert load_policy(name) == preset(name)
    assert load_policy(name).name == name


def test_load_a_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('default = "deny"\n[[rule]]\ntool = "read_file"\ntier = "allow"\n')
    policy = load_policy(str(path))
    assert policy.name == str(path)
    assert policy.evaluate("read_file", {"path": "a"}).rule == "read_file → allow (mine.toml:2)"
    assert policy.evaluate("shell", {"command": "ls"}).tier is Tier.DENY


def test_errors_in_a_loaded_file_name_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('\n\n[[rule]]\ntier = "sometimes"\n')
    with pytest.raises(PolicyError, match=rf"^{path}:4: rule 1: unknown tier 'sometimes'"):
        load_policy(str(path))


def test_none_falls_back_to_the_config_dir_then_the_default_preset(tmp_path: Path) -> None:
    assert load_policy(None, config_dir=tmp_path) == preset("default")
    (tmp_path / "policy.toml").write_text('extends = "strict"\n')
    policy = load_policy(None, config_dir=tmp_path)
    assert policy.name == str(tmp_path / "policy.toml") and policy.network is False


def test_none_without_config_dir_uses_agentctl_config(agentctl_home: Path) -> None:
    assert load_policy(None) == preset("default")
    config = agentctl_home / "config"
    config.mkdir()
    (config / "policy.toml").write_text('default = "deny"\n')
    assert load_policy(None).default_tier is Tier.DENY


def test_an_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(
        PolicyError, match=r"'paranoid' is neither a preset \(default, strict, permissive\)"
    ):
        load_policy("paranoid")


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="neither a preset"):
        load_policy(str(tmp_path / "nope.toml"))


def test_an_unreadable_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(str(tmp_path))  # a directory
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(str(binary))


# --- to_dict / from_dict -------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_presets_round_trip_through_json(name: str) -> None:
    policy = preset(name)
    assert Policy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


def test_a_parsed_file_round_trips() -> None:
    policy = parse_policy(EXAMPLE, source="policy.toml")
    again = Policy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert again == policy
    assert again.evaluate("shell", {"command": "ls"}) == policy.evaluate("shell", {"command": "ls"})


REGEXES = st.sampled_from([r"^ls\b", r"rm\s+-rf", "(?i)make", r"\A\Z", "[;&|]"])
GLOBS = st.sampled_from(["*", "secrets/**", "**/.git/**", "*.py", "src/[ab]*"])


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    tier = draw(st.sampled_from(list(Tier)))
    timeout = (
        draw(st.none() | st.floats(min_value=0.001, max_value=1e6)) if tier is Tier.ASK else None
    )
    on_expiry = draw(st.sampled_from(list(OnExpiry))) if timeout is not None else OnExpiry.DENY
    return Rule(
        tool=draw(st.sampled_from(["*", "shell", "*_file", "noop"])),
        command=draw(st.none() | REGEXES),
        path=draw(st.none() | GLOBS),
        tier=tier,
        timeout_s=timeout,
        on_expiry=on_expiry,
        name=draw(st.text(max_size=20)),
        line=draw(st.none() | st.integers(min_value=1, max_value=10_000)),
    )


@given(
    st.text(min_size=1, max_size=30),
    st.lists(rules(), max_size=6),
    st.sampled_from(list(Tier)),
    st.booleans(),
)
def test_any_policy_round_trips_through_json(
    name: str, rule_list: list[Rule], default: Tier, network: bool
) -> None:
    policy = Policy(name=name, rules=tuple(rule_list), default_tier=default, network=network)
    data = json.loads(json.dumps(policy.to_dict()))
    assert Policy.from_dict(data) == policy
    assert Policy.from_dict(data).to_dict() == data


@given(
    st.lists(rules(), max_size=6),
    st.text(max_size=10),
    st.dictionaries(
        st.sampled_from(["command", "path", "content", "depth"]),
        st.none()
        | st.integers()
        | st.text(max_size=20)
        | st.lists(st.text(max_size=3), max_size=2),
    ),
)
def test_evaluate_never_fails_on_whatever_args_a_model_sends(
    rule_list: list[Rule], tool: str, args: dict[str, object]
) -> None:
    verdict = Policy(name="p", rules=tuple(rule_list)).evaluate(tool, args)
    assert verdict.tier in set(Tier)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "rules": [], "colour": "red"}, "unknown keys: colour"),
        ({"rules": "nope"}, "'rules' must be a list"),
        ({"rules": [{"tool": "*"}]}, "no 'tier'"),
        ({"rules": [{"tier": "perhaps"}]}, "unknown tier 'perhaps'"),
        ({"rules": [{"tier": "ask", "timeout_s": "10m"}]}, "'timeout_s' must be a number"),
        ({"rules": [{"tier": "ask", "line": "3"}]}, "'line' must be an integer"),
        ({"rules": [{"tier": "ask", "tool": 3}]}, "wrong type"),
        ({"default_tier": "whenever"}, "unknown default tier 'whenever'"),
        ({"network": "no"}, "wrong type"),
        ({"rules": ["ask"]}, "must be a mapping"),
    ],
)
def test_from_dict_refuses_what_it_does_not_understand(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(PolicyError, match=None) as caught:
        Policy.from_dict(data)
    assert message in str(caught.value)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def test_every_policy_in_the_docs_parses() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text("utf-8"), flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        parse_policy(block, source="docs/policy.md")


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        (glob, path, True)
        for glob, paths in {
            "secrets/**": ["secrets", "secrets/a", "secrets/a/b"],
            "**/.env": [".env", "app/.env"],
            "**/.git/**": [".git", ".git/config", "lib/.git/HEAD"],
            "*.py": ["a.py", "pkg/a.py"],
        }.items()
        for path in paths
    ]
    + [
        ("secrets/**", "src/secrets/a", False),
        ("**/.env", "app/.envrc", False),
        ("**/.git/**", ".gitignore", False),
        ("*.py", "a.pyc", False),
    ],
)
def test_the_glob_table_in_the_docs(glob: str, path: str, matches: bool) -> None:
    assert Rule(path=glob, tier=Tier.DENY).matches("write_file", {"path": path}) is matches
