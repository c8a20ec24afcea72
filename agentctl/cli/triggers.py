"""Commands for what starts sessions without a person: `schedule` and `hook`.

Both take the options of `run` that describe a session (model, policy, image,
budgets, labels); the daemon keeps them and starts a session with them at
each firing or delivery.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from agentctl.cli.common import client, command, out, print_json
from agentctl.cli.options import labels as parse_labels
from agentctl.cli.options import model_spec, policy_spec
from agentctl.protocol import AddHook, AddSchedule, Budget, CreateSession, Limits

schedule_app = typer.Typer(help="Start sessions on a cron schedule.", no_args_is_help=True)
hook_app = typer.Typer(
    help="Start sessions from webhooks (GitHub-style signed POSTs).", no_args_is_help=True
)


ModelOpt = Annotated[
    str, typer.Option(metavar="M", help="replay:PATH, openai:MODEL or anthropic:MODEL.")
]
BaseUrlOpt = Annotated[
    str | None, typer.Option(metavar="URL", help="Base URL of an OpenAI-compatible server.")
]
PolicyOpt = Annotated[
    str | None,
    typer.Option(metavar="P", help="default, strict, permissive, or a policy TOML file."),
]
ImageOpt = Annotated[
    str | None, typer.Option(metavar="I", help="Sandbox image (`none`: no sandbox).")
]
NetworkOpt = Annotated[
    str, typer.Option(metavar="none|bridge", help="No network (default) or a bridge.")
]
WorkspaceOpt = Annotated[
    Path | None, typer.Option(metavar="DIR", help="A folder copied into /workspace.")
]
StepsOpt = Annotated[
    int | None, typer.Option(min=1, metavar="N", help="Pause after this many model calls.")
]
CostOpt = Annotated[
    float | None, typer.Option(min=0, metavar="USD", help="Pause after this much USD.")
]
WallOpt = Annotated[
    float | None, typer.Option(min=0, metavar="SECONDS", help="Pause after this many seconds.")
]
LabelOpt = Annotated[list[str], typer.Option(metavar="K=V", help="A label KEY=VALUE; repeatable.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _run(
    task: str,
    model: str,
    base_url: str | None,
    policy: str | None,
    image: str | None,
    network: str,
    workspace: Path | None,
    max_steps: int | None,
    max_cost: float | None,
    max_wall: float | None,
    label: list[str],
) -> CreateSession:
    if network not in ("none", "bridge"):
        raise typer.BadParameter(f"{network!r} is not none or bridge", param_hint="--network")
    if workspace is not None and not workspace.is_dir():
        raise typer.BadParameter(f"{workspace} is not a folder", param_hint="--workspace")
    return CreateSession(
        task=task,
        model=model_spec(model),
        base_url=base_url,
        policy=policy_spec(policy),
        image=image,
        network=network,  # type: ignore[arg-type]
        workspace=str(workspace.resolve()) if workspace else None,
        budget=Budget(max_steps=max_steps, max_cost_usd=max_cost, max_wall_s=max_wall),
        labels=parse_labels(label),
        limits=Limits(),
    )


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value else "-"


# --- schedule --------------------------------------------------------------------------


@command
def schedule_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="a-z, 0-9, - and _.")],
    task: Annotated[list[str], typer.Argument(metavar="-- TASK", help="The task of each session.")],
    cron: Annotated[
        str, typer.Option("--cron", metavar="EXPR", help='A cron expression, e.g. "0 9 * * 1-5".')
    ],
    tz: Annotated[
        str, typer.Option("--tz", metavar="ZONE", help="The zone the expression is in.")
    ] = "UTC",
    overlap: Annotated[
        str,
        typer.Option(
            metavar="skip|queue|allow",
            help="While the previous session is live: skip this firing, queue it, or start anyway.",
        ),
    ] = "skip",
    model: ModelOpt = "replay:recordings/demo.jsonl",
    base_url: BaseUrlOpt = None,
    policy: PolicyOpt = None,
    image: ImageOpt = None,
    network: NetworkOpt = "none",
    workspace: WorkspaceOpt = None,
    max_steps: StepsOpt = None,
    max_cost: CostOpt = None,
    max_wall: WallOpt = None,
    label: LabelOpt = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Add a schedule: each firing starts a session labelled schedule=NAME."""
    if overlap not in ("skip", "queue", "allow"):
        raise typer.BadParameter(f"{overlap!r} is not skip, queue or allow", param_hint="--overlap")
    text = " ".join(task).strip()
    if not text:
        raise typer.BadParameter("give the task after --", param_hint="TASK")
    run = _run(
        text,
        model,
        base_url,
        policy,
        image,
        network,
        workspace,
        max_steps,
        max_cost,
        max_wall,
        label,
    )
    view = client().add_schedule(
        AddSchedule(name=name, cron=cron, tz=tz, overlap=overlap, run=run)  # type: ignore[arg-type]
    )
    if as_json:
        print_json(view)
    else:
        out.print(f"schedule {view.name}: {view.cron} ({view.tz}), next at {_when(view.next_at)}")


