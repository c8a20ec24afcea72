"""Plugins: tools and model providers from other distributions, by entry point.

Two entry-point groups, as `llm` and `harlequin` have:

- `agentctl.tools`: each entry point names a `Tool` (what `@agentctl.tool`
  makes of a typed function), or a list of them, or a function of no
  arguments that returns one or a list;
- `agentctl.providers`: the entry point's name is a model scheme
  (`--model NAME:MODEL`), its object a `ProviderFactory`: called with the
  whole spec, the part after the colon and `--base-url`, it returns a
  `Provider`.

The daemon discovers them once, when it starts (`discover`). A plugin that
fails to import, or that would take a name already taken (a built-in tool,
a built-in scheme, another plugin's), is not loaded; the daemon logs why and
`agentctl doctor` lists it. Each session records the plugins it uses (their
distribution and version) in `session.created`, so a daemon that resumes it
without them says which to install instead of failing obscurely.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, create_model

from agentctl.protocol import PluginRef
from agentctl.providers.base import Provider
from agentctl.tools import Tool, ToolCallError, ToolContext, ToolOutcome, cap_output

log = logging.getLogger(__name__)

TOOLS_GROUP = "agentctl.tools"
PROVIDERS_GROUP = "agentctl.providers"
# What a model's API accepts as a function name (OpenAI's rule).
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SCHEME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class ProviderFactory(Protocol):
    def __call__(self, spec: str, model: str, base_url: str | None) -> Provider: ...


# --- @agentctl.tool ---------------------------------------------------------------


class _PluginArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@overload
def tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    needs_sandbox: bool = False,
) -> Tool: ...
@overload
def tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    needs_sandbox: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    needs_sandbox: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a `Tool` of a typed function; its arguments' model comes from its signature.

        @agentctl.tool(idempotent=True)
        def word_count(text: str, unique: bool = False) -> str:
            '''Count the words of a text.'''

    Each parameter is an argument of the tool, with its annotation and default
    (`Annotated[int, Field(ge=1, description=…)]` works as in pydantic); a
    first parameter annotated `ToolContext` is given the call's context (the
    session, its sandbox, the output cap) instead. The description is the
    docstring's first paragraph. The function may be `async`. It returns a
    `ToolOutcome`, a string (the output), None, or anything JSON can encode;
    an exception is an error result the model sees. `idempotent=True` says a
    call found in flight after a crash may simply run again; a tool that is
    not idempotent goes back to a person then. With `needs_sandbox=True` the
    context's `sandbox` is the session's container (started or restored
    first); in a session without one (`--image none`) the call is an error
    result instead.
    """

    def make(fn: Callable[..., Any]) -> Tool:
        return _tool_of(fn, name, description, idempotent, needs_sandbox)

    return make(fn) if fn is not None else make


