"""The quick path: `--help`, `ls`, `show`, `approvals` and `stats --json` without typer,
pydantic or httpx.

Those are what a person types most, and importing the whole CLI (typer, the
protocol's pydantic models, httpx) costs several times the interpreter's own
start. So the entry (agentctl/cli/entry.py) asks `answer` first:

- `agentctl --help` / `-h` prints the top-level help (agentctl/cli/helptext.py),
  formatted as click formats it (`help_text`; a test keeps it equal to the
  typer app's, at every width);
- `agentctl ls [--status S] [--limit N]`, `agentctl show ID` and
  `agentctl approvals [--session ID]` (and each with `--json`)
  GET the daemon's JSON over its unix
  socket (HTTP/1.1 by hand), make plain objects of it and print the very
  renderables of `agentctl.views` through the very consoles of
  `agentctl.cli.consoles`, so the output is the same characters; piped,
  `ls` and `approvals` write the lines of `agentctl.lines` (which those
  renderables are made of) as they are, without importing rich;
- `agentctl stats --json [--since D]` prints the daemon's report as it came.

Anything else, or anything unexpected before a character is printed (an
argument this does not know, no daemon answering, an error
status, a field missing or of another type), returns None and the full CLI
runs instead: it starts the daemon, reports the error or the usage problem
as it always does, with the same exit code. Only requests that change
nothing are made here, so doing one again there is harmless.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace as _Record  # imported by the interpreter's own start

TYPE_CHECKING = False  # as typing's, without importing typing (`agentctl --help` needs none)
if TYPE_CHECKING:
    from typing import Any

STATUSES = ("running", "waiting", "paused", "completed", "failed", "cancelled")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
TIMEOUT_S = 60.0  # the client's DEFAULT_TIMEOUT_S
PIPE_WIDTH = 200  # agentctl.cli.consoles.PIPE_WIDTH (a test keeps them equal)
CONNECT_TIMEOUT_S = 5.0


class Unhandled(Exception):
    """Not for the quick path: the full CLI does it."""


def answer(args: list[str]) -> int | None:
    """The exit code, when the quick path did the command; None when the full CLI must."""
    if args in (["--help"], ["-h"]):
        from agentctl.cli.helptext import help_text, help_width

        _write(help_text(help_width()))
        return 0
    if not args or args[0] not in _COMMANDS:
        return None
    from agentctl.errors import ExitCode

    try:
        renderable = _COMMANDS[args[0]](args[1:])
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception:  # nothing printed yet: the full CLI does it, and says why
        return None
    try:
        if isinstance(renderable, Plain):
            sys.stdout.write(renderable)
        else:
            from agentctl.cli.consoles import out

            out.print(renderable)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`agentctl ls | head -1`), as agentctl.cli.main handles it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.FAILED
    return 0


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# --- ls, show, approvals --------------------------------------------------------------


def _options(
    args: list[str], names: tuple[str, ...], positional: int = 0
) -> tuple[dict[str, str], list[str]]:
    """`--name VALUE` / `--name=VALUE` once each for `names` (`--json`, a flag, alone), and
    exactly `positional` plain words; anything else is the full CLI's to parse (and to
    complain about)."""
    found: dict[str, str] = {}
    plain: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--json" and "--json" in names and arg not in found:
            found[arg] = ""  # a flag
        elif arg.startswith("-"):
            name, sep, value = arg.partition("=")
            if name not in names or name == "--json" or name in found:
                raise Unhandled(arg)
            if not sep:
                if not rest or rest[0].startswith("-"):
                    raise Unhandled(arg)
                value = rest.pop(0)
            found[name] = value
        else:
            plain.append(arg)
    if len(plain) != positional:
        raise Unhandled("arguments")
    return found, plain


def _an_id(value: str) -> str:
    if not value or not set(value) <= _ID_CHARS:
        raise Unhandled(value)  # the full CLI quotes it, or says it is empty
    return value


def _get(path: str, **query: str) -> Any:
    """The daemon's JSON answer to GET `path`, read; see `_fetch`."""
    import json

    return json.loads(_fetch(path, **query))


