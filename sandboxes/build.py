"""Build sandbox images from a recipe folder, with or without a registry.

A recipe folder holds a `Dockerfile` (for engines that reach a registry) and
a `recipe.toml` that says the same thing as data (base, suite, packages,
user, workdir, env, cmd). Where a registry answers, the engine builds the
Dockerfile. Where none does (an air-gapped host, CI behind a mirror), the
same image is built offline: `debootstrap` from the Debian mirror that the
host's apt sources already name, the user and /workspace added in a chroot,
caches and docs removed, then `docker import` with USER/WORKDIR/ENV/CMD.

The tag is `agentctl-<recipe>:<12 hex of the sha256 of the recipe files>`,
so an image is rebuilt exactly when its recipe changes, and a file lock makes
concurrent callers (several pytest workers, the CLI) build it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors

from sandboxes.engine import client_from_env
from sandboxes.errors import EngineUnavailableError, ImageBuildError
from sandboxes.recipe import DEFAULT_RECIPE, Recipe, image_tag, recipe_digest

REGISTRY_PROBE_S = 3.0
FALLBACK_MIRROR = "http://deb.debian.org/debian"

Log = Callable[[str], None]


def ensure_default_image(
    client: docker.DockerClient | None = None, *, log: Log | None = None
) -> str:
    """The tag of the default image, built first if the engine lacks it."""
    tag = image_tag(DEFAULT_RECIPE)
    client = client or _client()
    if _image_exists(client, tag):
        return tag
    return build_image(DEFAULT_RECIPE, tag=tag, log=log, client=client)


def build_image(
    recipe_dir: Path = DEFAULT_RECIPE,
    *,
    tag: str | None = None,
    offline: bool | None = None,
    log: Log | None = None,
    client: docker.DockerClient | None = None,
) -> str:
    """Build the recipe into `tag` (default: its content tag) and return the tag.

    `offline=None` probes the registry for a few seconds and builds with the
    engine if it answers, offline otherwise; a failed engine build then falls
    back to the offline build.
    """
    say = log or (lambda _line: None)
    tag = tag or image_tag(recipe_dir)
    client = client or _client()
    recipe = Recipe.load(recipe_dir)
    with _build_lock(tag):
        if _image_exists(client, tag):  # another process built it while we waited
            return tag
        if offline is None:
            online = _image_exists(client, recipe.base) or _registry_answers(client, recipe.base)
            if online:
                try:
                    return _build_with_engine(client, recipe_dir, tag, say)
                except ImageBuildError as exc:
                    say(f"engine build failed ({exc}); building offline")
            else:
                say(
                    f"no registry answers for {recipe.base}; building offline from the Debian mirror"
                )
            return _build_offline(client, recipe, recipe_dir, tag, say)
        if offline:
            return _build_offline(client, recipe, recipe_dir, tag, say)
        return _build_with_engine(client, recipe_dir, tag, say)


def _client() -> docker.DockerClient:
    try:
        return client_from_env(timeout=300)
    except docker.errors.DockerException as exc:
        raise EngineUnavailableError(f"cannot reach the Docker engine: {exc}") from exc


def _image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.DockerException as exc:
        raise EngineUnavailableError(f"cannot reach the Docker engine: {exc}") from exc
    return True


@contextlib.contextmanager
def _build_lock(tag: str) -> Iterator[None]:
    safe = tag.replace("/", "_").replace(":", "_")
    path = Path(tempfile.gettempdir()) / f"agentctl-build-{safe}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _registry_answers(client: docker.DockerClient, image: str) -> bool:
    """Ask the engine (it knows its proxies and credentials) to resolve `image`.

    Runs in a daemon thread so a registry that hangs costs REGISTRY_PROBE_S.
    """
    answer: list[bool] = []

    def probe() -> None:
        try:
            client.api.inspect_distribution(image)
            answer.append(True)
        except Exception:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True, name="registry-probe")
    thread.start()
    thread.join(REGISTRY_PROBE_S)
    return bool(answer and answer[0])


def _build_with_engine(client: docker.DockerClient, recipe_dir: Path, tag: str, say: Log) -> str:
    say(f"building {tag} with the engine from {recipe_dir / 'Dockerfile'}")
    try:
        for chunk in client.api.build(
            path=str(recipe_dir), tag=tag, rm=True, forcerm=True, decode=True, pull=False
        ):
            if "error" in chunk:
                raise ImageBuildError(f"docker build of {tag} failed: {chunk['error']}".strip())
            line = str(chunk.get("stream", "")).rstrip()
            if line:
                say(line)
    except docker.errors.DockerException as exc:
        raise ImageBuildError(f"docker build of {tag} failed: {exc}") from exc
    return tag


def apt_mirror(suite: str, root: Path = Path("/etc/apt")) -> str:
    """The first Debian mirror in the host's apt sources that serves `suite`."""
    for entry in _apt_sources(root):
        if suite in entry["suites"] and "deb" in entry["types"] and entry["uris"]:
            return entry["uris"][0]
    return FALLBACK_MIRROR


