"""Helpers of the llama.cpp tests: whether the real server can run, the config pointing at it.

Missing (no `make llama`), its tests skip, unless `AGENTCTL_REQUIRE_LLAMA=1`
(set by CI), where that is a failure: CI must run them for real. The server
itself is tests/llama/server.py (bench/first_token.py starts it too).
"""

from __future__ import annotations

import os

import pytest

from agentctl.paths import Paths
from tests.llama.server import REQUIRE_ENV, missing


def require() -> None:
    why = missing()
    if why is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{why} ({REQUIRE_ENV}=1: the llama.cpp tests must run)")
    pytest.skip(why)


def write_endpoint(paths: Paths, url: str, **options: str) -> None:
    """`[providers.local]` pointing at the server: `--model local:smol`."""
    lines = ["[providers.local]", f'base_url = "{url}"', "timeout_s = 120"]
    lines += [f"{k} = {v}" for k, v in options.items()]
    paths.config_file.write_text("\n".join(lines) + "\n")