def _fetch(path: str, **query: str) -> bytes:
    """The daemon's JSON answer to GET `path`, over its unix socket; `Unhandled` unless 200.

    The body as it came. HTTP/1.1 by hand on a plain socket: `http.client` alone imports `email` and
    `ssl`, which is most of what this path would cost. An answer this does not
    read (no Content-Length, chunked) is the full CLI's."""
    import socket
    from urllib.parse import quote, urlencode

    from agentctl.paths import get_paths

    target = quote(path) + (f"?{urlencode(query)}" if query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: agentctl\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(str(get_paths().socket))
        sock.settimeout(TIMEOUT_S)
        sock.sendall(request.encode("ascii"))
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, sep, body = bytes(received).partition(b"\r\n\r\n")
    if not sep:
        raise Unhandled("no answer")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1.") or not rest.startswith("200 "):
        raise Unhandled(status_line)  # an error: the full CLI reads its body
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "")
    if "transfer-encoding" in headers or not length.isdigit() or int(length) != len(body):
        raise Unhandled("a body this does not read")
    return body


_ABSENT = object()


def _field(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = _ABSENT
) -> Any:
    """data[key], which must be of `kind` (a bool is no int here); `default` when it is absent
    and the model has one. (Once per field of each of 10,000 sessions: kept lean.)"""
    value = data.get(key, _ABSENT)
    if value is _ABSENT:
        if default is _ABSENT:
            raise Unhandled(key)
        return default
    if not isinstance(value, kind) or (
        value.__class__ is bool and kind is not bool and not (type(kind) is tuple and bool in kind)
    ):
        raise Unhandled(key)
    return value


