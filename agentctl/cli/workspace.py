"""`agentctl diff|apply|cp`: a session's changes brought home.

The daemon computes diffs and applies them (it holds the workspace as it was
copied in); these commands only parse, call the client and render. A patch
printed to a terminal is shown with its control characters made visible
(the files are the agent's: their bytes must not drive the terminal); piped,
it is the exact patch, for `git apply`.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from agentctl.cli.common import client, command, err, fail, out, print_json
from agentctl.errors import ExitCode, UsageError
from agentctl.protocol import ApplyRequest, ApplyResult
from agentctl.workspace.render import render_patch, render_stat, visible

SESSION_PATH = re.compile(r"(ses_[0-9A-Za-z]+):(.*)", re.DOTALL)

AtOpt = Annotated[
    int | None,
    typer.Option(
        "--at",
        min=1,
        metavar="SEQ",
        help="As at the checkpoint at or before this seq (default: now).",
    ),
]


@command
def diff(
    session: Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")],
    at: AtOpt = None,
    stat: Annotated[
        bool, typer.Option("--stat", help="Only the files and their line counts.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: the files and their patches.")
    ] = False,
) -> None:
    """Show what a session changed in /workspace, as a unified diff (git's format).

    Against the workspace as it was copied in; `.git` internals are left out.
    Piped, the patch is exact (`agentctl diff S | git apply`).
    """
    result = client().diff(session, at=at, stat=stat)
    if as_json:
        print_json(result)
        return
    where = "now" if result.at is None else f"at seq {result.at}"
    if not result.files:
        err.print(f"[dim]no changes in {session}'s workspace ({where})[/]")
        return
    if stat:
        out.print(render_stat(result))
        return
    if sys.stdout.isatty():
        out.print(render_patch(result), end="")
    else:
        sys.stdout.write("".join(f.patch for f in result.files))
        sys.stdout.flush()


@command
def apply(
    session: Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")],
    at: AtOpt = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            metavar="DIR",
            help="Apply to this folder (default: the --workspace it came from).",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Say what would happen; change nothing.")
    ] = False,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            metavar="NAME",
            help="Instead, make branch NAME with one commit of the changes in the host git repository.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: the result.")] = False,
) -> None:
    """Apply a session's changes to the host folder its workspace was copied from.

    Refused, with the list of conflicts, when a host file changed since the copy:
    nothing is ever overwritten silently, and nothing is written unless all of it can be.
    Exit code 1 when refused.
    """
    if to is not None and not to.is_dir():
        raise typer.BadParameter(f"{to} is not a folder", param_hint="--to")
    req = ApplyRequest(at=at, to=str(to.resolve()) if to else None, check=check, branch=branch)
    result = client().apply(session, req)
    if as_json:
        print_json(result)
    else:
        _report(result)
    if result.conflicts:
        raise typer.Exit(ExitCode.FAILED)


def _report(result: ApplyResult) -> None:
    target = visible(result.target)
    if result.conflicts:
        err.print(
            Text(
                f"refused: {len(result.conflicts)} conflict(s) in {target}; nothing was written",
                style="bold red",
            )
        )
        for conflict in result.conflicts:
            err.print(Text(f"  {visible(conflict.path)}: {visible(conflict.reason)}"))
        return
    verb = "would" if result.check else ""
    for path in result.written:
        out.print(Text(f"{'would write' if verb else 'wrote'} {visible(path)}"))
    for path in result.deleted:
        out.print(Text(f"{'would delete' if verb else 'deleted'} {visible(path)}"))
    if result.unchanged:
        err.print(
            Text(f"{len(result.unchanged)} file(s) already as the session left them", style="dim")
        )
    if result.branch is not None:
        if result.commit:
            out.print(Text(f"branch {visible(result.branch)} at {result.commit} in {target}"))
        else:
            out.print(Text(f"would make branch {visible(result.branch)} in {target}"))
    elif not result.written and not result.deleted:
        err.print("[dim]nothing to apply[/]")


@command
def cp(
    source: Annotated[str, typer.Argument(metavar="SRC", help="SESSION:PATH or a host path.")],
    dest: Annotated[str, typer.Argument(metavar="DEST", help="A host path or SESSION:PATH.")],
    at: AtOpt = None,
) -> None:
    """Copy files out of a session's /workspace, or into one that is not running.

    `cp SESSION:PATH DEST` copies PATH (relative to /workspace) out: into DEST
    when DEST is a folder, else as DEST. `cp SRC SESSION:PATH` copies SRC in as
    PATH (the session must be paused or ended; a checkpoint records the change).
    """
    out_of, into = SESSION_PATH.fullmatch(source), SESSION_PATH.fullmatch(dest)
    if bool(out_of) == bool(into):
        raise UsageError("give one SESSION:PATH and one host path")
    c = client()
    if out_of:
        data = c.read_archive(out_of.group(1), out_of.group(2) or ".", at=at)
        _extract(data, Path(dest))
        return
    assert into is not None
    if at is not None:
        raise typer.BadParameter("--at is for copying out of a session", param_hint="--at")
    src = Path(source)
    if not src.exists() and not src.is_symlink():
        raise typer.BadParameter(f"{src} does not exist", param_hint="SRC")
    name = Path(into.group(2).rstrip("/")).name or src.name
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(src, arcname=name, filter=_anonymous)
    copied = c.write_archive(into.group(1), into.group(2), buffer.getvalue())
    err.print(
        Text(f"copied {copied.bytes} bytes to {visible(copied.path)} (checkpointed)", style="dim")
    )


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _extract(data: bytes, dest: Path) -> None:
    """Unpack the container's tar safely: `data` filter (no absolute paths, no `..`,
    no links out, no devices), into a temp folder beside DEST, then moved in place."""
    parent = dest if dest.is_dir() else dest.parent
    if not parent.is_dir():
        fail(f"{parent} is not a folder", ExitCode.USAGE)
    with tempfile.TemporaryDirectory(prefix=".agentctl-cp-", dir=parent) as tmp:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            members = tar.getmembers()
            tops = {m.name.split("/", 1)[0] for m in members}
            if len(tops) != 1:
                fail("the sandbox sent an archive without one top entry", ExitCode.FAILED)
            tar.extractall(tmp, filter="data")
        top = Path(tmp) / tops.pop()
        final = dest / top.name if dest.is_dir() else dest
        if final.exists() or final.is_symlink():
            if final.is_dir() and not final.is_symlink() and top.is_dir():
                fail(f"{final} exists; copy to a new name", ExitCode.USAGE)
            if final.is_dir() and not final.is_symlink():
                fail(f"{final} is a folder", ExitCode.USAGE)
            final.unlink()
        os.replace(top, final)
    err.print(Text(f"copied to {visible(str(final))}", style="dim"))


def register(app: typer.Typer) -> None:
    app.command()(diff)
    app.command()(apply)
    app.command()(cp)