@command
def schedule_ls(as_json: JsonOpt = False) -> None:
    """The schedules, with their next firing and last session."""
    views = client().schedules()
    if as_json:
        print_json([v.model_dump(mode="json") for v in views])
        return
    if not views:
        out.print("no schedules")
        return
    from rich.table import Table

    table = Table(box=None)
    for column in (
        "name",
        "cron",
        "tz",
        "overlap",
        "next",
        "fired",
        "queued",
        "last session",
        "task",
    ):
        table.add_column(column)
    for v in views:
        nxt = "paused" if v.paused else _when(v.next_at)
        table.add_row(
            v.name,
            v.cron,
            v.tz,
            v.overlap,
            nxt,
            str(v.fired),
            str(v.queued),
            v.last_session or "-",
            v.task[:40],
        )
    out.print(table)


@command
def schedule_rm(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Remove a schedule (its sessions stay)."""
    client().remove_schedule(name)
    out.print(f"removed schedule {name}")


@command
def schedule_pause(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Stop firing until `schedule resume`; firings while paused are not caught up."""
    client().schedule_action(name, "pause")
    out.print(f"paused schedule {name}")


@command
def schedule_resume(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Fire again from the next due time."""
    view = client().schedule_action(name, "resume")
    out.print(f"resumed schedule {name}, next at {_when(view.next_at)}")


@command
def schedule_run_now(
    name: Annotated[str, typer.Argument(metavar="NAME")], as_json: JsonOpt = False
) -> None:
    """Fire once now (the overlap rule applies)."""
    started = client().run_schedule(name)
    if as_json:
        print_json(started)
    else:
        out.print(started.session or started.outcome)


# --- hook ------------------------------------------------------------------------------


@command
def hook_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="a-z, 0-9, - and _.")],
    task_template: Annotated[
        str,
        typer.Option(
            "--task-template",
            metavar="TEXT",
            help="The task, with {{payload.field}} placeholders filled from the JSON body (as text).",
        ),
    ],
    max_body: Annotated[
        int, typer.Option(min=1, metavar="BYTES", help="Refuse bigger bodies (413).")
    ] = 256 * 1024,
    model: ModelOpt = "replay:recordings/demo.jsonl",
    base_url: BaseUrlOpt = None,
    policy: PolicyOpt = None,
    image: ImageOpt = None,
    network: NetworkOpt = "none",
    workspace: WorkspaceOpt = None,
    max_steps: StepsOpt = None,
    max_cost: CostOpt = None,
    max_wall: WallOpt = None,
    label: LabelOpt = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Add a webhook; prints its path and its secret (shown once)."""
    run = _run(
        task_template,
        model,
        base_url,
        policy,
        image,
        network,
        workspace,
        max_steps,
        max_cost,
        max_wall,
        label,
    )
    view = client().add_hook(
        AddHook(name=name, task_template=task_template, run=run, max_body=max_body)
    )
    if as_json:
        print_json(view)
        return
    out.print(f"path:   POST {view.path}")
    out.print(f"secret: {view.secret}")
    out.print(
        "sign the body with it (X-Hub-Signature-256, as GitHub does) or send Authorization: Bearer SECRET"
    )


@command
def hook_ls(as_json: JsonOpt = False) -> None:
    """The webhooks (their secrets are not shown again)."""
    views = client().hooks()
    if as_json:
        print_json([v.model_dump(mode="json") for v in views])
        return
    if not views:
        out.print("no hooks")
        return
    for v in views:
        out.print(
            f"{v.name}  POST {v.path}  deliveries {v.deliveries}  last {v.last_session or '-'}"
        )


@command
def hook_rm(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Remove a webhook and its secret."""
    client().remove_hook(name)
    out.print(f"removed hook {name}")


def register(app: typer.Typer) -> None:
    schedule_app.command("add")(schedule_add)
    schedule_app.command("ls")(schedule_ls)
    schedule_app.command("rm")(schedule_rm)
    schedule_app.command("pause")(schedule_pause)
    schedule_app.command("resume")(schedule_resume)
    schedule_app.command("run-now")(schedule_run_now)
    hook_app.command("add")(hook_add)
    hook_app.command("ls")(hook_ls)
    hook_app.command("rm")(hook_rm)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(hook_app, name="hook")
