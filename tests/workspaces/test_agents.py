"""AGENTS.md in the model's request, agent profiles, and the hash of what shapes an agent.

The model is a real HTTP server on loopback (tests/providers/fake_server.py)
speaking the OpenAI Chat Completions API: what it received is what the
model would have read.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentctl.client import Client
from agentctl.mcp.config import ServerConfig, ServerStore
from agentctl.paths import Paths
from agentctl.protocol import CreateSession
from tests.providers.fake_server import FakeModelServer, Reply, openai_completion
from tests.support.daemon import wait_status

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def fake() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    server.start()
    yield server
    server.stop()


def created_of(client: Client, sid: str) -> dict[str, Any]:
    first = next(iter(client.events(sid)))
    assert first.type == "session.created"
    return first.data


@pytest.mark.docker
def test_agents_md_reaches_the_model_request_and_the_log(
    daemon: Client, fake: FakeModelServer, paths: Paths, tmp_path: Path, sessions_cleanup: list[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "AGENTS.md").write_text("Run the tests with `make test`. MARKER-AGENTS\n\x1b[2J")
    (project / "CONVENTIONS.md").write_text("Use tabs. MARKER-CONVENTIONS\n")
    (project / "IGNORED.md").write_text("MARKER-IGNORED\n")
    paths.config_file.write_text('[instructions]\nfiles = ["AGENTS.md", "CONVENTIONS.md"]\n')
    fake.script(Reply.json(openai_completion("done")))
    req = CreateSession(
        task="fix it", model="openai:test-model", base_url=fake.url + "/v1", workspace=str(project)
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "completed", "failed", "paused", timeout=120) == "completed"
    (request,) = fake.requests
    system = request.body["messages"][0]
    assert system["role"] == "system"
    assert "MARKER-AGENTS" in system["content"] and "MARKER-CONVENTIONS" in system["content"]
    assert system["content"].index("MARKER-AGENTS") < system["content"].index("MARKER-CONVENTIONS")
    assert "MARKER-IGNORED" not in system["content"]
    created = created_of(daemon, sid)
    assert [i["file"] for i in created["instructions"]] == ["AGENTS.md", "CONVENTIONS.md"]
    assert "MARKER-AGENTS" in created["instructions"][0]["text"]
    assert created["system"] == system["content"]


@pytest.mark.docker
def test_a_symlinked_agents_md_is_not_read(
    daemon: Client, fake: FakeModelServer, tmp_path: Path, sessions_cleanup: list[str]
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("HOST-SECRET\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "AGENTS.md").symlink_to(secret)
    fake.script(Reply.json(openai_completion("done")))
    req = CreateSession(
        task="x", model="openai:test-model", base_url=fake.url + "/v1", workspace=str(project)
    )
    sid = daemon.create_session(req).id
    sessions_cleanup.append(sid)
    assert wait_status(daemon, sid, "completed", "failed", "paused", timeout=120) == "completed"
    assert "HOST-SECRET" not in json.dumps(fake.requests[0].body)
    assert created_of(daemon, sid)["instructions"] == []


# --- profiles -----------------------------------------------------------------------


BASE = """
description = "fixes bugs"
instructions = "You fix bugs. Be brief."
model = "openai:test-model"
base_url = "http://127.0.0.1:9/v1"
policy = "default"
image = "none"
tools = ["read_file", "list_files"]
labels = {team = "core"}

