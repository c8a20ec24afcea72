"""The image recipe, the offline builder's parsing, output capping, naming:
everything that needs no Docker engine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import docker
import pytest

from sandboxes import (
    DEFAULT_RECIPE,
    DockerSandboxDriver,
    EngineUnavailableError,
    SandboxError,
    SandboxSpec,
)
from sandboxes.build import apt_mirror
from sandboxes.execution import CappedOutput
from sandboxes.recipe import Recipe, image_tag, recipe_digest


def dockerfile_packages(text: str) -> set[str]:
    install = re.search(r"apt-get install[^\n]*\\\n(.*?)&&", text, re.S)
    assert install, "the Dockerfile installs packages with apt-get install"
    return {word for word in install.group(1).replace("\\", " ").split()}


def test_dockerfile_and_recipe_agree() -> None:
    recipe = Recipe.load(DEFAULT_RECIPE)
    dockerfile = (DEFAULT_RECIPE / "Dockerfile").read_text()
    assert dockerfile_packages(dockerfile) == set(recipe.packages)
    assert f"FROM {recipe.base}" in dockerfile
    assert f"--uid {recipe.uid}" in dockerfile and f"--home-dir {recipe.home}" in dockerfile
    assert f"USER {recipe.user}" in dockerfile
    assert f"WORKDIR {recipe.workdir}" in dockerfile
    for key, value in recipe.env.items():
        assert f"ENV {key}={value}" in dockerfile
    assert 'CMD ["sleep", "infinity"]' in dockerfile and recipe.cmd == ("sleep", "infinity")


def test_recipe_names_the_tools_the_agent_needs() -> None:
    packages = set(Recipe.load(DEFAULT_RECIPE).packages)
    assert {"python3", "git", "bash", "coreutils", "grep", "sed", "ca-certificates"} <= packages
    recipe = tomllib.loads((DEFAULT_RECIPE / "recipe.toml").read_text())
    assert recipe["user"] == {
        "name": "agent",
        "uid": 1000,
        "home": "/home/agent",
        "workdir": "/workspace",
    }
    assert recipe["env"]["LANG"] == "C.UTF-8"


def test_image_tag_follows_the_recipe_content(tmp_path: Path) -> None:
    tag = image_tag(DEFAULT_RECIPE)
    assert re.fullmatch(r"agentctl-default:[0-9a-f]{12}", tag)
    assert image_tag(DEFAULT_RECIPE) == tag
    copy = tmp_path / "default"
    copy.mkdir()
    for name in ("Dockerfile", "recipe.toml"):
        (copy / name).write_bytes((DEFAULT_RECIPE / name).read_bytes())
    assert recipe_digest(copy) == recipe_digest(DEFAULT_RECIPE)
    (copy / "recipe.toml").write_text((copy / "recipe.toml").read_text() + "\n# changed\n")
    assert recipe_digest(copy) != recipe_digest(DEFAULT_RECIPE)


def test_apt_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# nothing\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian trixie main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# http://snapshot.example\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n"
    )
    assert apt_mirror("bookworm", tmp_path) == "http://mirror.example/debian"
    assert apt_mirror("trixie", tmp_path) == "http://one.example/debian"
    assert apt_mirror("sid", tmp_path) == "http://deb.debian.org/debian"


def test_capped_output_keeps_head_and_tail_and_spills_everything() -> None:
    sink = CappedOutput(1000)
    payload = b"".join(b"%06d\n" % i for i in range(20_000))
    for start in range(0, len(payload), 4096):
        sink.write(1, memoryview(payload[start : start + 4096]))
    text, truncated, full = sink.finish()
    assert truncated and full is not None
    try:
        assert full.read_bytes() == payload
        assert len(text.encode()) <= 1000
        assert text.startswith("000000\n000001\n")
        assert text.endswith("019998\n019999\n")
        assert "bytes omitted" in text
    finally:
        full.unlink()


def test_capped_output_under_the_cap_is_whole() -> None:
    sink = CappedOutput(100)
    sink.write(1, memoryview(b"a" * 60))
    sink.write(2, memoryview(b"b" * 40))
    assert sink.finish() == ("a" * 60 + "b" * 40, False, None)


def dead_driver() -> DockerSandboxDriver:
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    return DockerSandboxDriver(client)


def test_a_dead_engine_is_a_readable_error() -> None:
    driver = dead_driver()
    with pytest.raises(EngineUnavailableError, match="does not answer"):
        driver.ping()
    with pytest.raises(EngineUnavailableError):
        driver.create("ses_DEAD", SandboxSpec(image="agentctl-default:whatever"))
    with pytest.raises(EngineUnavailableError):
        driver.find("ses_DEAD")
    with pytest.raises(EngineUnavailableError):
        driver.list_checkpoints()


@pytest.mark.parametrize("stream", ["", "ses/1", "ses 1", "-ses", "a" * 101, "ses.1"])
def test_stream_ids_are_validated(stream: str) -> None:
    with pytest.raises(SandboxError, match="invalid stream id"):
        dead_driver().container_name(stream)


def test_names_derive_from_the_stream_id() -> None:
    driver = dead_driver()
    assert driver.container_name("ses_01JDABCDEF") == "agentctl-ses_01jdabcdef"
