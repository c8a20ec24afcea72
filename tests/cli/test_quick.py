"""The quick path (agentctl/cli/quick.py) prints what the full CLI prints, byte for byte.

`agentctl ls`, `show` and `approvals` are answered from the daemon's JSON
without typer, pydantic or httpx; `--help` from the command table. Each case
runs twice against one real daemon: the console entry as a person runs it
(quick), and the typer app directly (`agentctl.cli.main.run`, the full
path), in the same environment: piped, in colour (FORCE_COLOR), narrow
(COLUMNS=60, where `ls` goes through rich's table). What the quick path
does not know (an unknown option, a bad value, a session that is not there)
goes to the full CLI, with its message and exit code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from agentctl.cli import helptext, quick
from agentctl.client import Client
from agentctl.errors import ExitCode
from agentctl.protocol import CreateSession
from tests.support.cli import ROOT, env, final, read, write
from tests.support.daemon import wait_status

Recording = Callable[[list[dict[str, object]]], str]

FULL = (
    "import sys\nfrom agentctl.cli.main import run\nsys.argv = ['agentctl', *sys.argv[1:]]\nrun()\n"
)
PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
    "sys.argv = ['agentctl', *sys.argv[1:]]\n"
    "from agentctl.cli.entry import run\n"
    "run()\n"
)
HEAVY: tuple[str, ...] = (
    *("typer", "pydantic", "httpx", "httpcore", "http", "email", "ssl"),
    *("agentctl.protocol", "agentctl.client", "agentctl.render", "agentctl.cli.main"),
    *("duckdb", "docker", "textual", "store"),
)

ENVIRONMENTS = {
    "piped": {},
    "colour": {"FORCE_COLOR": "1"},
    "narrow": {"COLUMNS": "60"},
    "no-color": {"NO_COLOR": "1", "COLUMNS": "100"},
}


def agentctl(
    code: list[str], args: tuple[str, ...], **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *code, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env(**extra),
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def quick_and_full(*args: str, **extra: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The quick run, the full run, and the quick one again (an age may tick between)."""
    first = agentctl(["-m", "agentctl"], args, **extra)
    full = agentctl(["-c", FULL], args, **extra)
    again = agentctl(["-m", "agentctl"], args, **extra)
    return first, full, again


def seconds_masked(text: str) -> str:
    """An age under a minute ("7s") as "Ns": the runs are seconds apart on a busy machine
    (a minute, an hour or a day, a wrong time zone, still shows)."""
    return re.sub(r"\b\d{1,2}s\b", "Ns", text)


