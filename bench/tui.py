"""The TUI on long sessions, headless, against a real daemon (issue 19 targets).

Three figures, each against a baseline measured in the same run:

1. show: a completed 10,000-event session (written straight into the store,
   as bench/attach.py does) opened with `agentctl tui SESSION`; the time from
   the app's start to a painted timeline whose last line is the session's
   last event. Baseline: the same events rendered the way the timeline did
   before it was virtualised (every event through `prompt_for` into an
   `OptionList`, in the same headless app harness). Target < 500 ms.
2. keys: while a second, live session gets ~50 events/s (a real model
   server on loopback, in a process of its own, answering each step after
   a pause; tools fail without a sandbox, which still records every
   event), the time from a key press (`k`, `k`, `m`, `j`, `g`, `G`, in
   turn, and the pane keys `1` and `2`) to the first screen update written
   after its binding ran (the
   app's `_display`, what a terminal would receive); a key whose binding
   left nothing to repaint (a move at the end) is answered when the binding
   returns, since the next update would be an arrival's. The slowest key of
   each kind is printed. Target: every key < 50 ms.
3. memory: the events the timeline holds and the rendered events it caches
   after paging through the whole 10,000-event session (`g`, then 200
   `pagedown`s, each timed like a key above), against the session's length.

    .venv/bin/python bench/tui.py

The last stdout line is JSON with the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.attach import EVENTS, build_session  # noqa: E402

LIVE_RATE = 50  # events per second wanted from the live session
KEYS = 64
# `1`/`2` move the focus to the sessions pane and back: the key bar shows the
# other pane's keys, a repaint that comes after the binding returns.
ROTATION = ("k", "k", "m", "j", "g", "G", "1", "2")
FOCUS_KEYS = {"1", "2"}


def serve_paced(pause_s: float, ports: Any) -> None:
    """An OpenAI-compatible server that answers each step with a read after a pause.

    It runs in a process of its own, as a real model server would: in the
    benchmark's process it would take the GIL from the app being measured.
    """
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    count = 0

    async def complete(request: Request) -> JSONResponse:
        nonlocal count
        await request.body()
        await asyncio.sleep(pause_s)
        count += 1
        n = count
        call = {
            "id": f"c{n}",
            "type": "function",
            "function": {"name": "read_file", "arguments": json.dumps({"path": f"f{n}.txt"})},
        }
        message = {"role": "assistant", "content": f"step {n}", "tool_calls": [call]}
        return JSONResponse(
            {
                "id": f"x{n}",
                "object": "chat.completion",
                "model": "paced",
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )

    app = Starlette(routes=[Route("/{path:path}", complete, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ports.put(sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])


class PacedModel:
    """`serve_paced` in a child process, stopped with the benchmark."""

    def __init__(self, pause_s: float) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.ports: Any = context.Queue()
        self.process = context.Process(target=serve_paced, args=(pause_s, self.ports), daemon=True)
        self.port = 0

    def start(self) -> None:
        self.process.start()
        self.port = self.ports.get(timeout=60)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


def naive_show(events: list[Any]) -> float:
    """The baseline: every event rendered into an OptionList, as the timeline did before."""
    from textual.app import App, ComposeResult
    from textual.widgets import OptionList
    from textual.widgets.option_list import Option

    from tui.widgets.event_text import prompt_for

    class Naive(App[None]):
        def compose(self) -> ComposeResult:
            yield OptionList(id="t")

    async def run() -> float:
        app = Naive()
        async with app.run_test(size=(160, 48)) as pilot:
            started = time.perf_counter()
            timeline = app.query_one(OptionList)
            options = []
            for e in events:
                prompt = prompt_for(e)
                if prompt is not None:
                    options.append(Option(prompt, id=str(e.seq)))
            timeline.add_options(options)
            timeline.highlighted = timeline.option_count - 1
            await pilot.pause()
            await app.animator.wait_until_complete()
            await pilot.pause()
            return (time.perf_counter() - started) * 1000

    return asyncio.run(run())


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="agentctl-bench-tui-"))
    os.environ["AGENTCTL_HOME"] = str(home)
    from agentctl.client import AsyncClient, Client
    from agentctl.errors import DaemonError
    from agentctl.paths import get_paths
    from agentctl.protocol import Budget, CreateSession
    from tui.app import AgentctlApp

    paths = get_paths().ensure()
    long_id = build_session(paths.database)
    # ~5 events per step, a pause each: the pause leaves room for the step's own
    # time, so that at least LIVE_RATE events/s arrive (the figure printed)
    model = PacedModel(pause_s=2.4 / LIVE_RATE)
    model.start()
    paths.config_file.write_text(
        f'[providers.paced]\nbase_url = "http://127.0.0.1:{model.port}/v1"\n'
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "agentctl.daemon", "--log-level", "warning"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    figures: dict[str, Any] = {}
    try:
        client = Client(paths.socket)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.health()
                break
            except DaemonError:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise
                time.sleep(0.05)
        events = list(client.events(long_id))
        last_line = f"{EVENTS:>4} "

        async def connect() -> AsyncClient:
            return AsyncClient(paths.socket, timeout=30)

        def shows_end(app: AgentctlApp) -> bool:
            return any(s.text.lstrip().startswith(last_line.strip()) for s in app.timeline.frame())

        async def show_once() -> float:
            app = AgentctlApp(
                client_factory=connect, session=long_id, approver="bench", freeze_gc=True
            )
            started = time.perf_counter()
            async with app.run_test(size=(160, 48)) as pilot:
                while not (
                    app.timeline.session == long_id
                    and app.timeline.session_log is not None
                    and EVENTS in app.timeline.session_log.events
                    and shows_end(app)
                ):
                    await pilot.pause(0.002)
                await pilot.pause()
                return (time.perf_counter() - started) * 1000

        shows = [asyncio.run(show_once()) for _ in range(3)]
        show_ms = statistics.median(shows)
        naive_ms = naive_show(events)
        figures.update(show_10k_ms=round(show_ms, 1), naive_10k_ms=round(naive_ms, 1))

        async def keys_and_memory() -> dict[str, Any]:
            live = await (await connect()).create_session(
                CreateSession(
                    task="live", model="paced:m", image="none", budget=Budget(max_steps=100_000)
                )
            )
            app = AgentctlApp(
                client_factory=connect, session=live.id, approver="bench", freeze_gc=True
            )
            async with app.run_test(size=(160, 48)) as pilot:
                while app.timeline.session != live.id:
                    await pilot.pause(0.01)
                await pilot.pause(1.0)
                app.timeline.focus()
                await pilot.pause()  # the focus move painted: the keys are timed from here
                handled: list[float] = []
                painted: list[float] = []
                check, display = app._check_bindings, app._display

                unchanged: list[bool] = []  # per key: its binding left nothing to paint

                async def timed_check(key: str, priority: bool = False) -> bool:
                    result = await check(key, priority)
                    if not priority:
                        handled.append(time.perf_counter())
                        # the keys act on the timeline: a repaint it asked for, or any
                        # widget already queued for the next screen update
                        pending = app.timeline._repaint_required or app.screen._dirty_widgets
                        unchanged.append(not pending)
                    return result

                # A pane key is answered by the paint that shows the pane focused (its
                # border takes the focus colour, the key bar shows its keys).
                focused: list[tuple[float, object]] = []  # per paint: the focused pane's border
                panes = {"1": app.sessions, "2": app.timeline}

                def timed_display(screen: Any, renderable: Any) -> None:
                    display(screen, renderable)
                    painted.append(time.perf_counter())
                    focused.append((painted[-1], border_of(app.focused)))

                def border_of(widget: Any) -> object:
                    return (widget, widget.styles.border_top) if widget is not None else None

                app._check_bindings = timed_check  # type: ignore[method-assign]
                app._display = timed_display  # type: ignore[method-assign]

                async def latency(key: str) -> float:
                    handled.clear()
                    unchanged.clear()
                    before = border_of(panes[key]) if key in FOCUS_KEYS else None
                    started = time.perf_counter()
                    await pilot.press(key)
                    while not handled:
                        await asyncio.sleep(0.001)
                    if key in FOCUS_KEYS:
                        wanted = panes[key]

                        def shows_focus(border: object) -> bool:
                            return (
                                border != before
                                and isinstance(border, tuple)
                                and (border[0] is wanted)
                            )

                        while not any(t >= handled[-1] and shows_focus(b) for t, b in focused):
                            await asyncio.sleep(0.001)
                        first = min(t for t, b in focused if t >= handled[-1] and shows_focus(b))
                        return (first - started) * 1000
                    if unchanged[-1]:  # nothing to paint (a move at the end): answered here;
                        return (handled[-1] - started) * 1000  # the next paint is an arrival's
                    while not any(t >= handled[-1] for t in painted):
                        await asyncio.sleep(0.001)
                    first_paint = min(t for t in painted if t >= handled[-1])
                    return (first_paint - started) * 1000

                first = app.timeline.session_log.total if app.timeline.session_log else 0
                t0 = time.perf_counter()
                latencies: list[float] = []
                by_key: dict[str, float] = {}
                for i in range(KEYS):
                    # every key changes the screen: one that changes nothing (enter on a
                    # call without output) has no paint, and would time the next arrival
                    key = ROTATION[i % len(ROTATION)]
                    latencies.append(await latency(key))
                    by_key[key] = max(by_key.get(key, 0.0), latencies[-1])
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - t0
                arrived = (
                    app.timeline.session_log.total if app.timeline.session_log else 0
                ) - first
                rate = arrived / elapsed

                # Page through the long session: memory stays bounded.
                app.sessions.select(long_id)
                while app.timeline.session != long_id or EVENTS not in (
                    app.timeline.session_log.events if app.timeline.session_log else {}
                ):
                    await pilot.pause(0.01)
                app.timeline.focus()
                await pilot.press("g")
                walk = time.perf_counter()
                pages: list[float] = []
                for _ in range(200):
                    pages.append(await latency("pagedown"))  # press to first paint
                    await pilot.pause()
                walk_ms = (time.perf_counter() - walk) * 1000
                held = len(app.timeline.session_log.events) if app.timeline.session_log else 0
                cached = len(app.timeline._rendered)
            return {
                "keys_median_ms": round(statistics.median(latencies), 2),
                "keys_max_ms": round(max(latencies), 2),
                "keys_p95_ms": round(sorted(latencies)[int(len(latencies) * 0.95)], 2),
                "slowest_by_key_ms": {k: round(v, 1) for k, v in by_key.items()},
                "live_events_per_s": round(rate, 1),
                "events_held_after_paging": held,
                "renders_cached": cached,
                "pagedown_200_ms": round(walk_ms, 1),
                "pagedown_median_ms": round(statistics.median(pages), 2),
                "pagedown_p95_ms": round(sorted(pages)[int(len(pages) * 0.95)], 2),
                "pagedown_max_ms": round(max(pages), 2),
            }

        figures.update(asyncio.run(keys_and_memory()))
        client.close()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        model.stop()

    ok = lambda flag: "met" if flag else "MISSED"  # noqa: E731
    print(
        f"show a {EVENTS}-event session: {figures['show_10k_ms']:.1f} ms (median of 3: "
        f"{', '.join(f'{t:.0f}' for t in shows)}); the old way (every event into an OptionList): "
        f"{figures['naive_10k_ms']:.1f} ms, {figures['naive_10k_ms'] / figures['show_10k_ms']:.1f}x "
        f"slower; target < 500 ms: {ok(figures['show_10k_ms'] < 500)}",
        file=sys.stderr,
    )
    print(
        f"keys while {figures['live_events_per_s']} events/s arrive: median "
        f"{figures['keys_median_ms']} ms, p95 {figures['keys_p95_ms']} ms, max "
        f"{figures['keys_max_ms']} ms over {KEYS} keys (slowest of each: "
        f"{figures['slowest_by_key_ms']}); target < 50 ms: {ok(figures['keys_max_ms'] < 50)}",
        file=sys.stderr,
    )
    print(
        f"after paging through all {EVENTS} events: {figures['events_held_after_paging']} held, "
        f"{figures['renders_cached']} rendered events cached "
        f"({figures['events_held_after_paging'] / EVENTS:.0%} of the session); "
        f"200 pagedowns took {figures['pagedown_200_ms']} ms in all (with the test "
        f"harness's waits for idle); each, from the press to its first paint: median "
        f"{figures['pagedown_median_ms']} ms, p95 {figures['pagedown_p95_ms']} ms, max "
        f"{figures['pagedown_max_ms']} ms",
        file=sys.stderr,
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
