"""The default image, as built here (offline where no registry answers)."""

from __future__ import annotations

from typing import Any

import pytest

from sandboxes import DEFAULT_RECIPE, Sandbox, ensure_default_image
from sandboxes.recipe import Recipe, image_tag

pytestmark = pytest.mark.docker


def test_ensure_default_image_is_the_recipe_tag(docker_client: Any, default_image: str) -> None:
    assert default_image == image_tag(DEFAULT_RECIPE)
    assert ensure_default_image(docker_client) == default_image  # present: no rebuild


def test_image_config_follows_the_recipe(docker_client: Any, default_image: str) -> None:
    recipe = Recipe.load(DEFAULT_RECIPE)
    config = docker_client.api.inspect_image(default_image)["Config"]
    assert config["User"] == recipe.user
    assert config["WorkingDir"] == recipe.workdir
    assert config["Cmd"] == list(recipe.cmd)
    assert {f"{key}={value}" for key, value in recipe.env.items()} <= set(config["Env"])


def test_image_has_the_recipe_packages(shared_sandbox: Sandbox) -> None:
    packages = Recipe.load(DEFAULT_RECIPE).packages
    result = shared_sandbox.exec("dpkg-query -W -f '${Package} ${Status}\\n' " + " ".join(packages))
    assert result.exit_code == 0, result.output
    assert all(line.endswith("install ok installed") for line in result.output.splitlines())
    result = shared_sandbox.exec("python3 -c 'print(1+1)' && git --version && ls -ld /workspace ~")
    assert result.exit_code == 0 and result.output.startswith("2\ngit version")
    assert "agent agent" in result.output