def assert_same(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    first, full, again = quick_and_full(*args, **extra)
    assert full.returncode == 0, full.stderr
    seen = [(seconds_masked(r.stdout), r.stderr) for r in (first, again)]
    assert (seconds_masked(full.stdout), full.stderr) in seen, (
        f"quick:\n{first.stdout}{first.stderr}\nfull:\n{full.stdout}{full.stderr}"
    )
    assert first.returncode == again.returncode == full.returncode
    return full


def modules_of(*args: str) -> set[str]:
    done = agentctl(["-c", PROBE], args)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.fixture
def home(daemon: Client, recording: Recording) -> dict[str, str]:
    """A home with a completed session, one waiting for an approval, one with labels."""
    done = daemon.create_session(
        CreateSession(
            task="read the notes\nand a second line",
            model=recording([read("a.txt"), final()]),
            image="none",
        )
    )
    waits = daemon.create_session(
        CreateSession(
            task="write the notes",
            model=recording([write("notes.txt"), final()]),
            image="none",
            labels={"team": "core", "ticket": "t-1"},
        )
    )
    wait_status(daemon, done.id, "completed", "failed")
    wait_status(daemon, waits.id, "waiting")
    return {"done": done.id, "waits": waits.id}


@pytest.mark.parametrize("where", list(ENVIRONMENTS))
def test_ls_show_and_approvals_are_the_full_clis_output(home: dict[str, str], where: str) -> None:
    extra = ENVIRONMENTS[where]
    ls = assert_same("ls", **extra)
    assert home["done"] in ls.stdout and home["waits"] in ls.stdout
    assert_same("ls", "--status", "waiting", **extra)
    assert_same("ls", "--limit=1", **extra)
    show = assert_same("show", home["waits"], **extra)
    assert "agentctl approve" in show.stdout  # with its pending approval
    assert_same("show", home["done"], **extra)
    assert_same("ls", "--json", **extra)
    assert_same("show", home["waits"], "--json", **extra)
    assert_same("ls", "--json", "--status=completed", **extra)
    assert_same("approvals", "--json", **extra)
    assert_same("approvals", "--session", home["waits"], "--json", **extra)
    approvals = assert_same("approvals", **extra)
    assert "write_file" in approvals.stdout and "notes.txt" in approvals.stdout
    assert_same("approvals", "--session", home["done"], **extra)


def test_what_the_quick_path_does_not_know_goes_to_the_full_cli(home: dict[str, str]) -> None:
    cases = [
        (("show", "ses_nosuchsession"), ExitCode.FAILED),
        (("show", "../x"), ExitCode.FAILED),
        (("ls", "--status", "bogus"), ExitCode.USAGE),
        (("ls", "--limit", "0"), ExitCode.USAGE),
        (("ls", "--colour"), ExitCode.USAGE),
        (("show",), ExitCode.USAGE),
        (("approvals", "extra"), ExitCode.USAGE),
    ]
    for args, code in cases:
        first, full, _ = quick_and_full(*args)
        assert (first.returncode, first.stdout, first.stderr) == (
            full.returncode,
            full.stdout,
            full.stderr,
        ), args
        assert full.returncode == code, (args, full.stderr)
    # and what the quick path does not do at all: the same answers as ever
    for args in (("ls", "--help"), ("ls", "--json", "--json")):
        assert_same(*args)


def test_ls_show_and_approvals_import_nothing_heavy(home: dict[str, str]) -> None:
    for args in (
        ("ls",),
        ("show", home["waits"]),
        ("approvals",),
        ("--help",),
        ("ls", "--json"),
        ("show", home["done"], "--json"),
    ):
        # piped, `ls` and `approvals` print their lines without rich; `show` draws a panel
        heavy_here = HEAVY if args[0] == "show" and "--json" not in args else (*HEAVY, "rich")
        modules = modules_of(*args)
        heavy = sorted(
            m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy_here)
        )
        assert heavy == [], args


def test_the_quick_paths_pipe_width_is_the_consoles() -> None:
    from agentctl.cli import consoles

    assert quick.PIPE_WIDTH == consoles.PIPE_WIDTH


def test_without_a_daemon_the_full_cli_starts_one(
    cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = cli("ls")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no sessions yet — start one with `agentctl run TASK`"
    again = modules_of("ls")  # now one answers: the quick path
    assert "typer" not in again
    assert cli("daemon", "stop").returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ["ls", "--agent", "x"],
        ["ls", "--by-agent"],
        ["ls", "--status", "running", "--status", "paused"],
        ["ls", "--limit", "-1"],
        ["ls", "--limit"],
        ["show", "a", "b"],
        ["show", ""],
        ["approvals", "--session="],
        ["--debug", "ls"],
        ["log", "x"],
        [],
    ],
)
def test_arguments_it_does_not_know_are_the_full_clis(args: list[str]) -> None:
    assert quick.answer(args) is None  # before any request: nothing listens in this home


@pytest.mark.parametrize("width", [50, 58, 61, 77, 78, 100, 300])
def test_the_quick_help_is_the_typer_apps_at_every_width(width: int) -> None:
    import typer
    from typer._click import Context

    from agentctl.cli import main

    root = typer.main.get_command(main.app)
    settings = {**root.context_settings, "terminal_width": width, "max_content_width": width}
    ctx = Context(root, info_name="agentctl", **settings)
    assert helptext.help_text(width) == root.get_help(ctx) + "\n"


@pytest.mark.parametrize("columns", ["", "60", "79", "120"])
def test_the_quick_help_takes_the_terminals_width_as_click_does(columns: str) -> None:
    extra = {"COLUMNS": columns} if columns else {}
    for flag in ("--help", "-h"):
        printed = assert_same(flag, **extra)
        assert printed.stdout.startswith("Usage: agentctl [OPTIONS] COMMAND [ARGS]...\n")


