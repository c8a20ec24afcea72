"""Where agentctl keeps things (docs/design.md §2).

platformdirs gives the per-user data, config, state and runtime folders;
`AGENTCTL_HOME` puts all of them under one folder, which is how tests and
several side-by-side instances stay apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "agentctl"


@dataclass(frozen=True)
class Paths:
    data: Path
    config: Path
    state: Path
    runtime: Path

    @property
    def database(self) -> Path:
        return self.data / "events.duckdb"

    @property
    def lock(self) -> Path:
        return self.data / "events.duckdb.lock"

    @property
    def artifacts(self) -> Path:
        return self.data / "artifacts"

    @property
    def socket(self) -> Path:
        return self.runtime / "agentctl.sock"

    @property
    def pidfile(self) -> Path:
        return self.runtime / "daemon.pid"

    @property
    def daemon_log(self) -> Path:
        return self.state / "daemon.log"

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"

    @property
    def policy_file(self) -> Path:
        return self.config / "policy.toml"

    def ensure(self) -> Paths:
        """Create the folders, private to the user: the log holds everything the agents saw,
        so the folders are 0700 and the files agentctl keeps in them 0600."""
        for folder in (self.data, self.config, self.state, self.artifacts, self.runtime):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            _tighten(folder, 0o700)
        for name in ("events.duckdb", "events.duckdb.wal", "events.duckdb.lock"):
            _tighten(self.data / name, 0o600)
        _tighten(self.config_file, 0o600)
        _tighten(self.policy_file, 0o600)
        if not self.daemon_log.exists():  # created here, so whoever appends first finds it private
            os.close(os.open(self.daemon_log, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
        for log in self.state.glob("daemon.log*"):
            _tighten(log, 0o600)
        return self


def _tighten(path: Path, mode: int) -> None:
    """chmod what we own and is looser than `mode`; leave alone what is not ours or not there."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and not path.is_symlink() and info.st_mode & 0o777 & ~mode:
        path.chmod(mode)


def _short_runtime(home: Path) -> Path:
    # A Unix socket path is limited to ~107 bytes; deep temp dirs overflow it.
    candidate = home / "run"
    if len(str(candidate / "agentctl.sock")) < 100:
        return candidate
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(home).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"agentctl-{os.getuid()}-{digest}"


def get_paths() -> Paths:
    home = os.environ.get("AGENTCTL_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(
            data=root / "data",
            config=root / "config",
            state=root / "state",
            runtime=_short_runtime(root),
        )
    runtime = platformdirs.user_runtime_dir(APP, ensure_exists=False)
    return Paths(
        data=Path(platformdirs.user_data_dir(APP)),
        config=Path(platformdirs.user_config_dir(APP)),
        state=Path(platformdirs.user_state_dir(APP)),
        runtime=Path(runtime),
    )
