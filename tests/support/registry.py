"""A real image registry for the tests: Debian's `docker-registry`, a private port and folder.

`RegistryServer.start()` writes a config into a fresh folder under /tmp and
runs `docker-registry serve` on a free loopback port with its storage in that
folder; `stop()` ends it (the storage stays until `close()`), so a test can
stop the registry under a running session and start it again on the same
address with the same images. Docker talks plain HTTP to a registry on
127.0.0.0/8 without any configuration.

The registry missing is a failure, not a skip: `make registry` installs it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

MISSING = "the image registry is not installed (no docker-registry binary): run `make registry`"


def registry_bin() -> str:
    found = shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )
    if found is None:
        pytest.fail(MISSING, pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RegistryServer:
    def __init__(self) -> None:
        self.bin = registry_bin()
        self.root = Path(tempfile.mkdtemp(prefix="agentctl-registry-"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.root / "registry.log"
        (self.root / "config.yml").write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'storage'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n  secret: agentctl-tests\n"
        )

    def start(self, timeout: float = 30.0) -> RegistryServer:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.bin, "serve", str(self.root / "config.yml")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log.read_text()[-2000:]}")
            if self.answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not answer on {self.address}")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def tags(self, repository: str) -> list[str]:
        """The tags the registry holds for `repository` (none: [])."""
        try:
            with urllib.request.urlopen(
                f"http://{self.address}/v2/{repository}/tags/list", timeout=10
            ) as response:
                return sorted(json.loads(response.read()).get("tags") or [])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise

    def digest(self, repository: str, tag: str) -> str:
        """The digest of the manifest the registry holds under `repository:tag`."""
        request = urllib.request.Request(
            f"http://{self.address}/v2/{repository}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.headers["Docker-Content-Digest"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
