"""A real OpenSSH server for the tests: Debian's `sshd` on a private loopback port.

`SshServer.start()` makes a host key and a client key in a fresh folder,
writes an sshd config that lets only that client key in (as root, this
machine's user), and runs `sshd -D` on a free loopback port. `home` is a
folder to use as the client's HOME: its `.ssh/config` names the client key
for 127.0.0.1 and its `.ssh/known_hosts` holds the server's host key, so a
client (docker-py through paramiko) checks the host as it would anywhere.
The far side of `DOCKER_HOST=ssh://root@127.0.0.1:PORT` is this machine's own
engine, reached by `docker system dial-stdio` in the ssh session.

The server missing is a failure, not a skip: `make ssh` installs it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
MISSING = "the OpenSSH server is not installed (no /usr/sbin/sshd): run `make ssh`"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


class SshServer:
    def __init__(self) -> None:
        if not SSHD.exists() or shutil.which("ssh-keygen") is None:
            pytest.fail(MISSING, pytrace=False)
        self.root = Path(tempfile.mkdtemp(prefix="agentctl-sshd-"))
        self.port = _free_port()
        self.home = self.root / "home"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.root / "sshd.log"

    @property
    def docker_host(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> SshServer:
        root = self.root
        _keygen(root / "host_key")
        _keygen(root / "client_key")
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
            "UsePAM no\nStrictModes no\nAllowTcpForwarding no\nX11Forwarding no\n"
        )
        ssh = self.home / ".ssh"
        ssh.mkdir(parents=True)
        (ssh / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {root / 'client_key'}\n")
        host_key = (root / "host_key.pub").read_text().split()
        (ssh / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(root / "sshd_config")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not listen: {self.log.read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
