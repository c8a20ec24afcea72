"""The Docker engine's failures as the sandbox error family, shared by the driver's parts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import docker.errors
import requests.exceptions

from sandboxes.errors import EngineUnavailableError, SandboxError


@contextlib.contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Turn engine failures into the sandbox error family."""
    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailableError(engine_message(exc)) from exc
    except docker.errors.APIError as exc:
        raise SandboxError(f"cannot {action}: {exc.explanation or exc}") from exc
    except docker.errors.DockerException as exc:
        raise EngineUnavailableError(engine_message(exc)) from exc


def remove_container(api: Any, container_id: str) -> None:
    """Remove a container and its volumes, whatever its state; gone already is fine."""
    try:
        api.remove_container(container_id, force=True, v=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "in progress" in str(exc.explanation):
            return
        raise SandboxError(
            f"cannot remove container {container_id[:12]}: {exc.explanation}"
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailableError(engine_message(exc)) from exc


def engine_message(exc: BaseException) -> str:
    return (
        f"the Docker engine does not answer ({exc}). Start it (e.g. scripts/ensure-docker.sh "
        "or `systemctl start docker`) or point DOCKER_HOST at a running engine."
    )
