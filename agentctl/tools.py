"""The tools an agent can call, and the registry that validates their arguments.

Each tool declares a pydantic model of its arguments (which gives the JSON
schema sent to the model and the validation applied before execution) and
whether it is idempotent: an idempotent tool found in flight after a crash
simply runs again, any other goes back through approval (docs/design.md §4).
Invalid arguments, an unknown tool or malformed JSON never reach a tool: they
become an error result for the model (`ToolCallError`).

Tools can be registered in-process through `ToolRegistry.register` (the step
benchmark's no-op tool). MCP servers add tools of their own (agentctl.mcp):
those carry a JSON schema instead of a pydantic model, are checked with
`jsonschema`, and run on the event loop (`arun`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentctl.filediff import file_diff, replaced_once
from agentctl.handoff import DELEGATE_TOOL, DelegateArgs
from agentctl.jsonschemas import validator_of
from agentctl.providers.base import ToolSpec
from sandboxes import SandboxError

if TYPE_CHECKING:
    from sandboxes import Sandbox


class ToolCallError(Exception):
    """A call the runtime refuses before it reaches a tool; fed back to the model."""


@dataclass(frozen=True)
class ToolOutcome:
    exit_code: int | None = 0
    output: str = ""
    truncated: bool = False
    full_output: Path | None = None
    timed_out: bool = False
    error: str | None = None
    duration_ms: float = 0.0
    attachments: tuple[str, ...] = ()  # SESSION/NAME files kept in the artifacts folder


@dataclass(frozen=True)
class ToolContext:
    session_id: str
    sandbox: Sandbox | None
    output_cap: int = 64_000
    timeout_s: float = 120.0
    call_key: str | None = None  # the call's idempotency key (tool.started)
    call_id: str | None = None  # the call it runs for (an MCP server's questions name it)
    spill_dir: Path | None = None  # where an in-process tool keeps a whole output over the cap


def cap_output(text: str, cap: int, spill_dir: Path | None) -> tuple[str, bool, Path | None]:
    """An in-process tool's output within `cap` bytes, as a command's is: (kept, truncated,
    the whole output in a file under `spill_dir` for the step machine to keep, or None)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= cap:
        return text, False, None
    head = data[:cap].decode("utf-8", "ignore")
    if spill_dir is None:
        return head + "\n[output truncated; the whole output was not kept]", True, None
    try:
        spill_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=spill_dir, suffix=".out")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError:
        return head + "\n[output truncated; the whole output was not kept]", True, None
    return head, True, Path(name)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SchemaArgs(BaseModel):
    """Arguments checked against a JSON schema (an MCP tool's), kept exactly as they came."""

    model_config = ConfigDict(extra="allow")

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_model: type[BaseModel]
    idempotent: bool
    run: Callable[[ToolContext, Any], ToolOutcome]
    needs_sandbox: bool = True
    # Runs on the event loop instead of a worker thread: only for in-process
    # tools that neither block nor take long (a thread hop costs more than they do).
    inline: bool = False
    # For a non-idempotent tool found in flight after a crash: the result it
    # recorded if it had completed, so it is neither repeated nor lost.
    recover: Callable[[ToolContext], ToolOutcome | None] | None = None
    # A tool that runs as a coroutine on the event loop (an MCP call): used instead of `run`.
    arun: Callable[[ToolContext, Any], Awaitable[ToolOutcome]] | None = None
    # A JSON schema given by the tool's source (an MCP server) instead of `args_model`'s.
    input_schema: dict[str, Any] | None = None
    # The tier the tool's own description suggests (MCP annotations), for a call no
    # policy rule matches, in a policy that takes hints. Never above the policy's word.
    hint: str | None = None
    # A jsonschema validator of `input_schema`, made once (agentctl.mcp.tools.as_tool).
    validator: Any = None
    # What a call would change, for a person asked to approve it (a file write's diff,
    # agentctl.filediff). Blocking; it may raise (the approval then says why there is none).
    preview: Callable[[Sandbox, Any], str] | None = None

    @property
    def schema(self) -> dict[str, Any]:
        if self.input_schema is not None:
            return self.input_schema
        return _schema_of(self.args_model)

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.schema)


@functools.cache
def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    # Building a JSON schema takes about a millisecond; every model call needs them all.
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


