"""`agentctl agents ls|show`: the agent profiles `run --agent NAME` can use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from agentctl.cli.common import command, out, print_json
from agentctl.workspace.render import visible

app = typer.Typer(
    help="Agent profiles: agents/NAME.toml in the config folder, .agentctl/agents/NAME.toml in a workspace.",
    no_args_is_help=True,
)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", metavar="DIR", help="Also look in DIR/.agentctl/agents."),
]


@app.command("ls")
@command
def ls_(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list.")] = False,
) -> None:
    """List the agent profiles (the config folder's win over a workspace's of the same name)."""
    from agentctl.paths import get_paths
    from agentctl.profiles import list_profiles

    found = list_profiles(get_paths().config, workspace.resolve() if workspace else None)
    if as_json:
        print_json(
            [
                {
                    "name": p.name,
                    "path": str(p.path),
                    "error": p.error,
                    **p.profile.model_dump(mode="json"),
                }
                for p in found
            ]
        )
        return
    if not found:
        out.print("no agent profiles")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "MODEL", "POLICY", "DESCRIPTION", "FILE"):
        table.add_column(column)
    for p in found:
        table.add_row(
            Text(p.name),
            Text(visible(p.profile.model or "-")),
            Text(visible(p.profile.policy or "-")),
            Text(visible(p.error or p.profile.description), style="red" if p.error else ""),
            Text(visible(str(p.path))),
        )
    out.print(table)


@app.command()
@command
def show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The agent's name.")],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Show one agent profile: where it is and what it says."""
    from agentctl.paths import get_paths
    from agentctl.profiles import find_profile

    found = find_profile(name, get_paths().config, workspace.resolve() if workspace else None)
    if as_json:
        print_json(
            {"name": found.name, "path": str(found.path), **found.profile.model_dump(mode="json")}
        )
        return
    out.print(Text(f"# {found.name}  ({visible(str(found.path))})", style="bold"))
    out.print(Text(visible(found.path.read_text("utf-8", errors="replace")).replace("^J", "\n")))
