"""The CLI's own cost: `agentctl --version`, `--help`, `ls`, `show`, `approvals` end to end.

Issue #20's targets: `--version` and `--help` < 100 ms, `show`, `ls` and
`approvals` < 150 ms with a running daemon on a typical home (a few dozen
sessions). Starts a real daemon in a temporary AGENTCTL_HOME, makes
SESSIONS sessions on recordings without a sandbox (`--image none`): most
complete, some wait for an approval (a write the default policy asks about),
then runs each command as a person would (the console script,
`.venv/bin/agentctl`, piped, and `ls`, `show`, `approvals` again on a
pseudo-terminal, where rich draws in colour) RUNS times and prints its median
and p90 wall time, each beside the interpreter's own start, `python -c pass` with the same
interpreter and flags, measured in the same run, in turn with them (the ratio says how many
interpreter starts a command costs).

    .venv/bin/python bench/cli.py [--runs N] [--sessions N]

The last stdout line is one JSON object of the medians (ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

# Run as a script, bench/ comes first on sys.path, where bench/store.py would
# shadow the `store` package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

if TYPE_CHECKING:
    from agentctl.client import Client

TARGETS_MS = {"--version": 100, "--help": 100, "ls": 150, "show": 150, "approvals": 150}


def reply(text: str, *calls: tuple[str, dict[str, object]], step: int = 0) -> dict[str, object]:
    return {
        "text": text,
        "tool_calls": [
            {"id": f"call_{step}_{i}", "name": name, "args": args}
            for i, (name, args) in enumerate(calls)
        ],
        "usage": {"input_tokens": 900 + step, "output_tokens": 40},
    }


def recording(folder: Path, name: str, replies: list[dict[str, object]]) -> str:
    path = folder / f"{name}.jsonl"
    lines = [{"format": "agentctl-recording", "version": 1}, *replies]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return f"replay:{path}"


def make_sessions(client: Client, folder: Path, count: int) -> tuple[str, int]:
    """`count` sessions: one in six waits for an approval, the rest complete after a few
    steps (reads, which fail without a sandbox). Returns a completed one and the waiting count."""
    from agentctl.protocol import CreateSession

    done = recording(
        folder,
        "done",
        [reply(f"step {i}", ("read_file", {"path": f"f{i}.txt"}), step=i) for i in range(4)]
        + [reply("all done")],
    )
    waits = recording(
        folder,
        "waits",
        [
            reply("reading", ("read_file", {"path": "a.txt"}), step=0),
            reply("writing", ("write_file", {"path": "notes.md", "content": "x\n"}), step=1),
            reply("all done"),
        ],
    )
    ids: list[tuple[str, bool]] = []
    for i in range(count):
        waiting = i % 6 == 5
        summary = client.create_session(
            CreateSession(
                task=f"bench task {i}: read the files and write the notes",
                model=waits if waiting else done,
                image="none",
                labels={"bench": "cli"},
            )
        )
        ids.append((summary.id, waiting))
    deadline = time.monotonic() + 120
    for session, waiting in ids:
        wanted = {"waiting"} if waiting else {"completed", "failed"}
        while client.session(session).status.value not in wanted:
            if time.monotonic() > deadline:
                raise SystemExit(f"session {session} did not reach {wanted}")
            time.sleep(0.05)
    return next(s for s, waiting in ids if not waiting), sum(w for _, w in ids)


def timed(command: list[str], env: dict[str, str], runs: int, *, tty: bool = False) -> list[float]:
    """Wall times of `command`, piped or (`tty`) on a 120x40 pseudo-terminal, as a person sees
    it (rich in colour); the terminal's output is read as it comes, so it never blocks."""
    times = []
    for _ in range(runs):
        if tty:
            import fcntl
            import pty
            import struct
            import termios

            main_fd, child_fd = pty.openpty()
            fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            started = time.perf_counter()
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=child_fd, stderr=child_fd
            )
            os.close(child_fd)
            while True:
                try:
                    if not os.read(main_fd, 65536):
                        break
                except OSError:  # EIO: the child side is closed
                    break
            code = process.wait()
            times.append((time.perf_counter() - started) * 1000)
            os.close(main_fd)
            error = ""
        else:
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, stdin=subprocess.DEVNULL)
            times.append((time.perf_counter() - started) * 1000)
            code, error = done.returncode, done.stderr.decode()[-500:]
        if code != 0:
            raise SystemExit(f"{command} exited {code}: {error}")
    return times


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sessions", type=int, default=36)
    options = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="agentctl-bench-cli-"))
    os.environ["AGENTCTL_HOME"] = str(home)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    from agentctl.paths import get_paths
    from tests.support.daemon import DaemonProcess

    paths = get_paths().ensure()
    daemon = DaemonProcess(paths, ["--log-level", "warning"], {}, home / "daemon.log")
    try:
        client = daemon.wait_ready(60)
        session, waiting = make_sessions(client, home, options.sessions)
        client.close()
        script = str(Path(sys.executable).parent / "agentctl")
        flags = [
            sys.executable,
            *(f"-X{k}" if v is True else f"-X{k}={v}" for k, v in sys._xoptions.items()),
        ]
        commands = {
            "--version": [script, "--version"],
            "--help": [script, "--help"],
            "ls": [script, "ls"],
            "show": [script, "show", session],
            "approvals": [script, "approvals"],
            "ls --json": [script, "ls", "--json"],
            "show --json": [script, "show", session, "--json"],
        }
        for command in commands.values():  # warm-up: the page cache, .pyc files
            timed(command, env, 2)
        # One run of each in turn, RUNS rounds: a burst of load on this shared machine
        # falls on all of them alike, the baseline included.
        plan: dict[str, tuple[list[str], bool]] = {
            "python -c pass": ([*flags, "-c", "pass"], False)
        }
        plan.update({name: (command, False) for name, command in commands.items()})
        plan.update({f"{n} (terminal)": (commands[n], True) for n in ("ls", "show", "approvals")})
        figures: dict[str, list[float]] = {name: [] for name in plan}
        for _ in range(options.runs):
            for name, (command, tty) in plan.items():
                figures[name] += timed(command, env, 1, tty=tty)
        baseline = figures.pop("python -c pass")
    finally:
        daemon.terminate()
        shutil.rmtree(home, ignore_errors=True)

    base = statistics.median(baseline)
    print(
        f"{options.sessions} sessions ({waiting} waiting for approval), {options.runs} runs each; "
        f"baseline `python -c pass`: median {base:.1f} ms, p90 {p90(baseline):.1f} ms",
        file=sys.stderr,
    )
    result: dict[str, float] = {"python_c_pass_ms": round(base, 1)}
    for name, times in figures.items():
        median = statistics.median(times)
        target = TARGETS_MS.get(name.removesuffix(" (terminal)"))
        verdict = (
            ""
            if target is None
            else (f"; target < {target} ms: {'met' if median < target else 'MISSED'}")
        )
        print(
            f"agentctl {name:<20} median {median:6.1f} ms  p90 {p90(times):6.1f} ms  "
            f"{median / base:4.1f}x python -c pass{verdict}",
            file=sys.stderr,
        )
        key = name.lstrip("-").replace(" --", "_").replace(" (terminal)", "_tty")
        result[key + "_ms"] = round(median, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
