"""Commands that start, continue and stop sessions: run, resume, fork, attach, cancel."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agentctl.cli.common import client, command, err, out, print_json
from agentctl.cli.follow import follow
from agentctl.cli.options import labels as parse_labels
from agentctl.cli.options import model_spec, policy_spec, start_time
from agentctl.errors import ExitCode
from agentctl.protocol import (
    LIMIT_RANGES,
    Budget,
    ContextPolicy,
    CreateSession,
    ForkSession,
    Limits,
    ResumeSession,
    limit_problem,
)

DEFAULT_MODEL = "replay:recordings/demo.jsonl"

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print NDJSON event envelopes, one per line.")
]
DetachOpt = Annotated[
    bool, typer.Option("--detach", "-d", help="Start it and print the session id; do not follow.")
]
NoWaitOpt = Annotated[
    bool,
    typer.Option(
        "--no-wait", help="When not in a terminal, exit 3 at a pending approval instead of waiting."
    ),
]
AsOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="NAME",
        help="A name for inline decisions, recorded beside your verified OS user.",
    ),
]


def _limits(values: list[str]) -> Limits:
    """`--limit NAME=N`, each checked against the range the daemon accepts."""
    given: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or name not in LIMIT_RANGES:
            raise typer.BadParameter(
                f"{value!r} is not NAME=N with NAME one of {', '.join(LIMIT_RANGES)}",
                param_hint="--limit",
            )
        try:
            given[name] = float(number) if name == "cpus" else int(number)
        except ValueError:
            raise typer.BadParameter(
                f"{value!r}: {number!r} is not a number", param_hint="--limit"
            ) from None
        problem = limit_problem(name, given[name])
        if problem:
            raise typer.BadParameter(problem, param_hint="--limit")
    return Limits.model_validate(given)


def _started(session_id: str, as_json: bool, detach: bool) -> None:
    if detach:
        if as_json:
            print_json({"session": session_id})
        else:
            out.print(session_id)
        raise typer.Exit(ExitCode.COMPLETED)
    if not as_json:
        err.print(f"[dim]session {session_id} — Ctrl-C detaches, it goes on in the daemon[/]")


def _task(task: str) -> str:
    """The task from the argument, or from stdin for `-`."""
    if task == "-":
        task = sys.stdin.read().strip()
        if not task:
            raise typer.BadParameter("stdin was empty", param_hint="TASK")
    return task


@command
def run(
    task: Annotated[
        str,
        typer.Argument(
            metavar="TASK", help="The task; `-` reads it from stdin.", show_default=False
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            metavar="M",
            help="replay:PATH, openai:MODEL, anthropic:MODEL, or ENDPOINT:MODEL for a "
            "[providers.ENDPOINT] in config.toml or a built-in local one (ollama, vllm, "
            "llamacpp, lmstudio, litellm); see docs/providers.md "
            "(default: the agent's, else replay:recordings/demo.jsonl).",
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="An agent profile (agents/NAME.toml); the options given here override it.",
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Base URL of an OpenAI-compatible server.")
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(metavar="P", help="default, strict, permissive, or a policy TOML file."),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            metavar="I",
            help="Sandbox image (default: the built default image; `none`: no sandbox).",
        ),
    ] = None,
    network: Annotated[
        str, typer.Option(metavar="none|bridge", help="No network (default) or a bridge.")
    ] = "none",
    workspace: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="A folder copied into the sandbox's /workspace."),
    ] = None,
    mount: Annotated[
        bool,
        typer.Option(
            "--mount",
            help="Bind-mount --workspace instead of copying it. DANGER: the agent's commands "
            "then change your real folder; a script it plants in .git/hooks/ runs on your "
            "machine at your next git commit. Prefer the default copy, or --mount-ro.",
        ),
    ] = False,
    mount_ro: Annotated[
        bool,
        typer.Option(
            "--mount-ro",
            help="Bind-mount --workspace read-only: the agent sees your files live but "
            "cannot change them.",
        ),
    ] = False,
    max_steps: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Pause after this many model calls.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Pause after this many tokens.")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(min=0, metavar="USD", help="Pause after this much USD.")
    ] = None,
    max_wall: Annotated[
        float | None,
        typer.Option(min=0, metavar="SECONDS", help="Pause after this many seconds of running."),
    ] = None,
    context_window: Annotated[
        int | None,
        typer.Option(
            min=64,
            metavar="N",
            help="The model's context window in tokens: past 80% of it the older turns are summarised "
            "(default: the agent's, else the endpoint's context_window; docs/context.md).",
        ),
    ] = None,
    label: Annotated[
        list[str], typer.Option(metavar="K=V", help="A label KEY=VALUE; repeatable.")
    ] = [],  # noqa: B006
    limit: Annotated[
        list[str],
        typer.Option(
            metavar="NAME=N",
            help="A sandbox limit, repeatable; the defaults: "
            + ", ".join(f"{k}={v:g}" for k, v in Limits().model_dump().items())
            + ".",
        ),
    ] = [],  # noqa: B006
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="WHEN",
            help="Create it now, start it then: an ISO time (2026-12-24T09:00:00Z) or +30m. "
            "Prints the session id and does not follow.",
        ),
    ] = None,
    detach: DetachOpt = False,
    no_wait: NoWaitOpt = False,
    approver: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a session and follow it until it ends (or detach).

    Exit code: 0 completed, 1 failed, 3 waiting (with --no-wait), 4 paused, 5 cancelled,
    130 when you detach with Ctrl-C.
    """
    start_at = start_time(at)
    if network not in ("none", "bridge"):
        raise typer.BadParameter(f"{network!r} is not none or bridge", param_hint="--network")
    labels = parse_labels(label)
    limits = _limits(limit)
    if workspace is not None and not workspace.is_dir():
        raise typer.BadParameter(f"{workspace} is not a folder", param_hint="--workspace")
    if (mount or mount_ro) and workspace is None:
        flag = "--mount-ro" if mount_ro else "--mount"
        raise typer.BadParameter("needs --workspace DIR: the folder to mount", param_hint=flag)
    if mount and not mount_ro:
        err.print(
            f"[bold yellow]warning:[/] --mount gives the agent your real folder {workspace}: "
            "its commands change your files directly, and a script it plants in .git/hooks/ "
            "runs on your machine at your next git commit (--mount-ro mounts it read-only)",
            highlight=False,
        )
    task = _task(task)
    given: dict[str, Any] = {}  # left out, the agent's (or the default) applies
    if model is not None or agent is None:
        given["model"] = model_spec(model or DEFAULT_MODEL)
    if base_url is not None:
        given["base_url"] = base_url
    req = CreateSession(
        task=task,
        **given,
        agent=agent,
        policy=policy_spec(policy),
        image=image,
        network=network,  # type: ignore[arg-type]
        workspace=str(workspace.resolve()) if workspace else None,
        mount_workspace=mount or mount_ro,
        mount_read_only=mount_ro,
        budget=Budget(
            max_steps=max_steps, max_tokens=max_tokens, max_cost_usd=max_cost, max_wall_s=max_wall
        ),
        labels=labels,
        limits=limits,
        start_at=start_at,
        context=ContextPolicy(window=context_window) if context_window else None,
    )
    c = client()
    if detach or start_at is not None:  # --at: created now, started then; nothing to follow yet
        summary = c.create_session(req)
        if start_at is not None and not as_json:
            err.print(f"[dim]session {summary.id} starts at {start_at:%Y-%m-%d %H:%M:%S}Z[/]")
        _started(summary.id, as_json, True)
    from agentctl.cli.follow import live_wanted

    started, stream = c.create_and_follow(req, live=live_wanted(as_json))
    _started(started.id, as_json, detach)
    code = follow(
        c,
        started.id,
        as_json=as_json,
        wait=not no_wait,
        approver=approver,
        opened=(started, stream),
    )
    raise typer.Exit(code)


