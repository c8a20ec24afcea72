"""The security defaults of a sandbox, each proved against the real engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

from sandboxes import DockerSandboxDriver, Sandbox, SandboxSpec

pytestmark = pytest.mark.docker


class Limits(TypedDict):
    memory_mb: int
    cpus: float
    pids: int


LIMITS = Limits(memory_mb=192, cpus=0.5, pids=96)


@pytest.fixture(scope="module")
def limited(driver: DockerSandboxDriver, default_image: str) -> Iterator[Sandbox]:
    stream = "ses_SECURITY" + str(time.time_ns())[-10:]
    sandbox = driver.create(stream, SandboxSpec(image=default_image, **LIMITS))
    yield sandbox
    driver.remove_stream(stream)


def host_config(driver: DockerSandboxDriver, sandbox: Sandbox) -> dict[str, Any]:
    config: dict[str, Any] = driver.api.inspect_container(sandbox.container_id)["HostConfig"]
    return config


def test_host_config_is_locked_down(driver: DockerSandboxDriver, limited: Sandbox) -> None:
    config = host_config(driver, limited)
    assert config["NetworkMode"] == "none"
    assert config["CapDrop"] == ["ALL"]
    assert not config.get("CapAdd")
    assert config["SecurityOpt"] == ["no-new-privileges"]
    assert config["Privileged"] is False
    assert config["PidsLimit"] == 96
    assert config["Memory"] == 192 * 1024 * 1024
    assert config["MemorySwap"] == config["Memory"]  # no swap
    assert config["NanoCpus"] == 500_000_000
    assert config["Init"] is True
    assert not config.get("Binds")


def test_no_network(limited: Sandbox) -> None:
    result = limited.exec(
        "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), timeout=3)'"
    )
    assert result.exit_code != 0
    assert "unreachable" in result.output.lower() or "error" in result.output.lower()
    result = limited.exec("python3 -c 'import socket; socket.getaddrinfo(\"debian.org\", 80)'")
    assert result.exit_code != 0
    assert limited.exec("cat /sys/class/net/*/operstate; ls /sys/class/net").output.split() == [
        "unknown",
        "lo",
    ]


def test_runs_as_an_unprivileged_user(limited: Sandbox) -> None:
    result = limited.exec("id -u; id -un; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
    lines = result.output.split("\n")
    assert lines[0] == "1000" and lines[1] == "agent"
    assert "CapEff:\t0000000000000000" in result.output
    assert "NoNewPrivs:\t1" in result.output
    assert limited.exec("touch /etc/evil").exit_code != 0
    # init is not root either, and not the agent: see test_the_agent_cannot_touch_init
    assert limited.exec("cat /proc/1/status | grep -E '^Uid'").output.split()[1] == "65534"


def test_the_agent_cannot_touch_init(limited: Sandbox) -> None:
    """init runs under another uid: the agent can neither stop it nor trace it.

    A stopped init reaps no zombies, and they would fill the session's pids limit.
    """
    stop = limited.exec("kill -STOP 1; echo rc=$?")
    assert "rc=1" in stop.output and "not permitted" in stop.output
    trace = limited.exec(
        "python3 -c 'import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
        "r = libc.ptrace(16, 1, 0, 0); print(r, os.strerror(ctypes.get_errno()))'"
    )
    assert trace.output.strip() == "-1 Operation not permitted"
    assert limited.exec("grep State /proc/1/status").output.split()[1] in ("S", "R")
    # the agent's own commands still run, as the agent
    assert limited.exec("id -u").output.strip() == "1000"


def test_no_host_paths_and_no_docker_socket(driver: DockerSandboxDriver, limited: Sandbox) -> None:
    assert driver.api.inspect_container(limited.container_id)["Mounts"] == []
    result = limited.exec("ls -la /var/run/docker.sock /run/docker.sock 2>&1; echo $?")
    assert result.output.strip().endswith("2")
    assert "No such file" in result.output


def test_a_fork_bomb_is_contained(driver: DockerSandboxDriver, limited: Sandbox) -> None:
    started = time.monotonic()
    result = limited.exec(":(){ :|:& };:", timeout_s=10)
    assert time.monotonic() - started < 15
    assert result.exit_code is not None or result.timed_out
    driver.ping()  # the engine answers
    assert limited.exec("echo still here").output == "still here\n"  # the bomb was cleared
    assert int(limited.exec("ps -e --no-headers | wc -l").output) < 10


def test_a_memory_bomb_ends_in_the_oom_killer(limited: Sandbox) -> None:
    started = time.monotonic()
    result = limited.exec(
        "python3 -c 'chunks = []\nwhile True: chunks.append(bytearray(10**7))'", timeout_s=60
    )
    assert time.monotonic() - started < 30
    assert result.exit_code == 137
    assert result.oom_killed
    assert not result.timed_out
    assert result.output.rstrip().endswith("[killed: out of memory]")
    assert limited.exec("echo ok").output == "ok\n"
    # A plain kill -9 is not mistaken for the OOM killer.
    killed = limited.exec("kill -9 $$")
    assert killed.exit_code == 137 and not killed.oom_killed


def test_cpu_is_limited(limited: Sandbox) -> None:
    """Two busy loops on a 0.5-CPU sandbox get about half a CPU between them."""
    # CPU time used by the container's cgroup, in ns: cgroup v1 (cpuacct) or v2 (cpu.stat).
    usage = (
        "if [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then cat /sys/fs/cgroup/cpuacct/cpuacct.usage; "
        "else echo $(( $(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/cpu.stat) * 1000 )); fi"
    )
    script = (
        f"u0=$({usage}); t0=$(date +%s%N); "
        "for i in 1 2; do timeout 1.5 sh -c 'while :; do :; done' & done; wait; "
        f"u1=$({usage}); t1=$(date +%s%N); "
        "echo $(( (u1 - u0) * 1000 / (t1 - t0) ))"
    )
    result = limited.exec(script)
    assert result.exit_code == 0, f"cannot read the container's CPU usage: {result.output}"
    per_mille = int(result.output)
    assert per_mille < 650, f"{per_mille / 1000:.2f} CPUs used under a 0.5 CPU limit"


def test_zombies_are_reaped(limited: Sandbox) -> None:
    assert limited.exec("cat /proc/1/comm").output.strip() == "docker-init"
    # An orphan (its parent gone, outside the call's process group) ends later.
    limited.exec("setsid sh -c 'sleep 0.2 & exit 0' </dev/null >/dev/null 2>&1")
    time.sleep(0.6)
    zombies = limited.exec("ps -eo stat= | grep -c '^Z' || true")
    assert zombies.output.strip() == "0"


def test_network_can_be_allowed(
    driver: DockerSandboxDriver, default_image: str, new_stream: Callable[[], str]
) -> None:
    sandbox = driver.create(new_stream(), SandboxSpec(image=default_image, network="bridge"))
    assert host_config(driver, sandbox)["NetworkMode"] == "bridge"
    assert "eth0" in sandbox.exec("ls /sys/class/net").output


def test_workspace_is_copied_not_mounted(
    driver: DockerSandboxDriver, default_image: str, new_stream: Callable[[], str], tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('hi')\n")
    (tmp_path / "README").write_text("readme\n")
    sandbox = driver.create(new_stream(), SandboxSpec(image=default_image, workspace=tmp_path))
    assert driver.api.inspect_container(sandbox.container_id)["Mounts"] == []
    assert sandbox.read_file("src/main.py") == "print('hi')\n"
    owners = sandbox.exec("stat -c %U README src src/main.py .").output.split()
    assert owners == ["agent"] * 4
    sandbox.write_file("README", "changed inside\n")
    sandbox.write_file("new.txt", "new\n")
    assert sandbox.exec("python3 src/main.py").output == "hi\n"
    assert (tmp_path / "README").read_text() == "readme\n"
    assert not (tmp_path / "new.txt").exists()


def test_workspace_can_be_mounted_when_asked(
    driver: DockerSandboxDriver, default_image: str, new_stream: Callable[[], str], tmp_path: Path
) -> None:
    tmp_path.chmod(0o777)  # the sandbox user (uid 1000) writes into the host folder
    (tmp_path / "README").write_text("readme\n")
    spec = SandboxSpec(image=default_image, workspace=tmp_path, mount_workspace=True)
    sandbox = driver.create(new_stream(), spec)
    mounts = driver.api.inspect_container(sandbox.container_id)["Mounts"]
    assert [(m["Source"], m["Destination"]) for m in mounts] == [
        (str(tmp_path.resolve()), "/workspace")
    ]
    assert sandbox.read_file("README") == "readme\n"
    sandbox.write_file("from-inside.txt", "hello host\n")
    assert (tmp_path / "from-inside.txt").read_text() == "hello host\n"