class ToolRegistry:
    def __init__(self, tools: Mapping[str, Tool] | None = None) -> None:
        self._tools: dict[str, Tool] = dict(tools or {})

    def register(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool:
        tool = self._tools.get(name)
        if tool is None:
            raise ToolCallError(
                f"unknown tool {name!r}; available: {', '.join(sorted(self._tools))}"
            )
        return tool

    def names(self) -> list[str]:
        return list(self._tools)

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def with_tools(self, tools: list[Tool]) -> ToolRegistry:
        """This registry and `tools` (a session's MCP tools), as a new registry."""
        merged = ToolRegistry(self._tools)
        for tool in tools:
            merged.register(tool)
        return merged

    def specs(self, names: list[str]) -> list[ToolSpec]:
        return [self._tools[n].spec() for n in names if n in self._tools]

    def validate(self, name: str, args: Mapping[str, Any] | str) -> tuple[Tool, BaseModel]:
        """The tool and its parsed arguments, or ToolCallError saying what is wrong."""
        tool = self.get(name)
        if isinstance(args, str):
            try:
                parsed = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolCallError(f"arguments of {name} are not valid JSON: {exc}") from None
            if not isinstance(parsed, dict):
                raise ToolCallError(f"arguments of {name} must be a JSON object")
            args = parsed
        if tool.input_schema is not None:
            return tool, _check_schema(tool, dict(args))
        try:
            return tool, tool.args_model.model_validate(dict(args))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ToolCallError(f"invalid arguments for {name}: {problems}") from None


def _check_schema(tool: Tool, args: dict[str, Any]) -> SchemaArgs:
    assert tool.input_schema is not None
    validator = tool.validator or _validator(json.dumps(tool.input_schema, sort_keys=True))
    try:
        if validator.is_valid(args):  # the common case, and cheaper than collecting errors
            return SchemaArgs.model_validate(args)
        problems = [
            f"{'.'.join(str(p) for p in err.absolute_path) or 'arguments'}: {err.message}"
            for err in sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))[:5]
        ]
    except Exception as exc:  # a schema whose $ref leads nowhere: the call cannot be checked
        raise ToolCallError(f"the schema of {tool.name} cannot be checked: {exc}") from None
    if problems:
        raise ToolCallError(f"invalid arguments for {tool.name}: {'; '.join(problems)}")
    return SchemaArgs.model_validate(args)


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> Any:
    return validator_of(json.loads(schema_json))


# --- the built-in tools ----------------------------------------------------------


class ShellArgs(_Args):
    command: str = Field(min_length=1, description="A bash command, run in /workspace.")
    timeout_s: float | None = Field(
        default=None, gt=0, le=3600, description="Kill it after this many seconds."
    )


class ReadFileArgs(_Args):
    path: str = Field(min_length=1, description="A path relative to /workspace.")


class WriteFileArgs(_Args):
    path: str = Field(min_length=1, description="A path relative to /workspace.")
    content: str = Field(description="The whole new content of the file.")


class EditFileArgs(_Args):
    path: str = Field(min_length=1, description="A path relative to /workspace.")
    old: str = Field(min_length=1, description="Exact text to replace; must occur exactly once.")
    new: str = Field(description="The replacement text.")


class ListFilesArgs(_Args):
    path: str = Field(default=".", description="A folder relative to /workspace.")
    depth: int = Field(default=3, ge=1, le=10)


WAIT_TOOL = "wait"
MAX_WAIT_S = 30 * 86400.0


class WaitArgs(_Args):
    seconds: float | None = Field(
        default=None, gt=0, le=MAX_WAIT_S, description="Sleep this many seconds."
    )
    until: datetime | None = Field(
        default=None, description="Or sleep until this ISO 8601 time (UTC when no zone is given)."
    )

    @model_validator(mode="after")
    def _one(self) -> WaitArgs:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give exactly one of `seconds` and `until`")
        return self

    def due_at(self, now: datetime) -> datetime:
        if self.seconds is not None:
            return now + timedelta(seconds=self.seconds)
        assert self.until is not None
        until = self.until if self.until.tzinfo else self.until.replace(tzinfo=UTC)
        return max(until, now)


