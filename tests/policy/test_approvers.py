"""Policy keys for approvers, escalation chains and the halt tier."""

from __future__ import annotations

import pytest

from agentctl.errors import PolicyError
from agentctl.policy import Escalation, Policy, Tier, parse_policy

GOOD = """
[[rule]]
tool = "shell"
tier = "ask"
approvers = ["alice", "group:oncall"]
timeout = "15m"
escalate = [{ approvers = ["group:leads"], timeout = "30m" }, { approvers = ["cto"], timeout = 7200 }]
on_expiry = "pause"

[[rule]]
tool = "write_file"
tier = "halt"
"""


def test_a_chain_is_parsed_judged_and_stored() -> None:
    policy = parse_policy(GOOD, source="policy.toml")
    verdict = policy.evaluate("shell", {"command": "make deploy"})
    assert verdict.tier is Tier.ASK and verdict.approvers == ("alice", "group:oncall")
    assert verdict.escalate == (Escalation(("group:leads",), 1800.0), Escalation(("cto",), 7200.0))
    assert "then group:leads within 30m, then cto within 2h, then pause" in verdict.rule
    assert policy.evaluate("write_file", {"path": "a", "content": ""}).tier is Tier.HALT
    assert Policy.from_dict(policy.to_dict()) == policy  # as stored in session.created


def test_a_policy_stored_before_approvers_existed_still_loads() -> None:
    stored = parse_policy(GOOD).to_dict()
    for rule in stored["rules"]:
        del rule["approvers"], rule["escalate"]
    assert Policy.from_dict(stored).rules[0].approvers == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('approvers = "alice"', "'approvers' must be a non-empty list"),
        ("approvers = []", "'approvers' must be a non-empty list"),
        ('approvers = ["bob smith"]', "'bob smith' is not a user name or group:NAME"),
        ('escalate = [{ approvers = ["b"], timeout = "1m" }]', "'escalate' needs a 'timeout'"),
        (
            'timeout = "1m"\nescalate = [{ approvers = ["b"] }]',
            "needs exactly 'approvers' and 'timeout'",
        ),
        ('timeout = "1m"\nescalate = [{ approvers = ["b"], timeout = "soon" }]', "bad duration"),
        ('timeout = "1m"\nescalate = "b"', "'escalate' must be a list of tables"),
    ],
)
def test_mistakes_are_named(extra: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(f'[[rule]]\ntool = "x"\ntier = "ask"\n{extra}\n', source="policy.toml")


def test_approvers_only_on_ask_rules() -> None:
    with pytest.raises(PolicyError, match="'approvers' applies only to ask rules"):
        parse_policy('[[rule]]\ntool = "x"\ntier = "halt"\napprovers = ["a"]\n')
