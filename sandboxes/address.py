"""Where the Docker engine is, said for people: read from the environment, no SDK needed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit


def describe_engine(environ: Mapping[str, str] | None = None) -> str:
    """Where the engine is, for people: DOCKER_HOST without credentials, and its TLS."""
    env = os.environ if environ is None else environ
    host = env.get("DOCKER_HOST") or ""
    if not host:
        return "the default socket"
    parts = urlsplit(host)
    if parts.scheme not in ("tcp", "https", "http", "ssh"):
        return f"{parts.scheme}://{parts.path}" if parts.scheme else "DOCKER_HOST (unparsed)"
    where = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    if parts.scheme == "ssh":
        return where
    if env.get("DOCKER_TLS_VERIFY") not in (None, "", "0"):
        return f"{where} (TLS, engine certificate verified with DOCKER_CERT_PATH/ca.pem)"
    if env.get("DOCKER_CERT_PATH"):
        return f"{where} (TLS, engine certificate NOT verified: set DOCKER_TLS_VERIFY=1)"
    return f"{where} (plain TCP, no TLS)"
