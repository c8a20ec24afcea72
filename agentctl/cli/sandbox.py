"""`agentctl sandbox`: build the default image, list and prune checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentctl.cli.common import command, err, out, print_json
from agentctl.protocol import SessionSummary

app = typer.Typer(help="Build the sandbox image; list and prune checkpoints.", no_args_is_help=True)


@app.command()
@command
def build(
    offline: Annotated[
        bool | None,
        typer.Option(
            "--offline/--online",
            help="Force the offline (debootstrap) or the registry build; default: detect.",
        ),
    ] = None,
    recipe: Annotated[
        Path | None,
        typer.Option(
            "--recipe",
            metavar="PATH",
            help="A recipe folder (Dockerfile + recipe.toml) to build instead of the default.",
        ),
    ] = None,
) -> None:
    """Build the default sandbox image, or a recipe of yours (offline from the Debian mirror
    when no registry answers).

    A no-op when the engine has the image already (its tag is a digest of the recipe).
    Prints the tag.
    """
    from sandboxes import build_image, ensure_default_image

    def progress(line: str) -> None:
        err.print(f"[dim]{line}[/]")

    if recipe is not None:
        for name in ("Dockerfile", "recipe.toml"):
            if not (recipe / name).is_file():
                raise typer.BadParameter(f"{recipe} has no {name}", param_hint="--recipe")
        tag = build_image(recipe.resolve(), offline=offline, log=progress)
    elif offline is None:
        tag = ensure_default_image(log=progress)
    else:
        tag = build_image(offline=offline, log=progress)
    out.print(tag)


@app.command("ls")
@command
def ls_(
    session: Annotated[str | None, typer.Option(help="Only this session's checkpoints.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list.")] = False,
) -> None:
    """List checkpoint images (of every session on the engine, or of one)."""
    from sandboxes import DockerSandboxDriver

    checkpoints = DockerSandboxDriver().list_checkpoints(session)
    if as_json:
        print_json(
            [
                {
                    "image": c.image,
                    "session": c.stream,
                    "seq": c.seq,
                    "created": c.created.isoformat(),
                    "size": c.size,
                }
                for c in checkpoints
            ]
        )
        return
    if not checkpoints:
        out.print("no checkpoints")
        return
    for c in checkpoints:
        out.print(
            f"{c.image}  {c.stream}@{c.seq}  {c.size / 1e6:.1f} MB  {c.created:%Y-%m-%d %H:%M}"
        )


@app.command()
@command
def gc(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Remove the containers and checkpoint images of this daemon's sessions that have ended.

    A checkpoint an unfinished fork descends from is kept, and so is everything of sessions
    this daemon does not know (another AGENTCTL_HOME may share the engine).
    """
    from agentctl.cli.common import client

    sessions = {s.id: s for s in client().sessions()}
    keep: set[str] = set()
    for s in sessions.values():
        if s.status.ended:
            continue
        node: SessionSummary | None = s  # a live fork may still need its ancestors' checkpoints
        while node is not None and node.id not in keep:
            keep.add(node.id)
            node = sessions.get(node.parent.session) if node.parent else None
    doomed = set(sessions) - keep
    from sandboxes import DockerSandboxDriver

    driver = DockerSandboxDriver()
    for session_id in sorted(doomed):  # containers first: a fork's container uses a checkpoint
        driver.remove_stream(session_id)
    report = driver.remove_checkpoints([c for c in driver.list_checkpoints() if c.stream in doomed])
    if as_json:
        print_json({"removed": report.removed, "freed_bytes": report.freed_bytes})
        return
    out.print(f"removed {len(report.removed)} images, freed {report.freed_bytes / 1e6:.1f} MB")