def on_a_terminal(code: list[str], args: tuple[str, ...], columns: int) -> tuple[int, bytes]:
    """What `python CODE ARGS` writes on a pseudo-terminal `columns` wide, and its exit code."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, *code, *args],
        stdin=subprocess.DEVNULL,
        stdout=child_fd,
        stderr=child_fd,
        env=env(),
        cwd=ROOT,
    )
    os.close(child_fd)
    output = bytearray()
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the child side is closed
            break
        if not chunk:
            break
        output += chunk
    os.close(main_fd)
    return process.wait(timeout=60), bytes(output)


@pytest.mark.parametrize("columns", [100, 200])
def test_on_a_terminal_too(home: dict[str, str], columns: int) -> None:
    """In colour, at the terminal's own width (no COLUMNS): rich's table at 100, lines at 200."""
    for args in (("ls",), ("show", home["waits"]), ("approvals",), ("--help",)):
        quick_runs = [on_a_terminal(["-m", "agentctl"], args, columns) for _ in range(2)]
        full = on_a_terminal(["-c", FULL], args, columns)
        masked = [(code, seconds_masked(out.decode())) for code, out in quick_runs]
        assert (full[0], seconds_masked(full[1].decode())) in masked, args
        assert b"\x1b[" in full[1] or args == ("--help",)  # styles were drawn


def test_json_is_printed_as_it_came_only_with_the_models_own_fields() -> None:
    from agentctl.protocol import ApprovalView, SessionSummary
    from agentctl.protocol.events import ApprovalContext, DelegatedBy, ParentRef

    assert tuple(SessionSummary.model_fields) == quick.SESSION_FIELDS
    assert tuple(ParentRef.model_fields) == quick.PARENT_FIELDS
    assert tuple(DelegatedBy.model_fields) == quick.DELEGATED_FIELDS
    assert tuple(ApprovalView.model_fields) == quick.APPROVAL_FIELDS
    assert tuple(ApprovalContext.model_fields) == quick.CONTEXT_FIELDS
    from agentctl.protocol import StatsReport

    assert tuple(StatsReport.model_fields) == quick.STATS_FIELDS
    with pytest.raises(quick.Unhandled):  # a field the model does not have: the full CLI's
        quick._exact({"id": "x", "extra": 1}, ("id",))
    with pytest.raises(quick.Unhandled):
        quick._canonical_time("2026-12-03T10:41:16+00:00")


def _report_masked(text: str) -> dict[str, object]:
    """A `stats --json` report without what moves between two runs: when it was made and
    the waits of pending approvals (they run to `now`)."""
    report: dict[str, Any] = json.loads(text)
    report.pop("generated_at")
    report.pop("since_ts")
    report["approvals"] = [
        {"decision": r["decision"], "n": r["approvals"]} for r in report["approvals"]
    ]
    return report


def test_stats_json_is_the_full_clis_and_imports_nothing_heavy(home: dict[str, str]) -> None:
    for args in (
        ("stats", "--json"),
        ("stats", "--since", "1h", "--json"),
        ("stats", "--json", "--since=2d"),
    ):
        first, full, _ = quick_and_full(*args)
        assert full.returncode == first.returncode == 0, full.stderr
        assert first.stdout.endswith("}\n") and first.stdout.count("\n") == 1
        assert _report_masked(first.stdout) == _report_masked(full.stdout), args
        report = json.loads(first.stdout)
        assert report["totals"]["sessions"] == 2 and report["approvals"], report
        # the quick path prints the daemon's bytes: the same as a dump of the model read back
        from agentctl.protocol import StatsReport

        assert (
            StatsReport.model_validate_json(first.stdout).model_dump_json() + "\n" == first.stdout
        )
        modules = modules_of(*args)
        heavy = sorted(
            m for m in modules if any(m == h or m.startswith(h + ".") for h in (*HEAVY, "rich"))
        )
        assert heavy == [], args
    # a bad duration, the table: the full CLI's, with its message and exit code
    bad = ("stats", "--since", "yesterday", "--json")
    first, full, _ = quick_and_full(*bad)
    assert (first.returncode, first.stdout, first.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    )
    assert full.returncode == ExitCode.USAGE and "not a duration" in full.stderr
    table, full_table, _ = quick_and_full("stats")
    assert table.returncode == full_table.returncode == 0, table.stderr
    assert "sessions by status" in table.stdout