# Tools a session gets only when its profile names them in `tools` (not "every tool").
OPT_IN_TOOLS = frozenset({DELEGATE_TOOL})


def _runs_in_the_runtime(ctx: ToolContext, args: WaitArgs | DelegateArgs) -> ToolOutcome:
    # The step machine turns a `wait` call into a durable timer (agentctl.triggers.timers),
    # a `delegate` call into a child session it waits for (agentctl.runtime.delegation).
    raise ToolCallError("this tool is carried out by the runtime, not run as a tool")


def _require_sandbox(ctx: ToolContext) -> Sandbox:
    if ctx.sandbox is None:
        raise ToolCallError("this session has no sandbox")
    return ctx.sandbox


def _file_tool(action: Callable[[Sandbox, Any], str]) -> Callable[[ToolContext, Any], ToolOutcome]:
    def run(ctx: ToolContext, args: Any) -> ToolOutcome:
        started = time.perf_counter()
        try:
            output = action(_require_sandbox(ctx), args)
        except (SandboxError, ToolCallError) as exc:
            return ToolOutcome(exit_code=1, error=str(exc), duration_ms=_ms(started))
        return ToolOutcome(exit_code=0, output=output, duration_ms=_ms(started))

    return run


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# The shell tool keeps a completion record per call inside the sandbox: the
# command's whole output and its exit code, written the moment it ends (the
# exit code last, by a rename, so a record with `rc` is whole). If the daemon
# dies after the command but before `tool.finished` is committed, resume finds
# the record and uses it: the side effect happened once, and its result (capped
# the same way, the whole output kept as an artifact) is not lost. The record
# lives in the container, so it follows the container's fate: a container
# restored from a checkpoint has none, which is right, because the effects
# after that checkpoint are gone too. Each shell call first removes the records
# of earlier calls: it runs after a write-ahead barrier, so every earlier
# call's `tool.finished` is durable and no recovery can need them; at most one
# call's output is kept in the container (and so in its checkpoint). A daemon
# that died does not stop the command (the engine runs it); recovery waits for
# a command whose recorded pid is still alive before deciding it did not finish.
CALLS_DIR = "$HOME/.agentctl/calls"