@command
def resume(
    session: Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")],
    message: Annotated[
        str | None,
        typer.Argument(metavar="MESSAGE", help="A new user message.", show_default=False),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Raise the step budget to this.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Raise the token budget to this.")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(min=0, metavar="USD", help="Raise the cost budget to this.")
    ] = None,
    max_wall: Annotated[
        float | None,
        typer.Option(min=0, metavar="SECONDS", help="Raise the wall-time budget to this."),
    ] = None,
    detach: DetachOpt = False,
    no_wait: NoWaitOpt = False,
    approver: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue a paused or completed session, optionally with a new message or a raised budget."""
    budget = None
    if any(v is not None for v in (max_steps, max_tokens, max_cost, max_wall)):
        budget = Budget(
            max_steps=max_steps, max_tokens=max_tokens, max_cost_usd=max_cost, max_wall_s=max_wall
        )
    c = client()
    after = c.session(session).last_seq
    c.resume(session, ResumeSession(message=message, budget=budget))
    _started(session, as_json, detach)
    raise typer.Exit(
        follow(c, session, after=after, as_json=as_json, wait=not no_wait, approver=approver)
    )


@command
def fork(
    session: Annotated[str, typer.Argument(metavar="SESSION", help="Session id to fork.")],
    at: Annotated[
        int,
        typer.Option(
            "--at", min=1, metavar="SEQ", help="Fork at this seq (a checkpoint or a clean point)."
        ),
    ],
    message: Annotated[
        str | None,
        typer.Argument(
            metavar="MESSAGE", help="A new user message for the fork.", show_default=False
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="M", help="A different model for the fork.")
    ] = None,
    policy: Annotated[
        str | None, typer.Option(metavar="P", help="A different policy for the fork.")
    ] = None,
    detach: DetachOpt = False,
    no_wait: NoWaitOpt = False,
    approver: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Branch a session at a checkpoint: conversation and sandbox files together."""
    req = ForkSession(
        at=at,
        message=message,
        model=model_spec(model) if model else None,
        policy=policy_spec(policy),
    )
    c = client()
    summary = c.fork(session, req)
    if not as_json and not detach:
        err.print(f"[magenta]forked {session}@{at} → {summary.id}[/]")
    _started(summary.id, as_json, detach)
    raise typer.Exit(
        follow(c, summary.id, after=at, as_json=as_json, wait=not no_wait, approver=approver)
    )


@command
def attach(
    session: Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")],
    after: Annotated[
        int, typer.Option(min=0, metavar="SEQ", help="Only events after this seq.")
    ] = 0,
    no_wait: NoWaitOpt = False,
    approver: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stream a session's events (backfill, then live) until it ends, pauses or waits.

    Exit code: the session's, as for `run`.
    """
    code = follow(
        client(), session, after=after, as_json=as_json, wait=not no_wait, approver=approver
    )
    raise typer.Exit(code)


@command
def cancel(
    session: Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")],
    as_json: JsonOpt = False,
) -> None:
    """Cancel a session: pending approvals are denied, its container removed."""
    c = client()
    c.cancel(session)
    summary = c.session(session)
    if as_json:
        print_json(summary)
    else:
        out.print(f"{session} {summary.status.value}")


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(resume)
    app.command()(fork)
    app.command()(attach)
    app.command()(cancel)