[budget]
max_steps = 5
"""


def profile_hash(daemon: Client, paths: Paths, text: str, **options: Any) -> dict[str, Any]:
    agents = paths.config / "agents"
    agents.mkdir(exist_ok=True)
    (agents / "fixer.toml").write_text(text)
    sid = daemon.create_session(CreateSession(task="t", agent="fixer", **options)).id
    daemon.cancel(sid)
    return created_of(daemon, sid)


def test_profile_hash_changes_when_and_only_when_behaviour_changes(
    daemon: Client, paths: Paths
) -> None:
    base = profile_hash(daemon, paths, BASE)
    assert base["agent"]["name"] == "fixer"
    assert base["agent"]["source"] == str(paths.config / "agents" / "fixer.toml")
    assert base["model"] == "openai:test-model" and base["tools"] == ["read_file", "list_files"]
    assert base["labels"] == {"team": "core"} and base["budget"]["max_steps"] == 5
    assert "You fix bugs. Be brief." in base["system"]
    same = [
        BASE.replace("fixes bugs", "a new description"),
        BASE.replace('team = "core"', 'team = "other"'),
        BASE.replace("max_steps = 5", "max_steps = 50"),
        "# a comment changes nothing\n" + BASE,
    ]
    for text in same:
        assert profile_hash(daemon, paths, text)["agent"]["hash"] == base["agent"]["hash"], text
    changed = [
        BASE.replace("Be brief.", "Be thorough."),
        BASE.replace('tools = ["read_file", "list_files"]', 'tools = ["read_file"]'),
        BASE.replace('policy = "default"', 'policy = "strict"'),
        BASE.replace("openai:test-model", "openai:other-model"),
    ]
    hashes = {base["agent"]["hash"]}
    for text in changed:
        hashes.add(profile_hash(daemon, paths, text)["agent"]["hash"])
    assert len(hashes) == 1 + len(changed)


def test_options_override_the_profile(daemon: Client, paths: Paths) -> None:
    created = profile_hash(
        daemon, paths, BASE, model="openai:override", labels={"team": "cli", "x": "1"}
    )
    assert created["model"] == "openai:override"
    assert created["labels"] == {"team": "cli", "x": "1"}
    assert created["tools"] == ["read_file", "list_files"]  # not overridden: the profile's


def test_a_bad_profile_is_a_usage_error_that_loses_nothing(
    daemon: Client, paths: Paths, cli: Cli
) -> None:
    agents = paths.config / "agents"
    agents.mkdir()
    (agents / "typo.toml").write_text('modle = "openai:x"\n')
    (agents / "fixer.toml").write_text(BASE)
    done = cli("run", "t", "--agent", "typo", "--detach")
    assert done.returncode == 2 and "modle" in done.stderr
    missing = cli("run", "t", "--agent", "nobody", "--detach")
    assert missing.returncode == 2 and "known agents: fixer, typo" in missing.stderr
    assert "no agent 'nobody'" in missing.stderr
    assert daemon.sessions() == []
    listed = cli("agents", "ls")
    assert "fixer" in listed.stdout and "fixes bugs" in listed.stdout
    assert "typo" in listed.stdout and "modle" in listed.stdout  # listed, with its error
    shown = cli("agents", "show", "fixer")
    assert "You fix bugs." in shown.stdout


def test_ls_and_stats_group_sessions_by_agent(daemon: Client, paths: Paths, cli: Cli) -> None:
    first = profile_hash(daemon, paths, BASE)["agent"]["hash"]
    profile_hash(daemon, paths, BASE.replace("fixes bugs", "same behaviour"))
    second = profile_hash(daemon, paths, BASE.replace("Be brief.", "Be thorough."))["agent"]["hash"]
    daemon.cancel(daemon.create_session(CreateSession(task="no agent", image="none")).id)
    groups = json.loads(cli("ls", "--by-agent", "--json").stdout)
    assert {(g["agent"], g["hash"], g["sessions"]) for g in groups} == {
        ("fixer", first, 2),
        ("fixer", second, 1),
        ("-", groups[-1]["hash"], 1),
    }
    only = json.loads(cli("ls", "--agent", second.removeprefix("sha256:")[:10], "--json").stdout)
    assert len(only) == 1 and only[0]["agent_hash"] == second
    stats = json.loads(cli("stats", "--json").stdout)
    assert [(a["agent"], a["sessions"]) for a in stats["agents"]] == [
        ("fixer", 2),
        ("fixer", 1),
        ("-", 1),
    ]


@pytest.mark.docker
def test_a_profile_recipe_not_built_is_a_usage_error_naming_sandbox_build_recipe(
    daemon: Client, paths: Paths, cli: Cli, docker_client: object, tmp_path: Path
) -> None:
    recipe = paths.config / "agents" / "images" / "mine"
    recipe.mkdir(parents=True)
    for name in ("Dockerfile", "recipe.toml"):
        source = Path(__file__).resolve().parents[2] / "sandboxes" / "images" / "default" / name
        (recipe / name).write_text(source.read_text() + "\n# never built\n")
    (paths.config / "agents" / "custom.toml").write_text('recipe = "images/mine"\n')
    done = cli("run", "t", "--agent", "custom", "--detach")
    assert done.returncode == 2, done.stderr
    assert f"agentctl sandbox build --recipe {recipe}" in done.stderr
    assert "agentctl-mine:" in done.stderr
    assert daemon.sessions() == []


def test_sandbox_build_recipe_needs_a_recipe_folder(cli: Cli, tmp_path: Path) -> None:
    done = cli("sandbox", "build", "--recipe", str(tmp_path))
    assert done.returncode == 2 and "has no Dockerfile" in done.stderr


def test_the_hash_counts_the_mcp_servers_a_profile_gets_but_not_their_secrets(
    daemon: Client, paths: Paths
) -> None:
    store = ServerStore(paths.config)
    store.add(ServerConfig(name="a", command=["node", "a.js"], scope="host", env={"T": "one"}))
    store.add(ServerConfig(name="b", url="http://127.0.0.1:9/mcp", headers={"X": "k"}))
    with_a = BASE.replace("[budget]", 'mcp = ["a"]\n\n[budget]')
    first = profile_hash(daemon, paths, with_a)["agent"]["hash"]
    assert (
        profile_hash(daemon, paths, with_a.replace('["a"]', '["a", "b"]'))["agent"]["hash"] != first
    )
    store.add(
        ServerConfig(name="a", command=["node", "a.js"], scope="host", env={"T": "two"}),
        replace=True,
    )
    assert profile_hash(daemon, paths, with_a)["agent"]["hash"] == first  # a secret's value: no
    store.add(
        ServerConfig(name="a", command=["node", "a2.js"], scope="host", env={"T": "two"}),
        replace=True,
    )
    assert profile_hash(daemon, paths, with_a)["agent"]["hash"] != first  # what runs: yes