def _tool_of(
    fn: Callable[..., Any],
    name: str | None,
    description: str | None,
    idempotent: bool,
    needs_sandbox: bool,
) -> Tool:
    tool_name = name or fn.__name__
    if not TOOL_NAME.match(tool_name):
        raise ValueError(f"tool name {tool_name!r} is not 1-64 letters, digits, _ or -")
    hints = get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())
    takes_context = bool(params) and hints.get(params[0].name) is ToolContext
    if takes_context:
        params = params[1:]
    fields: dict[str, Any] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ValueError(f"tool {tool_name}: *{param.name} cannot be a tool argument")
        if param.name not in hints:
            raise ValueError(f"tool {tool_name}: argument {param.name!r} has no type annotation")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    title = "".join(part.title() for part in tool_name.replace("-", "_").split("_")) + "Args"
    args_model = create_model(title, __base__=_PluginArgs, **fields)
    doc = inspect.getdoc(fn) or ""
    text = description or doc.split("\n\n", 1)[0].replace("\n", " ").strip() or tool_name
    is_async = inspect.iscoroutinefunction(fn)

    def run(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
        if needs_sandbox and ctx.sandbox is None:
            raise ToolCallError(f"{tool_name} needs a sandbox, and this session has none")
        values = {key: getattr(args, key) for key in fields}
        result = fn(ctx, **values) if takes_context else fn(**values)
        if is_async:  # a worker thread runs the tool: it has no loop of its own
            result = asyncio.run(result)
        return _outcome(result, ctx)

    return Tool(
        tool_name, text, args_model, idempotent=idempotent, run=run, needs_sandbox=needs_sandbox
    )


def _outcome(result: Any, ctx: ToolContext) -> ToolOutcome:
    if isinstance(result, ToolOutcome):
        output, outcome = result.output, result
    else:
        if result is None:
            output = ""
        elif isinstance(result, str):
            output = result
        else:
            output = json.dumps(result, default=str, ensure_ascii=False)
        outcome = ToolOutcome(output=output)
    kept, truncated, full = cap_output(output, ctx.output_cap, ctx.spill_dir)
    if not truncated:
        return outcome
    return dataclasses.replace(outcome, output=kept, truncated=True, full_output=full)


# --- discovery --------------------------------------------------------------------


@dataclass
class Plugins:
    """What the installed plugins give, and which of them could not be loaded."""

    tools: dict[str, Tool] = field(default_factory=dict)
    providers: dict[str, ProviderFactory] = field(default_factory=dict)
    origins: dict[tuple[str, str], PluginRef] = field(default_factory=dict)  # (group, name)
    errors: list[str] = field(default_factory=list)

    def loaded(self) -> list[PluginRef]:
        """Each plugin with everything it gives."""
        return self.used_by(
            [name for group, name in self.origins if group == TOOLS_GROUP],
            *[f"{name}:" for group, name in self.origins if group == PROVIDERS_GROUP],
        )

    def used_by(self, tools: Iterable[str], *models: str) -> list[PluginRef]:
        """The plugins a session with these tools and model specs depends on."""
        wanted = {(TOOLS_GROUP, name) for name in tools}
        wanted |= {(PROVIDERS_GROUP, model.partition(":")[0]) for model in models}
        refs: dict[str, PluginRef] = {}
        for key, ref in self.origins.items():
            if key in wanted:
                kept = refs.setdefault(ref.key, ref.model_copy(update={"provides": []}))
                kept.provides.append(key[1])
        return list(refs.values())


def discover(
    builtin_tools: Iterable[str],
    builtin_schemes: Iterable[str],
    entry_points: Callable[[str], Iterable[metadata.EntryPoint]] | None = None,
) -> Plugins:
    """Load every installed plugin; a broken or clashing one is left out and said."""
    found = entry_points or (lambda group: metadata.entry_points(group=group))
    plugins = Plugins()
    taken_tools = set(builtin_tools)
    taken_schemes = set(builtin_schemes)
    for point in sorted(found(TOOLS_GROUP), key=_order):
        where = _where(point)
        try:
            tools = _tools_of(point.load())
        except Exception as exc:  # a plugin's own bug must not stop the daemon
            plugins.errors.append(f"{where}: cannot load: {type(exc).__name__}: {exc}")
            continue
        for one in tools:
            if one.name in taken_tools or one.name.startswith("mcp__"):  # MCP's names are MCP's
                plugins.errors.append(f"{where}: tool {one.name!r} is taken; left out")
                continue
            taken_tools.add(one.name)
            plugins.tools[one.name] = one
            plugins.origins[(TOOLS_GROUP, one.name)] = _ref(point, TOOLS_GROUP)
    for point in sorted(found(PROVIDERS_GROUP), key=_order):
        where = _where(point)
        if not SCHEME.match(point.name) or point.name in taken_schemes:
            plugins.errors.append(f"{where}: scheme {point.name!r} is taken or not a name")
            continue
        try:
            factory = point.load()
        except Exception as exc:
            plugins.errors.append(f"{where}: cannot load: {type(exc).__name__}: {exc}")
            continue
        if not callable(factory):
            plugins.errors.append(f"{where}: {point.value} is not a provider factory")
            continue
        taken_schemes.add(point.name)
        plugins.providers[point.name] = factory
        plugins.origins[(PROVIDERS_GROUP, point.name)] = _ref(point, PROVIDERS_GROUP)
    for error in plugins.errors:
        log.warning("plugin %s", error)
    return plugins


def _order(point: metadata.EntryPoint) -> tuple[str, str]:
    return (_distribution(point)[0] or "", point.name)


def _tools_of(loaded: Any) -> list[Tool]:
    if callable(loaded) and not isinstance(loaded, Tool):
        loaded = loaded()
    items = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
    for item in items:
        if not isinstance(item, Tool):
            raise TypeError(f"{item!r} is not a Tool (decorate it with @agentctl.tool)")
    return items


def _distribution(point: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(point, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _where(point: metadata.EntryPoint) -> str:
    name, version = _distribution(point)
    return f"{point.name} ({name or 'unknown distribution'} {version or ''})".replace(" )", ")")


def _ref(point: metadata.EntryPoint, group: str) -> PluginRef:
    name, version = _distribution(point)
    return PluginRef(group=group, name=point.name, distribution=name, version=version)


def missing(refs: Iterable[PluginRef], plugins: Plugins) -> list[str]:
    """What of `refs` this daemon lacks, each said with what to install."""
    gaps = []
    for ref in refs:
        have = plugins.tools if ref.group == TOOLS_GROUP else plugins.providers
        lacking = [name for name in ref.provides if name not in have]
        if lacking:
            kind = "model provider" if ref.group == PROVIDERS_GROUP else "tool"
            kind += "s" if len(lacking) > 1 else ""
            dist = ref.distribution or ref.name
            gaps.append(
                f"the {kind} {', '.join(lacking)} of the plugin {dist} {ref.version or ''}".rstrip()
            )
    return gaps


def lacking(sid: str, gaps: list[str]) -> str:
    """What a session that needs plugins this daemon lacks says, and what to do."""
    return (
        f"this daemon does not have {'; '.join(gaps)}, which the session uses: install it "
        "beside agentctl, restart the daemon (`agentctl daemon stop`; the next command "
        f"starts it), then `agentctl resume {sid}`"
    )


__all__ = [
    "PROVIDERS_GROUP",
    "TOOLS_GROUP",
    "PluginRef",
    "Plugins",
    "ProviderFactory",
    "discover",
    "lacking",
    "missing",
    "tool",
]
