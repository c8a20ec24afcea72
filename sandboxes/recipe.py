"""What an image recipe says, and the tag it builds: no engine needed to read either.

A recipe folder holds a `Dockerfile` and a `recipe.toml` (sandboxes.build
makes the image from them). The tag is `agentctl-<recipe>:<12 hex of the
sha256 of the recipe files>`, so an image is rebuilt exactly when its recipe
changes; the daemon and `doctor` compute it without importing the Docker SDK.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RECIPE = Path(__file__).resolve().parent / "images" / "default"
RECIPE_FILES = ("Dockerfile", "recipe.toml")


@dataclass(frozen=True)
class Recipe:
    """What `recipe.toml` says an image contains."""

    base: str
    suite: str
    packages: tuple[str, ...]
    user: str
    uid: int
    home: str
    workdir: str
    env: Mapping[str, str] = field(default_factory=dict)
    cmd: tuple[str, ...] = ("sleep", "infinity")
    variant: str = "minbase"

    @classmethod
    def load(cls, recipe_dir: Path) -> Recipe:
        data = tomllib.loads((recipe_dir / "recipe.toml").read_text())
        user = data["user"]
        return cls(
            base=str(data["base"]),
            suite=str(data["suite"]),
            packages=tuple(str(p) for p in data["packages"]),
            user=str(user["name"]),
            uid=int(user["uid"]),
            home=str(user["home"]),
            workdir=str(user["workdir"]),
            env={str(k): str(v) for k, v in data.get("env", {}).items()},
            cmd=tuple(str(c) for c in data.get("cmd", ["sleep", "infinity"])),
            variant=str(data.get("variant", "minbase")),
        )


def recipe_digest(recipe_dir: Path = DEFAULT_RECIPE) -> str:
    """12 hex digits of the sha256 over the recipe files (names and contents)."""
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update(name.encode() + b"\0")
        digest.update((recipe_dir / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_tag(recipe_dir: Path = DEFAULT_RECIPE) -> str:
    return f"agentctl-{recipe_dir.name.lower()}:{recipe_digest(recipe_dir)}"
