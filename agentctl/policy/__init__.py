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
on a rule that does not ask.

The package has two halves along one seam: `rules` (pure: matching,
evaluation, and the one check of a rule, whether it comes from a file, a
store or Python) and `files` (the TOML loader, the presets, line numbers).
"""

from .files import PRESETS, load_policy, parse_policy, policy_toml, preset
from .rules import (
    Escalation,
    OnExpiry,
    Policy,
    Rule,
    Tier,
    Verdict,
    format_duration,
    normalize_path,
    parse_duration,
)

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
    "policy_toml",
    "preset",
]
