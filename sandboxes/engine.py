"""The Docker engine's failures as the sandbox error family, shared by the driver's parts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import docker.utils
import requests.exceptions

from sandboxes.errors import EngineUnavailableError, SandboxError


def client_from_env(timeout: int = 300) -> docker.DockerClient:
    """The engine of DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, as `docker.from_env`.

    One difference: with TLS verified against DOCKER_CERT_PATH's `ca.pem`, the
    client does not read requests' environment (`trust_env`). requests lets
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace a session's own CA file, so on a
    machine that sets either (many do, for the system's bundle) docker-py would
    check the engine's certificate against the system CAs and fail. The engine's
    address is never meant to go through an HTTP proxy either.
    """
    kwargs = docker.utils.kwargs_from_env()
    tls = kwargs.get("tls")
    if not (tls and isinstance(getattr(tls, "ca_cert", None), str) and tls.verify):
        return docker.from_env(timeout=timeout)
    # The API version is asked as the client is made (with requests' environment):
    # made at the oldest version, then asked again without that environment.
    client = docker.DockerClient(
        timeout=timeout, version=docker.constants.MINIMUM_DOCKER_API_VERSION, **kwargs
    )
    client.api.trust_env = False
    server = str(client.api.version(api_version=False)["ApiVersion"])
    newest = docker.constants.DEFAULT_DOCKER_API_VERSION
    client.api._version = min(server, newest, key=lambda v: tuple(int(p) for p in v.split(".")))
    return client


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
