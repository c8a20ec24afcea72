"""What a new session runs as: the request's options laid over its profile's.

An option the client set wins; one it left out comes from the profile, then
from the default. Paths a profile names (a policy file, a recipe, a replay
recording) are relative to the profile file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentctl.errors import UsageError
from agentctl.policy import PRESETS
from agentctl.profiles import AgentProfile, LoadedProfile
from agentctl.protocol import Budget, ContextPolicy, CreateSession
from sandboxes.recipe import image_tag


@dataclass(frozen=True)
class Agent:
    model: str
    base_url: str | None
    policy: str | None
    image: str | None
    tools: list[str]
    budget: Budget
    labels: dict[str, str]
    instructions: str = ""
    name: str | None = None
    source: str | None = None
    build_hint: str = "agentctl sandbox build"
    mcp: list[str] | None = None  # the profile's MCP servers (None: every configured one)
    context: ContextPolicy = field(default_factory=ContextPolicy)  # window None: the endpoint's

    @classmethod
    def of(cls, req: CreateSession, loaded: LoadedProfile | None, tools: list[str]) -> Agent:
        given = req.model_fields_set
        profile = loaded.profile if loaded is not None else AgentProfile()
        model = req.model
        if "model" not in given and profile.model is not None:
            model = profile.model
            if loaded is not None and model.startswith("replay:"):
                model = "replay:" + str(loaded.relative(model.removeprefix("replay:")))
        base_url = req.base_url if "base_url" in given else profile.base_url
        policy = req.policy
        if policy is None and profile.policy is not None:
            policy = profile.policy
            if loaded is not None and policy not in PRESETS:
                policy = str(loaded.relative(policy))
        image, hint = req.image, "agentctl sandbox build"
        if image is None and loaded is not None and profile.recipe is not None:
            recipe = loaded.relative(profile.recipe)
            if not (recipe / "recipe.toml").is_file():
                raise UsageError(f"agent {loaded.name}: no recipe.toml in {recipe}")
            image, hint = image_tag(recipe), f"agentctl sandbox build --recipe {recipe}"
        elif image is None:
            image = profile.image
        from agentctl.tools import OPT_IN_TOOLS

        allowed = [t for t in tools if t not in OPT_IN_TOOLS]  # `delegate`: named, or off
        if profile.tools is not None:
            unknown = sorted(set(profile.tools) - set(tools))
            if unknown:
                raise UsageError(
                    f"agent {req.agent}: unknown tools {', '.join(unknown)}",
                    hint=f"tools: {', '.join(tools)}",
                )
            allowed = [t for t in tools if t in profile.tools]
        budget = Budget.model_validate(
            {
                **profile.budget.model_dump(exclude_none=True),
                **req.budget.model_dump(exclude_none=True),
            }
        )
        return cls(
            model=model,
            base_url=base_url,
            policy=policy,
            image=image,
            tools=allowed,
            budget=budget,
            labels={**profile.labels, **req.labels},
            instructions=profile.instructions,
            name=loaded.name if loaded is not None else None,
            source=str(loaded.path) if loaded is not None else None,
            build_hint=hint,
            mcp=profile.mcp,
            context=_context(req.context, profile),
        )


def _context(given: ContextPolicy | None, profile: AgentProfile) -> ContextPolicy:
    """The request's context settings over the profile's (the window may still be None)."""
    asked = given.model_dump(exclude_unset=True) if given is not None else {}
    own = {
        "window": profile.context_window,
        "compact_at": profile.compact_at,
        "summary_model": profile.summary_model,
    }
    return ContextPolicy.model_validate(
        {**{k: v for k, v in own.items() if v is not None}, **asked}
    )
