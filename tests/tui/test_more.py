"""The actions that were missing: resume, start a run, detail, trace, copy an id; and the
small things: approval notices and the bell, the too-small and empty-home messages, dimmed
keys, pane keys, the fork dialog's offers, the status line in words, `agentctl tui` on an
unknown session."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from agentctl.protocol import Budget, CreateSession, SessionStatus
from tests.support.daemon import Response, reply
from tests.support.tui import TuiDaemon, until
from tui.screens.dialogs import ForkDialog, ResumeDialog, RunDialog
from tui.screens.info import DetailScreen, TraceScreen

Recording = Callable[[list[Response]], str]


def shells(n: int) -> list[Response]:
    return [reply(f"step {i}", ("shell", {"command": f"echo {i}"}), step=i) for i in range(n)]


async def submit(pilot: Pilot[None]) -> None:
    """Press enter in the dialog's first field, as a person does after typing."""
    pilot.app.screen.query(Input).first().focus()
    await pilot.press("enter")


def create(daemon: TuiDaemon, model: str, **kw: object) -> str:
    req = CreateSession.model_validate(
        {"task": "count", "model": model, "image": "none", "policy": "strict", **kw}
    )
    return daemon.api.create_session(req).id


async def test_resume_a_paused_session_with_a_raised_budget(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    model = recording([*shells(3), reply("done")])
    req = CreateSession(
        task="count", model=model, image="none", policy="permissive", budget=Budget(max_steps=1)
    )
    session_id = tui_daemon.api.create_session(req).id
    app = tui_daemon.app(session=session_id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(
            pilot,
            lambda: (
                session_id in app.sessions.summaries
                and app.sessions.summaries[session_id].status is SessionStatus.PAUSED
            ),
            what="the pause",
        )
        assert app.check_action("resume", ()) is True
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ResumeDialog), what="the dialog")
        app.screen.query_one("#max_steps", Input).value = "nope"
        await submit(pilot)
        await until(
            pilot,
            lambda: "max steps must be a number" in str(app.screen.query_one("#error").render()),
        )
        app.screen.query_one("#max_steps", Input).value = "10"
        await submit(pilot)
        await until(pilot, lambda: not isinstance(app.screen, ResumeDialog), what="resumed")
        await until(
            pilot,
            lambda: app.sessions.summaries[session_id].status is SessionStatus.COMPLETED,
            what="the end",
        )
        assert app.check_action("resume", ()) is None  # dimmed: not paused any more
    assert tui_daemon.api.session(session_id).steps > 1


async def test_start_a_run_from_the_dialog(tui_daemon: TuiDaemon, recording: Recording) -> None:
    model = recording([reply("done")])
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "ctrl+n" in str(app.timeline.empty_hint), what="the hint")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, RunDialog), what="the dialog")
        await submit(pilot)
        await until(
            pilot, lambda: "a task is required" in str(app.screen.query_one("#error").render())
        )
        app.screen.query_one("#task", Input).value = "write the release notes"
        app.screen.query_one("#ws", Input).value = "/no/such/folder"
        await submit(pilot)
        await until(
            pilot, lambda: "is not a folder" in str(app.screen.query_one("#error").render())
        )
        app.screen.query_one("#ws", Input).value = ""
        app.screen.query_one("#model", Input).value = model
        await submit(pilot)
        await until(pilot, lambda: not isinstance(app.screen, RunDialog), what="started")
        await until(pilot, lambda: len(app.sessions.summaries) == 1, what="the new session")
        (session_id,) = app.sessions.summaries
        await until(pilot, lambda: app.timeline.session == session_id, what="it on screen")
    assert tui_daemon.api.session(session_id).task == "write the release notes"


async def test_detail_trace_and_copy_the_id(tui_daemon: TuiDaemon, recording: Recording) -> None:
    session_id = create(tui_daemon, recording([reply("done")]), policy="permissive")
    app = tui_daemon.app(session=session_id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.timeline.session == session_id, what="the session")
        await until(pilot, lambda: tui_daemon.api.session(session_id).status.ended)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.summary.id == session_id
        await pilot.press("escape")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), what="the trace")
        assert isinstance(app.screen, TraceScreen)
        assert app.screen.trace.session == session_id
        await pilot.press("escape")
        await pilot.press("y")
        assert app.clipboard == session_id


async def test_a_new_approval_raises_a_notice_and_the_bell(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    early = create(tui_daemon, recording(shells(1)))
    app = tui_daemon.app(session=early)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.approvals.pending) == 1, what="the first approval")
        assert app.bells == 0  # what was there at start is not news
        later = create(tui_daemon, recording(shells(1)))
        await until(pilot, lambda: len(app.approvals.pending) == 2, what="the new approval")
        assert app.bells == 1
        notices = [n.message for n in app._notifications]
        assert any(f"…{later[-8:]} waits for a decision" in m for m in notices)
    quiet = tui_daemon.app(session=early, bell=False)
    async with quiet.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(quiet.approvals.pending) == 2, what="the queue")
        create(tui_daemon, recording(shells(1)))
        await until(pilot, lambda: len(quiet.approvals.pending) == 3, what="another")
        assert quiet.bells == 0
        assert any("waits for a decision" in n.message for n in quiet._notifications)


