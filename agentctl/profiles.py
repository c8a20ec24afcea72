"""Agent profiles: a named, versioned definition of an agent, in TOML.

A profile is `agents/NAME.toml` in the config folder, or
`.agentctl/agents/NAME.toml` in the workspace (the config folder's wins: a
repository cannot replace an agent the user defined). It gives the agent's
instructions, model and endpoint, policy, image (or a recipe to build one),
the tools it may use, its budget and labels. Options given to `agentctl run`
override it.

Every session records a hash of everything that shapes its behaviour — the
system prompt (base, profile instructions, AGENTS.md), the schemas of the
tools offered, the policy's rules, the model and endpoint, the image's
digest — so sessions can be grouped by the agent they really ran, whatever
the profile was called. Labels, budgets and the task do not enter it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentctl.errors import UsageError
from agentctl.protocol import Budget

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
WORKSPACE_DIR = Path(".agentctl") / "agents"


class AgentProfile(BaseModel):
    """What a profile file may say (unknown keys are an error: a typo is not ignored)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    instructions: str = ""
    model: str | None = None
    base_url: str | None = None
    policy: str | None = None  # a preset name, or a TOML file (relative to the profile)
    image: str | None = None
    recipe: str | None = None  # a recipe folder (relative to the profile) built by `sandbox build`
    tools: list[str] | None = None  # None: every tool
    mcp: list[str] | None = None  # the MCP servers it uses (None: every configured one)
    budget: Budget = Field(default_factory=Budget)
    labels: dict[str, str] = Field(default_factory=dict)
    # The model's context window in tokens (over the endpoint's), when to compact, and the
    # model that writes the summaries (docs/context.md).
    context_window: int | None = Field(default=None, ge=64)
    compact_at: float | None = Field(default=None, gt=0, lt=1)
    summary_model: str | None = None


@dataclass(frozen=True)
class LoadedProfile:
    name: str
    path: Path
    profile: AgentProfile
    error: str | None = None  # set by `list_profiles` for a file that does not load

    def relative(self, value: str) -> Path:
        """A path the profile gives, relative to the profile's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def folders(config_dir: Path, workspace: Path | None) -> list[Path]:
    found = [config_dir / "agents"]
    if workspace is not None:
        found.append(workspace / WORKSPACE_DIR)
    return found


def find_profile(name: str, config_dir: Path, workspace: Path | None = None) -> LoadedProfile:
    if not NAME.fullmatch(name):
        raise UsageError(f"{name!r} is not an agent name (letters, digits, '_', '-', '.')")
    for folder in folders(config_dir, workspace):
        path = folder / f"{name}.toml"
        if path.is_file():
            return load_profile(path)
    known = ", ".join(sorted(names(config_dir, workspace))) or "none"
    where = " or ".join(str(f) for f in folders(config_dir, workspace))
    raise UsageError(f"no agent {name!r} in {where}", hint=f"known agents: {known}")


def load_profile(path: Path) -> LoadedProfile:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read agent profile {path}: {exc}") from None
    try:
        profile = AgentProfile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'profile'}: {err['msg']}"
            for err in exc.errors()
        )
        raise UsageError(f"agent profile {path} is not valid: {problems}") from None
    return LoadedProfile(name=path.stem, path=path, profile=profile)


def _files(config_dir: Path, workspace: Path | None) -> dict[str, Path]:
    """Each profile name and the file that defines it (the config folder's first)."""
    seen: dict[str, Path] = {}
    for folder in folders(config_dir, workspace):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                if NAME.fullmatch(path.stem):
                    seen.setdefault(path.stem, path)
    return seen


def names(config_dir: Path, workspace: Path | None = None) -> list[str]:
    return list(_files(config_dir, workspace))


def list_profiles(config_dir: Path, workspace: Path | None = None) -> list[LoadedProfile]:
    """Every profile; one that does not load is listed with its `error`."""
    found = []
    for name, path in _files(config_dir, workspace).items():
        try:
            found.append(load_profile(path))
        except UsageError as exc:
            found.append(
                LoadedProfile(name=name, path=path, profile=AgentProfile(), error=str(exc))
            )
    return found


def behaviour_hash(
    *,
    system: str,
    tools: list[dict[str, Any]],
    policy: dict[str, Any],
    model: str,
    base_url: str | None,
    image_digest: str | None,
    mcp: dict[str, Any] | None = None,
) -> str:
    """sha256 of what shapes an agent's behaviour, as canonical JSON.

    `mcp`: the MCP servers it gets (their tools are tools too), each as it is
    started — not its env or header values, which may be secrets."""
    rules = [{k: v for k, v in r.items() if k != "line"} for r in policy.get("rules", [])]
    shaped = {
        "instructions": system,
        "tools": tools,
        "policy": {
            "default_tier": policy.get("default_tier"),
            "network": policy.get("network"),
            "rules": rules,
        },
        "model": {"model": model, "base_url": base_url},
        "image": image_digest,
    }
    if mcp:  # left out when there are none: the hashes of sessions without MCP stay as they were
        shaped["mcp"] = mcp
    text = json.dumps(shaped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