def _record_dir(key: str) -> str:
    """The record's folder: a name of the key's safe characters and a hash of the whole
    key, so that two keys (call ids are the model's) never share one."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:120]
    return f"{CALLS_DIR}/{safe}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _recorded_command(command: str, key: str) -> str:
    d = _record_dir(key)
    own = d.rsplit("/", 1)[1]
    return (
        # The pid with its start time (field 22 of /proc/PID/stat): a pid alone may
        # name another process later (the container restarted, pids wrapped).
        f'd="{d}"; mkdir -p "$d"; rm -f "$d/rc"; '
        f'echo "$$ $(cut -d" " -f22 /proc/$$/stat)" > "$d/pid"; '
        f'find "{CALLS_DIR}" -mindepth 1 -maxdepth 1 ! -name "{own}" -exec rm -rf {{}} + 2>/dev/null; '
        f'bash -c {shlex.quote(command)} > "$d/out" 2>&1; rc=$?; '
        f'echo $rc > "$d/rc.new"; mv "$d/rc.new" "$d/rc"; '
        f'cat "$d/out"; exit $rc'
    )


def _run_shell(ctx: ToolContext, args: ShellArgs) -> ToolOutcome:
    sandbox = _require_sandbox(ctx)
    command = args.command
    if ctx.call_key:
        command = _recorded_command(command, ctx.call_key)
    result = sandbox.exec(
        command, timeout_s=args.timeout_s or ctx.timeout_s, output_cap=ctx.output_cap
    )
    return ToolOutcome(
        exit_code=result.exit_code,
        output=result.output,
        truncated=result.truncated,
        full_output=result.full_output,
        timed_out=result.timed_out,
        duration_ms=round(result.duration_ms, 3),
    )


def _recover_shell(ctx: ToolContext) -> ToolOutcome | None:
    if ctx.sandbox is None or not ctx.call_key:
        return None
    d = _record_dir(ctx.call_key)
    # A command still running (the daemon died, the exec went on) is waited for: its
    # record is about to be written, and running it again would repeat it.
    alive = (
        'set -- $(cat "$d/pid" 2>/dev/null); '
        '[ -n "$2" ] && [ "$(cut -d" " -f22 "/proc/$1/stat" 2>/dev/null)" = "$2" ]'
    )
    wait = f'while [ ! -f "$d/rc" ] && {{ {alive}; }}; do sleep 0.1; done'
    probe = ctx.sandbox.exec(
        f'd="{d}"; {wait}; cat "$d/rc" 2>/dev/null',
        timeout_s=ctx.timeout_s + 30.0,  # the call's timeout, and its runner's kill after it
        output_cap=4096,
    )
    if probe.full_output is not None:  # not a record: nothing of it is kept
        probe.full_output.unlink(missing_ok=True)
    try:
        exit_code = int(probe.output.strip()) if probe.exit_code == 0 else None
    except ValueError:
        exit_code = None
    if exit_code is None:  # no record: the command did not finish (or never ran)
        return None
    out = ctx.sandbox.exec(f'cat "{d}/out"', timeout_s=120, output_cap=ctx.output_cap)
    if out.exit_code != 0:
        if out.full_output is not None:
            out.full_output.unlink(missing_ok=True)
        return None
    return ToolOutcome(
        exit_code=exit_code,
        output=out.output,
        truncated=out.truncated,
        full_output=out.full_output,
        duration_ms=0.0,
    )


def _read(sb: Sandbox, a: ReadFileArgs) -> str:
    return sb.read_file(a.path)


def _write(sb: Sandbox, a: WriteFileArgs) -> str:
    sb.write_file(a.path, a.content)
    return f"wrote {len(a.content.encode())} bytes to {a.path}"


def _edit(sb: Sandbox, a: EditFileArgs) -> str:
    sb.edit_file(a.path, a.old, a.new)
    return f"edited {a.path}"


def _write_diff(sb: Sandbox, a: WriteFileArgs) -> str:
    return file_diff(sb, a.path, lambda _: a.content)


def _edit_diff(sb: Sandbox, a: EditFileArgs) -> str:
    return file_diff(sb, a.path, lambda before: replaced_once(before, a.old, a.new, a.path))


def _list(sb: Sandbox, a: ListFilesArgs) -> str:
    entries = sb.list_files(a.path, max_depth=a.depth)
    return "\n".join(e.path + ("/" if e.kind == "dir" else "") for e in entries)


BUILTIN_TOOLS: tuple[Tool, ...] = (
    Tool(
        "shell",
        "Run a bash command in /workspace inside the sandbox; returns its output and exit code.",
        ShellArgs,
        idempotent=False,
        run=_run_shell,
        recover=_recover_shell,
    ),
    Tool(
        "read_file",
        "Read a text file in /workspace.",
        ReadFileArgs,
        idempotent=True,
        run=_file_tool(_read),
    ),
    Tool(
        "write_file",
        "Create or overwrite a file in /workspace with the given content.",
        WriteFileArgs,
        idempotent=False,
        run=_file_tool(_write),
        preview=_write_diff,
    ),
    Tool(
        "edit_file",
        "Replace one exact occurrence of `old` with `new` in a file in /workspace.",
        EditFileArgs,
        idempotent=False,
        run=_file_tool(_edit),
        preview=_edit_diff,
    ),
    Tool(
        "list_files",
        "List files under a folder of /workspace.",
        ListFilesArgs,
        idempotent=True,
        run=_file_tool(_list),
    ),
    Tool(
        WAIT_TOOL,
        "Sleep for a number of seconds or until a time, e.g. for a deployment window. "
        "The session holds nothing while it waits and survives restarts.",
        WaitArgs,
        idempotent=True,
        run=_runs_in_the_runtime,
        needs_sandbox=False,
    ),
    Tool(
        DELEGATE_TOOL,
        "Give a sub-task to a child agent and wait for its answer. The child is a session "
        "of its own (optionally of another agent profile) with at most this session's "
        "remaining budget; with `output_schema`, its answer is JSON that fits it.",
        DelegateArgs,
        idempotent=True,  # the child is found again by its request id, never made twice
        run=_runs_in_the_runtime,
        needs_sandbox=False,
    ),
)


def default_registry() -> ToolRegistry:
    return ToolRegistry({t.name: t for t in BUILTIN_TOOLS})
