"""Helpers of the sandbox tests: removing what a test's streams left on the engine."""

from __future__ import annotations

import contextlib

from sandboxes import DockerSandboxDriver


def remove_streams(driver: DockerSandboxDriver, streams: list[str]) -> None:
    """Remove each stream's container and checkpoint images (best effort: some may be gone)."""
    for stream in streams:
        with contextlib.suppress(Exception):
            driver.remove_stream(stream)
        with contextlib.suppress(Exception):
            for checkpoint in driver.list_checkpoints(stream):
                driver.api.remove_image(checkpoint.image, force=True)
