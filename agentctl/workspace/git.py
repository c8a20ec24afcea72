"""A branch with one commit of a session's changes, in the host repository.

As container-use does: the work arrives as a branch, not in the working
tree, so nothing the user has checked out or left uncommitted is touched.
The commit's parent is the HEAD the workspace had when it was copied in, and
its tree is that commit's tree with the changed files as the session left
them. It is built with plumbing on a temporary index (`read-tree`,
`hash-object`, `update-index -z --index-info`, `write-tree`, `commit-tree`,
`update-ref` that refuses an existing branch). Paths reach git as NUL-ended
records on stdin and arguments, never through a shell.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from agentctl.errors import ConflictError, UsageError
from agentctl.workspace.apply import Plan


def head_of(folder: Path) -> str | None:
    """The HEAD commit of the repository `folder` is in (None: not one, or no git)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _git(folder: Path, *args: str, env: dict[str, str] | None = None, stdin: bytes = b"") -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=300,
    )
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(
            f"git {args[0]} failed in {folder}: {detail[-1] if detail else done.returncode}"
        )
    return done.stdout.decode(errors="replace").strip()


def commit_branch(folder: Path, branch: str, base: str, plan: Plan, message: str) -> str:
    """Make `branch` at a new commit on `base` with `plan` applied; its id."""
    check = subprocess.run(
        ["git", "check-ref-format", "--branch", branch], capture_output=True, timeout=30
    )
    if check.returncode != 0 or branch.startswith("-"):
        raise UsageError(f"{branch!r} is not a valid branch name")
    top = Path(_git(folder, "rev-parse", "--show-toplevel"))
    prefix = folder.resolve().relative_to(top.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    if (
        subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
            timeout=30,
        ).returncode
        == 0
    ):
        raise ConflictError(f"branch {branch} already exists in {top}", hint="choose another name")
    try:
        _git(folder, "cat-file", "-e", f"{base}^{{commit}}")
    except UsageError:
        raise ConflictError(
            f"commit {base[:12]}, the HEAD when the workspace was copied, is not in {top}"
        ) from None
    with tempfile.TemporaryDirectory(prefix="agentctl-branch-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _ensure_identity(folder, env)
        _git(folder, "read-tree", base, env=env)
        blobs: list[str] = []
        for number, (_path, entry) in enumerate(plan.writes):
            blob = Path(tmp) / f"blob-{number}"
            blob.write_bytes(entry.read())
            blobs.append(str(blob))
        ids = _git(
            folder,
            "hash-object",
            "-w",
            "--no-filters",
            "--stdin-paths",
            env=env,
            stdin="".join(f"{b}\n" for b in blobs).encode(),
        ).split()
        zero = "0" * len(base)
        records = [
            f"{_mode(entry.kind, entry.mode)} {oid}\t{prefix}{path}\0"
            for (path, entry), oid in zip(plan.writes, ids, strict=True)
        ]
        records += [f"0 {zero}\t{prefix}{path}\0" for path in plan.deletes]
        _git(
            folder,
            "update-index",
            "-z",
            "--index-info",
            env=env,
            stdin="".join(records).encode("utf-8", errors="surrogateescape"),
        )
        tree = _git(folder, "write-tree", env=env)
        commit = _git(
            folder, "commit-tree", tree, "-p", base, "-F", "-", env=env, stdin=message.encode()
        )
        _git(folder, "update-ref", f"refs/heads/{branch}", commit, "", env=env)
    return commit


def _mode(kind: str, mode: int) -> str:
    if kind == "symlink":
        return "120000"
    return "100755" if mode & 0o100 else "100644"


def _ensure_identity(folder: Path, env: dict[str, str]) -> None:
    """A host with no user.name/email still gets a commit, by agentctl."""
    for key, var in (("user.name", "NAME"), ("user.email", "EMAIL")):
        done = subprocess.run(
            ["git", "-C", str(folder), "config", key], capture_output=True, timeout=30
        )
        if done.returncode != 0 or not done.stdout.strip():
            value = "agentctl" if var == "NAME" else "agentctl@localhost"
            env[f"GIT_AUTHOR_{var}"] = env[f"GIT_COMMITTER_{var}"] = value