def test_the_bell_is_read_from_config_toml(tmp_path: Path) -> None:
    from agentctl.config import load_config

    path = tmp_path / "config.toml"
    assert load_config(path).tui.bell is True
    path.write_text("[tui]\nbell = false\n")
    assert load_config(path).tui.bell is False
    path.write_text("[tui]\nbel = false\n")
    try:
        load_config(path)
    except Exception as exc:
        assert "tui.bel" in str(exc)
    else:
        raise AssertionError("a typo in [tui] was accepted")


async def test_the_fork_dialog_offers_the_nearest_valid_seqs(
    tui_daemon: TuiDaemon, recording: Recording
) -> None:
    model = recording([*shells(2), reply("done")])
    session_id = create(tui_daemon, model, policy="permissive")
    app = tui_daemon.app(session=session_id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: tui_daemon.api.session(session_id).status.ended)
        last = tui_daemon.api.session(session_id).last_seq
        await until(pilot, lambda: app.timeline.received_seqs[-1:] == [last], what="the log")
        inside = next(e.seq for e in app.timeline.events_of(session_id) if e.type == "tool.started")
        app.timeline.focus()
        app.timeline.highlight_seq(inside)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ForkDialog), what="the dialog")
        dialog = app.screen
        assert isinstance(dialog, ForkDialog)
        await pilot.click("#submit")
        await until(pilot, lambda: len(dialog.offered) > 0, what="the offers")
        assert all(seq != inside for seq in dialog.offered)
        target = dialog.offered[0]
        await pilot.click(f"#at-{target}")
        await until(pilot, lambda: not isinstance(app.screen, ForkDialog), what="the fork")
        await until(pilot, lambda: len(app.sessions.summaries) == 2, what="the fork in the pane")
    fork_id = next(s.id for s in tui_daemon.api.sessions() if s.id != session_id)
    parent = tui_daemon.api.session(fork_id).parent
    assert parent is not None and parent.seq == target


async def test_too_small_empty_home_panes_dimmed_keys_and_the_status_line(
    tui_daemon: TuiDaemon,
) -> None:
    app = tui_daemon.app()
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        assert app.too_small.display
        assert "too small (50x12)" in str(app.too_small.render())
        assert not app.query_one("#main").display
    app = tui_daemon.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "ctrl+n" in str(app.timeline.empty_hint), what="the hint")
        assert not app.too_small.display
        await until(pilot, lambda: str(app.link_bar.render()) == "● connected")
        for action in ("approve", "resume", "fork", "cancel_session", "diff", "trace"):
            assert app.check_action(action, ()) is None, action  # dimmed: nothing to act on
        assert app.check_action("start_daemon", ()) is False  # hidden while connected
        await pilot.press("2")
        assert app.focused is app.timeline
        await pilot.press("3")
        # the key moved the focus; mypy still holds `focused` to the Timeline asserted above
        assert app.focused is app.approvals.table  # type: ignore[comparison-overlap]
        await pilot.press("1")
        assert app.focused is app.sessions  # type: ignore[comparison-overlap]  # as above
        await pilot.press("question_mark")
        help_text = str(app.screen.query("Static")[1].render())
        for key in ("ctrl+n", "/", "n  N", ":", "1  2  3", "y", "i", "t", "r", "D"):
            assert key in help_text, key


async def test_reconnecting_in_words_and_D_starts_the_daemon(tui_daemon: TuiDaemon) -> None:
    app = tui_daemon.app(start=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: str(app.link_bar.render()) == "● connected")
        await asyncio.to_thread(tui_daemon.stop)
        await until(pilot, lambda: "reconnecting…" in str(app.link_bar.render()), what="lost")
        assert "D starts it" in str(app.link_bar.render())
        assert app.check_action("start_daemon", ()) is True
        notices = [n.message for n in app._notifications]
        assert any("press D to start it" in m for m in notices)
        assert not any(".sock" in m for m in notices)  # no internals
        await pilot.press("D")
        await until(pilot, lambda: str(app.link_bar.render()) == "● connected", timeout=60)
    # the daemon the app started: stopped by the fixture's home cleanup via the CLI
    subprocess.run(
        [sys.executable, "-m", "agentctl", "daemon", "stop"], check=False, capture_output=True
    )


def test_tui_on_an_unknown_session_says_so_and_exits_2(tui_daemon: TuiDaemon) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentctl", "tui", "ses_DOESNOTEXIST"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert "no session 'ses_DOESNOTEXIST'" in result.stderr
    assert "agentctl ls" in result.stderr
