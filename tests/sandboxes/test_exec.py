"""Commands: output, exit codes, environment, timeouts, huge output."""

from __future__ import annotations

import time

import pytest

from sandboxes import Sandbox
from sandboxes.execution import DEFAULT_KEEP_CAP

pytestmark = pytest.mark.docker


def test_output_is_interleaved_and_exit_code_kept(shared_sandbox: Sandbox) -> None:
    # stdout and stderr are two pipes: their order holds when the writes are apart in time.
    result = shared_sandbox.exec("echo out; sleep 0.1; echo err >&2; sleep 0.1; echo out2; exit 3")
    assert result.exit_code == 3
    assert result.output == "out\nerr\nout2\n"
    assert not result.truncated and result.full_output is None and not result.timed_out
    assert result.duration_ms > 0


def test_runs_bash_as_the_user_in_the_workspace(shared_sandbox: Sandbox) -> None:
    result = shared_sandbox.exec("echo $0 $BASH_VERSION | cut -c1-4; pwd; whoami; echo $HOME $LANG")
    assert result.output.splitlines()[1:] == ["/workspace", "agent", "/home/agent C.UTF-8"]


def test_env_and_workdir(shared_sandbox: Sandbox) -> None:
    shared_sandbox.exec("mkdir -p sub")
    result = shared_sandbox.exec(
        "echo $GREETING; pwd", env={"GREETING": "hello"}, workdir="/workspace/sub"
    )
    assert result.output == "hello\n/workspace/sub\n"


def test_non_utf8_output_is_replaced(shared_sandbox: Sandbox) -> None:
    result = shared_sandbox.exec(r"printf 'ok \xff\xfe end'")
    assert result.output == "ok \ufffd\ufffd end"


def test_a_command_that_never_ends_times_out_quickly(shared_sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = shared_sandbox.exec("echo started; sleep 600", timeout_s=1)
    assert time.monotonic() - started < 4
    assert result.timed_out and result.exit_code is None
    assert result.output.startswith("started\n")
    assert "timed out after 1 s" in result.output
    assert "sleep 600" not in shared_sandbox.exec("ps -eo args").output


def test_background_leftovers_are_killed_when_the_call_ends(shared_sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = shared_sandbox.exec("sleep 300 >/dev/null 2>&1 & echo started")
    assert result.exit_code == 0 and time.monotonic() - started < 3
    assert "sleep 300" not in shared_sandbox.exec("ps -eo args").output
    # A process that leaves the group on purpose survives.
    shared_sandbox.exec("setsid sleep 300 </dev/null >/dev/null 2>&1 & sleep 0.3")
    assert "sleep 300" in shared_sandbox.exec("ps -eo args").output
    shared_sandbox.exec("pkill -f 'sleep 300'")


def test_output_is_capped_and_kept_whole_in_a_file(shared_sandbox: Sandbox) -> None:
    result = shared_sandbox.exec("seq 1 100000", output_cap=2000)
    assert result.truncated and result.full_output is not None
    try:
        assert len(result.output.encode()) <= 2000
        assert result.output.startswith("1\n2\n3\n")
        assert result.output.endswith("99999\n100000\n")
        expected = "".join(f"{i}\n" for i in range(1, 100_001))
        assert result.full_output.read_text() == expected
    finally:
        result.full_output.unlink()


def test_the_host_keeps_at_most_keep_cap_bytes_of_an_output(shared_sandbox: Sandbox) -> None:
    result = shared_sandbox.exec("head -c 50000000 /dev/zero | tr '\\0' 'a'", timeout_s=120)
    assert result.exit_code == 0 and result.truncated and result.full_output is not None
    try:
        assert result.full_output.stat().st_size == DEFAULT_KEEP_CAP == 16 * 1024 * 1024
        assert f"of 50000000; first {DEFAULT_KEEP_CAP} bytes in" in result.output
        tiny = shared_sandbox.exec("seq 1 100000", output_cap=1000, keep_cap=5000)
        assert (
            tiny.full_output is not None
            and tiny.full_output.read_bytes()
            == ("".join(f"{i}\n" for i in range(1, 100001)).encode()[:5000])
        )
        tiny.full_output.unlink()
    finally:
        result.full_output.unlink()


def test_100_mb_of_output_streams_to_disk(shared_sandbox: Sandbox) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = shared_sandbox.exec(
        "head -c 100000000 /dev/zero | tr '\\0' 'a'", timeout_s=120, keep_cap=None
    )
    elapsed = time.monotonic() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.exit_code == 0 and result.truncated and result.full_output is not None
    try:
        assert result.full_output.stat().st_size == 100_000_000
        assert len(result.output.encode()) <= 64_000
        assert elapsed < 60
        assert grown_mb < 50, f"max RSS grew by {grown_mb:.0f} MB"
    finally:
        result.full_output.unlink()