def _time(value: Any) -> Any:
    from datetime import datetime  # not for --help; a dict lookup once imported

    if not isinstance(value, str):
        raise Unhandled("a time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise Unhandled("a naive time")
    return parsed


def _session(data: Any) -> Any:
    """A `SessionSummary` as far as `agentctl.views` reads one."""
    if not isinstance(data, dict):
        raise Unhandled("a session")
    status = _field(data, "status", str)
    if status not in STATUSES:
        raise Unhandled(status)
    parent = _field(data, "parent", (dict, type(None)))
    delegated = _field(data, "delegated_by", (dict, type(None)), default=None)
    labels = _field(data, "labels", dict, default={})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise Unhandled("labels")
    return _Record(
        id=_field(data, "id", str),
        status=_Record(value=status),
        reason=_field(data, "reason", str, default=""),
        task=_field(data, "task", str),
        model=_field(data, "model", str),
        created_at=_time(data["created_at"]),
        updated_at=_time(data["updated_at"]),
        steps=_field(data, "steps", int),
        input_tokens=_field(data, "input_tokens", int),
        output_tokens=_field(data, "output_tokens", int),
        cost_usd=float(_field(data, "cost_usd", (int, float))),
        cost_known=_field(data, "cost_known", bool, default=True),
        pending_approvals=_field(data, "pending_approvals", int),
        parent=None
        if parent is None
        else _Record(session=_field(parent, "session", str), seq=_field(parent, "seq", int)),
        last_seq=_field(data, "last_seq", int),
        labels=labels,
        container=_field(data, "container", (str, type(None)), default=None),
        delegated_by=None
        if delegated is None
        else _Record(
            session=_field(delegated, "session", str), call_id=_field(delegated, "call_id", str)
        ),
        children=_field(data, "children", int, default=0),
        children_steps=_field(data, "children_steps", int, default=0),
        children_cost_usd=float(_field(data, "children_cost_usd", (int, float), default=0.0)),
    )


def _approval(data: Any) -> Any:
    """An `ApprovalView` as far as `agentctl.views` reads one."""
    if not isinstance(data, dict):
        raise Unhandled("an approval")
    context = _field(data, "context", dict)
    expires = _field(data, "expires_at", (str, type(None)))
    return _Record(
        id=_field(data, "id", str),
        session=_field(data, "session", str),
        tool=_field(data, "tool", str),
        args=_field(data, "args", dict),
        tier=_field(data, "tier", str),
        rule=_field(data, "rule", str),
        requested_at=_time(data["requested_at"]),
        expires_at=None if expires is None else _time(expires),
        on_expiry=_field(data, "on_expiry", str),
        delegated_by=_field(data, "delegated_by", (str, type(None)), default=None),
        context=_Record(
            last_message=_field(context, "last_message", str, default=""),
            rule=_field(context, "rule", str, default=""),
            reason=_field(context, "reason", str, default=""),
            question=_field(context, "question", (str, type(None)), default=None),
            answer_schema=_field(context, "answer_schema", (dict, type(None)), default=None),
            url=_field(context, "url", (str, type(None)), default=None),
        ),
    )


def _list(data: Any, make: Any) -> list[Any]:
    if not isinstance(data, list):
        raise Unhandled("a list")
    return [make(item) for item in data]


def _ls(args: list[str]) -> Any:
    options, _ = _options(args, ("--status", "--limit", "--json"))
    query: dict[str, str] = {}
    if "--status" in options:
        if options["--status"] not in STATUSES:
            raise Unhandled("--status")
        query["status"] = options["--status"]
    if "--limit" in options:
        limit = options["--limit"]
        if not (limit.isascii() and limit.isdigit()) or limit.startswith("0"):
            raise Unhandled("--limit")  # 0, -1, 1e3: the full CLI's message
        query["limit"] = limit
    answer = _get("/v1/sessions", **query)
    sessions = _list(answer, _session)
    if "--json" in options:
        return _as_json(answer, _exact_session)
    from datetime import UTC, datetime

    empty = "no sessions yet — start one with `agentctl run TASK`"
    now = datetime.now(UTC)
    if _unstyled():
        from agentctl.lines import ls_lines, plain

        lines = ls_lines(sessions, now, PIPE_WIDTH)
        if not sessions or lines is not None:
            return _plain(plain(lines) if sessions and lines else empty + "\n")
    if not sessions:
        return empty
    from agentctl.cli.consoles import out
    from agentctl.views import sessions_view

    return sessions_view(sessions, now, out.width)


def _show(args: list[str]) -> Any:
    options, (session,) = _options(args, ("--json",), positional=1)
    body = _fetch(f"/v1/sessions/{_an_id(session)}")
    import json

    data = json.loads(body)
    summary = _session(data)
    if "--json" in options:
        # The daemon wrote it with `model_dump_json()`, as `print_json` prints the model:
        # with exactly its fields, the same bytes.
        _exact_session(data)
        return Plain(body.decode() + "\n")
    pending = (
        _list(_get("/v1/approvals", session=session), _approval)
        if summary.pending_approvals
        else []
    )
    from agentctl.views import session_panel

    return session_panel(summary, pending)


def _approvals(args: list[str]) -> Any:
    options, _ = _options(args, ("--session", "--json"))
    query = {"session": _an_id(options["--session"])} if "--session" in options else {}
    answer = _get("/v1/approvals", **query)
    pending = sorted(_list(answer, _approval), key=lambda a: a.requested_at)
    if "--json" in options:
        order = sorted(range(len(answer)), key=lambda i: _time(answer[i]["requested_at"]))
        return _as_json([answer[i] for i in order], _exact_approval)
    from datetime import UTC, datetime

    if not pending:
        return _plain("no pending approvals\n") if _unstyled() else "no pending approvals"
    now = datetime.now(UTC)
    if _unstyled():
        from agentctl.lines import approval_blocks, plain

        return _plain(plain([line for block in approval_blocks(pending, now) for line in block]))
    from agentctl.views import approvals_view

    return approvals_view(pending, now)


# The fields of SessionSummary, ParentRef, ApprovalView and ApprovalContext in their order
# (tests/cli/test_quick.py keeps them equal to the models'): `--json` prints the daemon's
# objects as they came only when they have exactly these, which is what the full CLI
# prints after reading them into the models and dumping them again.
SESSION_FIELDS = (
    *("id", "status", "reason", "task", "model", "created_at", "updated_at", "steps"),
    *("input_tokens", "output_tokens", "cost_usd", "cost_known", "pending_approvals"),
    *("parent", "last_seq", "labels", "container", "agent", "agent_hash"),
    *("delegated_by", "children", "children_steps", "children_cost_usd"),
)
PARENT_FIELDS = ("session", "seq")
DELEGATED_FIELDS = ("session", "call_id")
APPROVAL_FIELDS = (
    *("id", "session", "call_id", "tool", "args", "tier", "rule", "context"),
    *("requested_at", "expires_at", "on_expiry", "seq", "approvers", "escalation_step"),
    "delegated_by",
)
CONTEXT_FIELDS = ("last_message", "diff", "rule", "reason", "question", "answer_schema", "url")


def _exact(data: dict[str, Any], fields: tuple[str, ...]) -> None:
    if tuple(data) != fields:
        raise Unhandled("other fields")  # the full CLI drops or fills them


def _canonical_time(value: Any) -> None:
    if not (isinstance(value, str) and "T" in value and value.endswith("Z")):
        raise Unhandled("a time as pydantic does not write it")


def _exact_session(data: dict[str, Any]) -> None:
    _exact(data, SESSION_FIELDS)
    if data["parent"] is not None:
        _exact(data["parent"], PARENT_FIELDS)
    if data["delegated_by"] is not None:
        _exact(data["delegated_by"], DELEGATED_FIELDS)
    if type(data["children"]) is not int or type(data["children_steps"]) is not int:
        raise Unhandled("children")
    if not isinstance(data["children_cost_usd"], float):
        raise Unhandled("children's cost")
    _canonical_time(data["created_at"])
    _canonical_time(data["updated_at"])
    if not isinstance(data["cost_usd"], float) or not isinstance(data["cost_known"], bool):
        raise Unhandled("cost")
    for key in ("agent", "agent_hash"):
        if not isinstance(data[key], str | None):
            raise Unhandled(key)


def _exact_approval(data: dict[str, Any]) -> None:
    _exact(data, APPROVAL_FIELDS)
    _exact(data["context"], CONTEXT_FIELDS)
    _canonical_time(data["requested_at"])
    if data["expires_at"] is not None:
        _canonical_time(data["expires_at"])
    approvers, step = data["approvers"], data["escalation_step"]
    if not (isinstance(approvers, list) and all(isinstance(a, str) for a in approvers)):
        raise Unhandled("approvers")
    if not isinstance(data["call_id"], str) or type(data["seq"]) is not int:
        raise Unhandled("call")
    if type(step) is not int or not isinstance(data["context"]["diff"], str | None):
        raise Unhandled("escalation")
    if not isinstance(data["delegated_by"], str | None):
        raise Unhandled("delegated_by")


def _as_json(items: list[dict[str, Any]], check: Any) -> Plain:
    """`print_json` of the models the full CLI would make of `items`: the same objects."""
    import json
    import re

    for item in items:
        check(item)
    text = json.dumps(items, default=str)
    if re.search(r"\\ud[89a-f]", text):  # a surrogate (an emoji's, or a lone one pydantic
        raise Unhandled("a surrogate")  # would not read): the full CLI says which
    return Plain(text + "\n")


class Plain(str):
    """Text for stdout as it is: what rich would print for it with no styles."""


def _plain(text: str) -> Plain:
    if "\t" in text:  # rich expands tabs (`clean` keeps them): its to print
        raise Unhandled("a tab")
    return Plain(text)


def _unstyled() -> bool:
    """Whether the consoles of agentctl.cli.consoles print stdout without a style and at
    PIPE_WIDTH: piped, no COLUMNS, and nothing that tells rich it is a terminal after all."""
    forcing = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")
    if any(name in os.environ for name in (*forcing, "JUPYTER_COLUMNS", "JUPYTER_LINES")):
        return False
    try:
        return not sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


# StatsReport's fields in their order (tests/cli/test_quick.py keeps them equal to the model's).
STATS_FIELDS = (
    *("since", "since_ts", "generated_at", "totals", "sessions_by_status", "models"),
    *("tools", "approvals", "providers", "agents"),
)


def _stats(args: list[str]) -> Any:
    """`stats --json [--since D]`: the daemon's report as it came (the table is the full CLI's).

    The daemon wrote it with `model_dump_json()`; the full CLI reads it into the
    model and dumps it again: with exactly its fields (its tables plain JSON rows),
    the same bytes. A bad duration is the daemon's 422: the full CLI says so."""
    options, _ = _options(args, ("--since", "--json"))
    if "--json" not in options:
        raise Unhandled("the table")
    query = {"since": options["--since"]} if "--since" in options else {}
    body = _fetch("/v1/stats", **query)
    import json
    import re

    data = json.loads(body)
    if not isinstance(data, dict) or tuple(data) != STATS_FIELDS:
        raise Unhandled("other fields")
    _canonical_time(data["generated_at"])
    if data["since_ts"] is not None:
        _canonical_time(data["since_ts"])
    text = body.decode()
    if re.search(r"\\ud[89a-f]", text):  # a surrogate pydantic would not read back
        raise Unhandled("a surrogate")
    return Plain(text + "\n")


_COMMANDS = {"ls": _ls, "show": _show, "approvals": _approvals, "stats": _stats}
