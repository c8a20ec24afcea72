"""A second, private Docker engine for the tests: the engine of "another worker".

`SecondEngine.start()` runs a dockerd of its own beside the machine's: its
own --data-root, --exec-root (so its own containerd) and --pidfile, listening
only on `tcp://127.0.0.1:PORT` with `--tlsverify`. The certificates (a CA,
the server's for IP 127.0.0.1, a client's) are made with openssl in a temp
folder, which is what DOCKER_CERT_PATH points at (`ca.pem`, `cert.pem`,
`key.pem`, as docker.from_env and the docker CLI expect). It touches no
iptables rule (`--iptables=false`) and has a bridge of its own: a Linux
bridge made for it (`agc2-PORT`, a 10.213.x.1/24 address) and removed after.
Not `--bridge none`: a dockerd started with it deletes the interface
`docker0` (dockerd's removeDefaultBridgeInterface), the bridge of the
machine's engine, whose containers then cannot start on the bridge network.
Sandboxes run with `network = none` anyway.

`env()` is what a worker daemon on this engine gets: DOCKER_HOST,
DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH. `stop()` removes its containers,
stops it and removes its folders. It starts empty: no image, so anything a
session needs there comes through the registry.

dockerd missing is a failure (`make docker` installs it), never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import pytest

from sandboxes.engine import client_from_env
from tests.support.registry import free_port

MISSING = "dockerd is not installed: run `make docker`"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> None:
    """ca.pem, server-cert.pem/server-key.pem (IP 127.0.0.1) and cert.pem/key.pem (client)."""
    days = ["-days", "2"]
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem",
             "-out", "ca.pem", *days, "-subj", "/CN=agentctl-test-ca", cwd=folder)  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for key, cert, name, ext in (
        ("server-key.pem", "server-cert.pem", "127.0.0.1", "server.ext"),
        ("key.pem", "cert.pem", "agentctl-test-client", "client.ext"),
    ):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", "req.csr",
                 "-subj", f"/CN={name}", cwd=folder)  # fmt: skip
        _openssl("x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-out", cert, *days, "-extfile", ext, cwd=folder)  # fmt: skip
    (folder / "ca-key.pem").unlink()  # nobody signs anything else with it
    for key in ("server-key.pem", "key.pem"):
        os.chmod(folder / key, 0o600)


class SecondEngine:
    def __init__(self) -> None:
        self.dockerd = shutil.which("dockerd")
        if self.dockerd is None:
            pytest.fail(MISSING, pytrace=False)
        self.root = Path(tempfile.mkdtemp(prefix="agentctl-engine2-"))
        self.certs = self.root / "certs"
        self.port = free_port()
        self.host = f"tcp://127.0.0.1:{self.port}"
        self.log = self.root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_s = 0.0
        self.bridge = f"agc2-{self.port}"  # at most 15 characters, as Linux wants
        self.made_bridge = False

    def env(self) -> dict[str, str]:
        return {
            "DOCKER_HOST": self.host,
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(self.certs),
        }

    def client(self) -> docker.DockerClient:
        """A client as a worker makes it, from `env()` (sandboxes.engine.client_from_env)."""
        saved = {key: os.environ.get(key) for key in self.env()}
        os.environ.update(self.env())
        try:
            return client_from_env(timeout=120)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def start(self, timeout: float = 60.0) -> SecondEngine:
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()  # no dockerd, bridge or folder left behind by a failed start
            raise

    def _make_bridge(self) -> None:
        subnet = f"10.213.{self.port % 250}.1/24"
        for argv in (
            ["ip", "link", "add", "name", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", subnet, "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            subprocess.run(argv, check=True, capture_output=True, timeout=30)
            self.made_bridge = True

    def _start(self, timeout: float) -> SecondEngine:
        began = time.monotonic()
        self.certs.mkdir()
        make_certificates(self.certs)
        self._make_bridge()
        argv = [
            str(self.dockerd),
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"),
            "-H", self.host,
            "--tlsverify",
            "--tlscacert", str(self.certs / "ca.pem"),
            "--tlscert", str(self.certs / "server-cert.pem"),
            "--tlskey", str(self.certs / "server-key.pem"),
            "--bridge", self.bridge,
            "--iptables=false",
            "--ip-masq=false",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        while True:  # the client asks the engine's version as it is made: made in the loop
            if self.process.poll() is not None:
                raise RuntimeError(f"the second dockerd exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(Exception):
                client = self.client()
                try:
                    if client.ping():
                        break
                finally:
                    client.close()
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"the second dockerd did not answer on {self.host}")
            time.sleep(0.1)
        self.started_s = time.monotonic() - began
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                client = self.client()
                for container in client.containers.list(all=True):
                    container.remove(force=True)
                client.close()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        if self.made_bridge:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=30)
            self.made_bridge = False
        shutil.rmtree(self.root, ignore_errors=True)
