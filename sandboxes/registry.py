"""Images through a registry: checkpoints pushed after commit, pulled where they are missing.

With a registry (`host:port`), an image known to the engine as `repo:tag` is
the registry's `host:port/repo:tag`. `push` tags the image under that name,
pushes it and removes that extra tag again; `pull` fetches it and tags it
back as `repo:tag`. So an engine only ever holds the plain names, and
everything that finds checkpoints by name or label (`list_checkpoints`, `gc`,
the runtime's recovery) works the same on the engine that made an image and
on one that pulled it.

The engine reports a failed push or pull inside the progress stream (a chunk
with `error`), not as an HTTP error: both read the whole stream and raise
`RegistryError` on such a chunk, and a push that did not end with the
image's digest is a failure too. A checkpoint is usable elsewhere only once
its push returned.
"""

from __future__ import annotations

import re
from typing import Any

import docker.errors
import requests.exceptions

from sandboxes.engine import engine_message
from sandboxes.errors import EngineUnavailableError, RegistryError

# host:port (a name or an IPv4 address, a port), no scheme, no path: what Docker
# puts in front of a repository to name a registry.
REGISTRY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?:[0-9]{1,5}")


def check_registry(value: str) -> str:
    """`value` if it is a registry address `host:port`, else ValueError saying what is wanted."""
    if not REGISTRY.fullmatch(value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValueError(
            f"registry must be host:port (e.g. 127.0.0.1:5000 or registry.example:5000), "
            f"without a scheme or a path, not {value!r}"
        )
    return value


def remote_name(registry: str, image: str) -> tuple[str, str]:
    """(repository, tag) of `image` (`repo:tag`) in `registry`."""
    repository, sep, tag = image.rpartition(":")
    if not sep or not repository or "/" in tag:
        raise RegistryError(f"image {image!r} has no tag: only repo:tag images go to a registry")
    return f"{registry}/{repository}", tag


def push(api: Any, registry: str, image: str) -> str:
    """Push `image` to `registry`; its digest there. RegistryError when the push fails."""
    repository, tag = remote_name(registry, image)
    remote = f"{repository}:{tag}"
    _call(registry, f"tag {image} as {remote}", api.tag, image, repository, tag)
    try:
        chunks = _call(
            registry, f"push {image}", api.push, repository, tag=tag, stream=True, decode=True
        )
        digest = _drain(registry, f"push {image}", chunks)
        if digest is None:
            raise RegistryError(
                f"pushing {image} to the registry {registry} did not report a digest: "
                "the registry may not hold it"
            )
        return digest
    finally:
        _untag(api, remote)


def pull(api: Any, registry: str, image: str) -> None:
    """Pull `image` from `registry` and tag it `image` here. RegistryError when it is not there."""
    repository, tag = remote_name(registry, image)
    remote = f"{repository}:{tag}"
    chunks = _call(
        registry, f"pull {image}", api.pull, repository, tag=tag, stream=True, decode=True
    )
    _drain(registry, f"pull {image}", chunks)
    local_repository, _, _ = image.rpartition(":")
    _call(registry, f"tag {remote} as {image}", api.tag, remote, local_repository, tag)
    _untag(api, remote)


def _drain(registry: str, action: str, chunks: Any) -> str | None:
    """Read a progress stream to its end; the digest it reported. Raises on an error chunk."""
    digest = None
    try:
        for chunk in chunks:
            if not isinstance(chunk, dict):
                continue
            if chunk.get("error") or chunk.get("errorDetail"):
                detail = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                raise RegistryError(f"cannot {action} through the registry {registry}: {detail}")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
            status = str(chunk.get("status") or "")
            if status.startswith("Digest: "):
                digest = status.removeprefix("Digest: ").strip()
    except requests.exceptions.RequestException as exc:
        raise RegistryError(f"cannot {action} through the registry {registry}: {exc}") from exc
    return digest


def _call(registry: str, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except docker.errors.NotFound as exc:
        raise RegistryError(
            f"cannot {action} through the registry {registry}: {exc.explanation or exc}"
        ) from exc
    except docker.errors.APIError as exc:
        raise RegistryError(
            f"cannot {action} through the registry {registry}: {exc.explanation or exc}"
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailableError(engine_message(exc)) from exc


def _untag(api: Any, remote: str) -> None:
    """Drop the registry's name of an image here (the plain name keeps the image)."""
    try:
        api.remove_image(remote, noprune=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError:
        return  # a leftover name, harmless: the next push or pull replaces it


__all__ = ["REGISTRY", "check_registry", "pull", "push", "remote_name"]