def _apt_sources(root: Path) -> Iterator[dict[str, list[str]]]:
    one_line = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if not path.is_file():
            continue
        for raw in path.read_text(errors="replace").splitlines():
            words = raw.split("#", 1)[0].split()
            if len(words) < 3 or not words[0].startswith("deb"):
                continue
            kind, rest = words[0], words[1:]
            if rest[0].startswith("["):  # `deb [signed-by=...] URI suite components`
                while rest and not rest[0].endswith("]"):
                    rest.pop(0)
                rest = rest[1:]
            if len(rest) >= 2:
                yield {"types": [kind], "uris": [rest[0]], "suites": [rest[1]]}
    for path in sorted((root / "sources.list.d").glob("*.sources")):
        yield from _deb822_stanzas(path.read_text(errors="replace"))


def _deb822_stanzas(text: str) -> Iterator[dict[str, list[str]]]:
    stanza: dict[str, list[str]] = {}
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if stanza and stanza.get("enabled", ["yes"]) != ["no"]:
                yield stanza
            stanza = {}
            continue
        if raw[0].isspace():  # continuation of a multi-line field (e.g. Signed-By)
            continue
        key, _, value = raw.partition(":")
        stanza[key.strip().lower()] = value.split()


def _build_offline(
    client: docker.DockerClient, recipe: Recipe, recipe_dir: Path, tag: str, say: Log
) -> str:
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if debootstrap is None:
        raise ImageBuildError(
            "no registry answers and debootstrap is not installed: "
            "install it (apt-get install debootstrap) or make a registry reachable"
        )
    if os.geteuid() != 0:
        raise ImageBuildError("the offline image build (debootstrap) must run as root")
    mirror = apt_mirror(recipe.suite)
    work = Path(tempfile.mkdtemp(prefix="agentctl-rootfs-", dir="/var/tmp"))
    rootfs = work / "rootfs"
    try:
        say(f"debootstrap {recipe.suite} from {mirror} into {rootfs}")
        _run(
            [
                debootstrap,
                f"--variant={recipe.variant}",
                f"--include={','.join(recipe.packages)}",
                "--components=main",
                recipe.suite,
                str(rootfs),
                mirror,
            ],
            say,
        )
        _add_user(rootfs, recipe, say)
        _slim(rootfs)
        tarball = work / "rootfs.tar"
        say(f"packing {rootfs}")
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], say)
        say(f"importing {tag}")
        repo, _, version = tag.rpartition(":")
        try:
            client.api.import_image_from_file(
                str(tarball),
                repository=repo,
                tag=version,
                changes=_import_changes(recipe, recipe_dir),
            )
        except docker.errors.DockerException as exc:
            raise ImageBuildError(f"docker import of {tag} failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not _image_exists(client, tag):
        raise ImageBuildError(f"docker import did not produce {tag}")
    say(f"built {tag}")
    return tag


def _add_user(rootfs: Path, recipe: Recipe, say: Log) -> None:
    say(f"adding user {recipe.user} (uid {recipe.uid}) and {recipe.workdir}")
    _run(
        [
            "chroot",
            str(rootfs),
            "useradd",
            "--create-home",
            "--home-dir",
            recipe.home,
            "--uid",
            str(recipe.uid),
            "--user-group",
            "--shell",
            "/bin/bash",
            recipe.user,
        ],
        say,
    )
    workdir = rootfs / recipe.workdir.lstrip("/")
    workdir.mkdir(parents=True, exist_ok=True)
    gid = _group_id(rootfs, recipe.user)
    os.chown(workdir, recipe.uid, gid)


def _group_id(rootfs: Path, group: str) -> int:
    for line in (rootfs / "etc" / "group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == group:
            return int(fields[2])
    raise ImageBuildError(f"group {group} missing from the image after useradd")


def _slim(rootfs: Path) -> None:
    """Drop what a sandbox never needs: package caches, indexes, docs, logs."""
    for pattern in (
        "var/cache/apt/*",
        "var/lib/apt/lists/*",
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/locale/*",
        "usr/share/lintian/*",
        "var/log/*",
        "var/cache/debconf/*-old",
    ):
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _import_changes(recipe: Recipe, recipe_dir: Path) -> list[str]:
    changes = [f"ENV {key}={value}" for key, value in recipe.env.items()]
    changes += [
        f"USER {recipe.user}",
        f"WORKDIR {recipe.workdir}",
        f"CMD {json.dumps(list(recipe.cmd))}",
        f"LABEL agentctl.recipe={recipe_dir.name} agentctl.recipe.digest={recipe_digest(recipe_dir)}",
    ]
    return changes


def _run(argv: list[str], say: Log) -> None:
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        say(line.rstrip())
        tail = [*tail[-19:], line.rstrip()]
    if proc.wait() != 0:
        raise ImageBuildError(
            f"{Path(argv[0]).name} failed with exit code {proc.returncode}:\n" + "\n".join(tail)
        )
