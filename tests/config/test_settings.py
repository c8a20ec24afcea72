"""config.toml as one settings model: one load, environment overrides, errors that name
the key, and each table a failure domain of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentctl.config import CORE, Config, load_config
from agentctl.daemon.server import configured_token
from agentctl.errors import UsageError
from agentctl.paths import get_paths
from agentctl.workspace.instructions import instruction_names


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_no_file_is_the_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.toml", {}, sections=())
    assert config.model_dump() == Config().model_dump()
    assert config.guards.repeat_limit == 5 and config.instructions.files == ("AGENTS.md",)
    assert config.notify.enabled is False and config.daemon.token is None


def test_every_table_is_read_from_one_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [budget]
        max_steps = 7
        [daemon]
        token = 1234
        [otel]
        enabled = true
        exporter = "console"
        [instructions]
        files = ["AGENTS.md", "CONVENTIONS.md"]
        [notify]
        url = "https://hooks.example.com/a"
        backoff = "5s"
        timeout = 3
        events = ["session.failed"]
        [some_future_table]
        anything = 1
        """.replace("\n        ", "\n"),
    )
    config = load_config(path, {}).check()
    assert config.budget.max_steps == 7
    assert config.daemon.token == "1234"  # a number is a token too, as text
    assert (config.otel.enabled, config.otel.exporter) == (True, "console")
    assert config.instructions.files == ("AGENTS.md", "CONVENTIONS.md")
    notify = config.notify
    assert (notify.backoff_s, notify.timeout_s, notify.events) == (
        5.0,
        3.0,
        frozenset({"session.failed"}),
    )
    assert notify.enabled and config.problems == {}


def test_the_environment_overrides_the_token_when_not_empty(tmp_path: Path) -> None:
    path = write(tmp_path, '[daemon]\ntoken = "from-file"\n')
    assert load_config(path, {}).daemon.token == "from-file"
    assert load_config(path, {"AGENTCTL_TOKEN": "from-env"}).daemon.token == "from-env"
    assert load_config(path, {"AGENTCTL_TOKEN": ""}).daemon.token == "from-file"
    assert load_config(tmp_path / "none.toml", {"AGENTCTL_TOKEN": "t"}).daemon.token == "t"
    # the env override merges into the table: the rest of the file stays
    path.write_text('[daemon]\ntoken = "f"\n[budget]\nmax_steps = 3\n')
    assert load_config(path, {"AGENTCTL_TOKEN": "e"}).budget.max_steps == 3


def test_the_daemon_reads_its_token_through_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = get_paths().ensure()
    paths.config_file.write_text('[daemon]\ntoken = "file-token"\n')
    monkeypatch.delenv("AGENTCTL_TOKEN", raising=False)
    assert configured_token(paths) == "file-token"
    monkeypatch.setenv("AGENTCTL_TOKEN", "env-token")
    assert configured_token(paths) == "env-token"


def test_every_mistake_of_a_table_is_named_by_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[budget]\nmax_stpes = 3\nmax_tokens = 0\n")
    with pytest.raises(UsageError) as caught:
        load_config(path, {})
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "budget.max_stpes: Extra inputs are not permitted" in message
    assert "budget.max_tokens: Input should be greater than or equal to 1" in message
    assert "docs/providers.md" in message


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[budget\n")
    with pytest.raises(UsageError, match=r"is not valid TOML: .*line 1"):
        load_config(path, {}, sections=())


def test_a_bad_table_costs_only_those_who_use_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[budget]\nmax_steps = 9\n[notify]\ncommand = "notify-send hi"\nretries = 99\n'
        '[instructions]\nfiles = ["../etc/passwd"]\n',
    )
    config = load_config(path, {})  # the tables a session is made with are fine
    assert config.budget.max_steps == 9
    assert set(config.problems) == {"notify", "instructions"}
    with pytest.raises(UsageError) as caught:
        config.check("notify")
    assert "notify.command: command must be a list of strings" in str(caught.value)
    assert "notify.retries: retries must be a whole number from 0 to 20" in str(caught.value)
    assert "docs/triggers.md" in str(caught.value)
    with pytest.raises(UsageError, match=r"'\.\./etc/passwd' is not a file name in the workspace"):
        instruction_names(config)
    # the bad table is kept aside, not used with its mistakes dropped
    assert config.notify.command == () and config.notify.retries == 4


def test_a_bad_core_table_refuses_what_sessions_are_made_with(tmp_path: Path) -> None:
    path = write(tmp_path, '[guards]\nrepeat_limit = -1\n[notify]\nurl = "https://x.example"\n')
    with pytest.raises(UsageError, match=r"guards\.repeat_limit"):
        load_config(path, {})
    assert load_config(path, {}, sections=("notify",)).notify.url == "https://x.example"
    assert "guards" in CORE and "notify" not in CORE


def test_a_wrong_type_for_a_whole_table_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "tui = 3\n")
    with pytest.raises(UsageError, match=r"tui: Input should be a valid dictionary"):
        load_config(path, {})


def test_doctor_reports_every_bad_table(tmp_path: Path) -> None:
    from agentctl.cli.doctor import _config, _Context

    paths = get_paths().ensure()
    paths.config_file.write_text('[budget]\nmax_steps = 0\n[notify]\nurl = "ftp://x"\n')
    check = _config(_Context(paths=paths))
    assert check.status == "fail"
    assert "budget.max_steps" in check.detail and "notify.url" in check.detail


def test_the_sandbox_registry_is_host_port_from_the_file_or_the_environment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[sandbox]\nregistry = "registry.example:5000"\n')
    loaded = load_config(path, {}, sections=("sandbox",))
    assert loaded.sandbox.registry == "registry.example:5000"
    env = {"AGENTCTL_SANDBOX_REGISTRY": "127.0.0.1:5001"}
    assert load_config(path, env, sections=("sandbox",)).sandbox.registry == "127.0.0.1:5001"
    assert load_config(tmp_path / "none.toml", {}, sections=("sandbox",)).sandbox.registry is None
    for bad in ("http://registry.example:5000", "registry.example", "h:5000/path", 5000):
        path.write_text(f"[sandbox]\nregistry = {json.dumps(bad)}\n")
        with pytest.raises(UsageError, match=r"sandbox\.registry: registry must be host:port"):
            load_config(path, {}, sections=("sandbox",))
        assert load_config(path, {}).sandbox.registry is None  # a session is still made
    path.write_text('[sandbox]\nregistri = "x:1"\n')
    with pytest.raises(UsageError, match=r"sandbox\.registri"):
        load_config(path, {}, sections=("sandbox",))
