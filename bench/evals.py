"""Eval throughput with recordings: cases per minute, against plain `agentctl run` sessions.

In a temporary AGENTCTL_HOME (a daemon started on demand, real Docker
sandboxes), the demo's recording (6 model steps, 6 tool calls, in the demo
workspace, the permissive policy so nothing waits for a person) is run N times:

- baseline: N `agentctl run` commands one after another (each a process that
  creates the session and follows it to its end), as a script would do;
- `agentctl eval` with no grader but the final status, `--parallel 1`: the
  same sessions, made and followed by the eval runner;
- `agentctl eval` with the smoke suite's graders (a command run in a fork of
  the session's sandbox, a file read, two tool patterns), `--parallel 1`
  and `--parallel 2`.

Each figure is N over the wall time of the whole command(s), in cases per
minute, and its ratio to the baseline measured in the same run.

    .venv/bin/python bench/evals.py [N]

The last stdout line is one JSON object of the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # bench/store.py would shadow the `store` package
AGENTCTL = [sys.executable, "-m", "agentctl"]
TASK = "The tests of the project in the workspace fail. Find out why and fix it."
DEMO = ROOT / "recordings" / "demo.jsonl"
WORKSPACE = ROOT / "recordings" / "demo" / "workspace"

GRADERS = """
[[case.grade]]
kind = "command"
command = "python3 -m unittest"

[[case.grade]]
kind = "file"
path = "stats.py"
contains = "return sum(values) / len(values)"

[[case.grade]]
kind = "tool"
tool = "edit_file"
args = '"path":"stats\\.py"'

[[case.grade]]
kind = "tool"
tool = "write_file"
present = false
"""


def suite(folder: Path, name: str, graders: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(
        f'[[case]]\nname = "demo"\ntask = "{TASK}"\nmodel = "replay:{DEMO}"\n'
        f'workspace = "{WORKSPACE}"\npolicy = "permissive"\n{graders}'
    )
    return path


def timed(commands: list[list[str]]) -> float:
    started = time.monotonic()
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return time.monotonic() - started


def eval_run(path: Path, n: int, parallel: int) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [*AGENTCTL, "eval", str(path), "--repeat", str(n), "--parallel", str(parallel),
         "--json", "--min-pass-rate", "1"],
        capture_output=True, text=True, cwd=ROOT, timeout=1800,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"eval of {path} exited {done.returncode}:\n{done.stderr}")
    assert json.loads(done.stdout)["overall"]["passed"] == n
    return wall


def cleanup() -> None:
    """This home's sessions: their containers and checkpoint images (nothing else)."""
    from agentctl.client import Client
    from agentctl.paths import get_paths
    from sandboxes import DockerSandboxDriver

    driver = DockerSandboxDriver()
    with Client(get_paths().socket) as client:
        for session in client.sessions():
            driver.remove_stream(session.id)
            for checkpoint in driver.list_checkpoints(session.id):
                driver.client.images.remove(checkpoint.image, force=True)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    with tempfile.TemporaryDirectory(prefix="agentctl-bench-evals-") as tmp:
        os.environ["AGENTCTL_HOME"] = str(Path(tmp) / "home")
        folder = Path(tmp)
        try:
            subprocess.run([*AGENTCTL, "daemon", "start"], check=True, capture_output=True)
            # one warm-up run: the image and the daemon's first session are not measured
            timed([[*AGENTCTL, "run", TASK, "--model", f"replay:{DEMO}",
                    "--workspace", str(WORKSPACE), "--policy", "permissive", "--json"]])  # fmt: skip
            runs = [
                [*AGENTCTL, "run", TASK, "--model", f"replay:{DEMO}",
                 "--workspace", str(WORKSPACE), "--policy", "permissive", "--json"]
                for _ in range(n)
            ]  # fmt: skip
            walls = {
                "baseline_run": timed(runs),
                "eval_status_p1": eval_run(suite(folder, "status", ""), n, 1),
                "eval_graded_p1": eval_run(suite(folder, "graded", GRADERS), n, 1),
                "eval_graded_p2": eval_run(suite(folder, "graded", GRADERS), n, 2),
            }
        finally:
            try:
                cleanup()
            finally:
                subprocess.run([*AGENTCTL, "daemon", "stop"], capture_output=True)
    per_minute = {name: n * 60.0 / wall for name, wall in walls.items()}
    base = per_minute["baseline_run"]
    print(f"{n} cases each (the demo's 6 steps, real sandboxes, {os.cpu_count()} cores)")
    for name, rate in per_minute.items():
        print(f"  {name:16} {walls[name]:7.1f} s  {rate:6.1f} cases/min  x{rate / base:.2f}")
    figures = {
        "cases": n,
        **{f"{k}_per_min": round(v, 2) for k, v in per_minute.items()},
        **{f"{k}_ratio": round(v / base, 3) for k, v in per_minute.items() if k != "baseline_run"},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
