"""Bad arguments: exit 2 and one line naming the problem; help, version, completion, docs.

None of these needs a daemon, and none may start one: a usage error is found
before the client connects.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from agentctl.errors import ExitCode
from tests.support.cli import ROOT, Run, env, one_line

BAD = [
    (["run", "fix it", "--bogus"], "--bogus"),
    (["run"], "TASK"),
    (["run", "fix it", "--image", "none", "--network", "wifi"], "--network"),
    (["run", "fix it", "--image", "none", "--label", "team"], "--label"),
    (["run", "fix it", "--model", "replay:/no/such/file.jsonl"], "--model"),
    (["run", "fix it", "--image", "none", "--context-window", "10"], "--context-window"),
    (["approve", "apr_x", "--args", "{not json"], "--args"),
    (["deny", "apr_x"], "--reason"),
    (["ls", "--status", "sleeping"], "--status"),
    (["frobnicate"], "frobnicate"),
]


@pytest.fixture(scope="module")
def bad_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every bad command line, run at once (each is a fresh interpreter: ~1 s apiece)."""
    home = tmp_path_factory.mktemp("usage-home")
    processes = {
        " ".join(args): subprocess.Popen(
            [sys.executable, "-m", "agentctl", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(AGENTCTL_HOME=str(home)),
            cwd=ROOT,
        )
        for args, _ in BAD
    }
    results = {}
    for key, process in processes.items():
        stdout, stderr = process.communicate(timeout=60)
        results[key] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert not (home / "run").exists() or not any((home / "run").iterdir()), (
        "a usage error must not start a daemon"
    )
    return results


@pytest.mark.parametrize(("args", "names"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_exit_2_with_one_line_naming_the_problem(
    bad_runs: dict[str, subprocess.CompletedProcess[str]], args: list[str], names: str
) -> None:
    result = bad_runs[" ".join(args)]
    assert result.returncode == ExitCode.USAGE, result
    line = one_line(result.stderr)
    assert line.startswith("error: ")
    assert names in line
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_empty_stdin_for_the_task_is_a_usage_error(cli: Run) -> None:
    result = cli("run", "-", "--image", "none", input="  \n")
    assert result.returncode == ExitCode.USAGE
    assert "stdin was empty" in one_line(result.stderr)


def test_no_command_prints_the_help_on_stderr_and_exits_2(cli: Run) -> None:
    result = cli()
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    assert "Usage: agentctl" in result.stderr and "Exit codes" in result.stderr


def test_help_and_version(cli: Run) -> None:
    help_ = cli("--help")
    assert help_.returncode == 0
    for name in ("run", "resume", "fork", "attach", "ls", "show", "log", "tree", "approvals"):
        assert f"  {name} " in help_.stdout
    for name in ("approve", "deny", "cancel", "replay", "record", "tui", "daemon", "sandbox"):
        assert f"  {name} " in help_.stdout
    assert "  doctor " in help_.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("agentctl ")


def test_completion_scripts(cli: Run) -> None:
    shown = cli("--show-completion", "bash")
    assert shown.returncode == 0
    assert "_agentctl_completion" in shown.stdout and "complete " in shown.stdout
    sourced = cli(_AGENTCTL_COMPLETE="source_bash")
    assert sourced.returncode == 0
    assert "_agentctl_completion" in sourced.stdout
    words = cli(_AGENTCTL_COMPLETE="complete_bash", COMP_WORDS="agentctl appr", COMP_CWORD="1")
    assert words.stdout.split() == ["approvals", "approve"]


def test_docs_cli_md_is_current() -> None:
    """What `make docs-check` checks, so that `make test` catches a stale reference too."""
    generated = subprocess.run(
        [sys.executable, "scripts/gen_cli_docs.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "37"},  # the terminal must not matter
    ).stdout
    assert generated == (ROOT / "docs/cli.md").read_text(), "docs/cli.md is stale: run `make docs`"
