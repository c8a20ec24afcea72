"""Worker daemons for the multi-daemon tests: each on a home of its own, one shared store URL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agentctl.client import Client
from agentctl.paths import Paths, get_paths
from tests.support.daemon import DaemonProcess

Spawn = Callable[..., tuple[DaemonProcess, Client]]


def worker_home(root: Path, name: str, config: str) -> Paths:
    """The folders of a home `root/name` (made), its config.toml holding `config`."""
    home = root / name
    previous = os.environ.get("AGENTCTL_HOME")
    os.environ["AGENTCTL_HOME"] = str(home)
    try:
        paths = get_paths().ensure()
    finally:
        if previous is None:
            del os.environ["AGENTCTL_HOME"]
        else:
            os.environ["AGENTCTL_HOME"] = previous
    paths.config_file.write_text(config)
    return paths


@contextmanager
def workers(root: Path, lease_s: float, base: str = "") -> Iterator[Spawn]:
    """`spawn(name, url, env=None, config="")`: a daemon on home `name` and the store at `url`,
    with `[daemon] lease_s`, then `base`, then `config` in its config; all killed after."""
    started: list[tuple[DaemonProcess, Client]] = []

    def spawn(
        name: str, url: str, env: dict[str, str] | None = None, config: str = ""
    ) -> tuple[DaemonProcess, Client]:
        text = f"[daemon]\nlease_s = {lease_s}\n{base}{config}"
        paths = worker_home(root, name, text)
        process = DaemonProcess(
            paths,
            [],
            {"AGENTCTL_HOME": str(root / name), "AGENTCTL_STORE_URL": url, **(env or {})},
            root / f"{name}-{len(started)}.out",
        )
        client = process.wait_ready(timeout=60)
        started.append((process, client))
        return process, client

    try:
        yield spawn
    finally:
        for process, client in started:
            client.close()
            process.kill()
