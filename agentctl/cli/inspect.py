"""Commands that look at sessions: ls, show, log, tree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from agentctl.cli.common import client, command, out, print_json
from agentctl.cli.follow import show as show_event
from agentctl.protocol import SessionStatus, SessionSummary
from agentctl.render import STATUS_STYLE, session_panel, sessions_view

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON (NDJSON envelopes for `log`).")]


@command
def ls(
    status: Annotated[
        SessionStatus | None, typer.Option(help="Only sessions with this status.")
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="NAME|HASH",
            help="Only sessions of this agent: a profile name, or a prefix of its hash.",
        ),
    ] = None,
    by_agent: Annotated[
        bool, typer.Option("--by-agent", help="Count sessions per agent (name and hash).")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="Only the newest N sessions (of those --status and --agent pick)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List sessions: id, status, age, steps, cost, pending approvals, parent."""
    local = agent is not None or by_agent  # those filters are the client's: limit after them
    wanted = status.value if status else None
    sessions = client().sessions(status=wanted, limit=None if local else limit)
    if agent is not None:
        sessions = [s for s in sessions if _of_agent(s, agent)]
    if local and limit is not None:
        sessions = sessions[-limit:]
    if by_agent:
        _by_agent(sessions, as_json)
        return
    if as_json:
        print_json([s.model_dump(mode="json") for s in sessions])
        return
    if not sessions:
        out.print("no sessions yet — start one with `agentctl run TASK`")
        return
    out.print(sessions_view(sessions, datetime.now(UTC), out.width))


def _of_agent(session: SessionSummary, wanted: str) -> bool:
    if session.agent == wanted:
        return True
    digest = (session.agent_hash or "").removeprefix("sha256:")
    return len(wanted.removeprefix("sha256:")) >= 6 and digest.startswith(
        wanted.removeprefix("sha256:")
    )


def _by_agent(sessions: list[SessionSummary], as_json: bool) -> None:
    groups: dict[tuple[str, str], list[SessionSummary]] = {}
    for s in sessions:
        groups.setdefault((s.agent or "-", s.agent_hash or ""), []).append(s)
    rows = [
        {
            "agent": name,
            "hash": digest,
            "sessions": len(members),
            "cost_usd": round(sum(m.cost_usd for m in members), 6),
            "first": min(m.created_at for m in members).isoformat(),
            "last": max(m.created_at for m in members).isoformat(),
        }
        for (name, digest), members in groups.items()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("AGENT", "HASH", "SESSIONS", "COST", "FIRST", "LAST"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            Text(str(row["agent"])),
            Text(str(row["hash"]).removeprefix("sha256:")[:12]),
            str(row["sessions"]),
            f"${row['cost_usd']:.4f}",
            str(row["first"])[:16],
            str(row["last"])[:16],
        )
    out.print(table)


@command
def show(
    session: Annotated[str, typer.Argument(help="Session id.")],
    as_json: JsonOpt = False,
) -> None:
    """A summary of one session."""
    c = client()
    summary = c.session(session)
    if as_json:
        print_json(summary)
        return
    pending = c.approvals(session=session) if summary.pending_approvals else []
    out.print(session_panel(summary, pending))


@command
def log(
    session: Annotated[str, typer.Argument(help="Session id.")],
    after: Annotated[int, typer.Option(min=0, help="Only events after this seq.")] = 0,
    full: Annotated[bool, typer.Option("--full", help="Do not fold long tool output.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The session's events so far (NDJSON envelopes with --json); `attach` follows live ones."""
    for event in client().events(session, after=after, follow=False):
        show_event(event, as_json, fold=not full)


def _up(s: SessionSummary) -> str | None:
    """The session a session came from: the one it forked from, or the one that delegated to it."""
    if s.parent:
        return s.parent.session
    return s.delegated_by.session if s.delegated_by else None


def family(sessions: list[SessionSummary], session_id: str) -> dict[str, Any]:
    """The lineage of a session as nested data: its root and every fork and child below it."""
    by_id = {s.id: s for s in sessions}
    if session_id not in by_id:
        from agentctl.errors import NotFoundError

        raise NotFoundError(f"no session {session_id!r}")
    root = by_id[session_id]
    while _up(root) in by_id:
        root = by_id[_up(root) or ""]
    children: dict[str, list[SessionSummary]] = {}
    for s in sessions:
        up = _up(s)
        if up:
            children.setdefault(up, []).append(s)

    def node(s: SessionSummary) -> dict[str, Any]:
        return {
            "session": s.id,
            "status": s.status.value,
            "at": s.parent.seq if s.parent else None,
            "delegated": s.delegated_by is not None,  # a child of a `delegate` call
            "steps": s.steps,
            "task": s.task,
            "selected": s.id == session_id,
            "forks": [
                node(c)
                for c in sorted(
                    children.get(s.id, []),
                    key=lambda c: (c.parent.seq if c.parent else 0, c.created_at, c.id),
                )
            ],
        }

    return node(root)


@command
def tree(
    session: Annotated[str, typer.Argument(help="Session id (any member of the family).")],
    as_json: JsonOpt = False,
) -> None:
    """The family of a session: parents, forks (the seq each branched at), delegated children, status."""
    data = family(client().sessions(), session)
    if as_json:
        print_json(data)
        return

    def label(n: dict[str, Any]) -> Text:
        text = Text()
        if n["at"] is not None:
            text.append(f"@{n['at']} ", style="magenta")
        if n.get("delegated"):
            text.append("delegate ", style="magenta")
        text.append(n["session"], style="bold cyan" if n["selected"] else "cyan")
        text.append(f"  {n['status']}", style=STATUS_STYLE.get(n["status"], ""))
        text.append(f"  {n['steps']} steps", style="dim")
        return text

    def add(parent: Tree, n: dict[str, Any]) -> None:
        for child in n["forks"]:
            add(parent.add(label(child)), child)

    root = Tree(label(data))
    add(root, data)
    out.print(root)


def register(app: typer.Typer) -> None:
    app.command()(ls)
    app.command()(show)
    app.command()(log)
    app.command()(tree)
