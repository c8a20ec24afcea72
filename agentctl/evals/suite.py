"""An eval suite: a TOML file of cases, each a task, a model and the graders that judge it.

Validated with pydantic, case by case, so an error names the file and the case
(`smoke.toml: case 'fix-mean': grade.0.path: ...`). Host paths in a suite (the
recording of a `replay:` model, a workspace, a policy file) are the user's and
are resolved relative to the suite file; a path an expected-file grader names
is a path inside the session's /workspace, never a host path: it must be
relative and stay inside (no `..`), and its content is read through the
daemon's archive route, not from this machine's disk.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentctl.errors import UsageError

CASE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class SuiteError(UsageError):
    """A suite file is missing, is not TOML, or does not validate."""

    code = "invalid_suite"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return value


class CommandGrade(_Strict):
    """A command run in the session's sandbox after it ends; its exit code decides."""

    kind: Literal["command"]
    command: str = Field(min_length=1)
    exit_code: int = 0
    timeout_s: float = Field(default=120.0, gt=0, le=3600)


class FileGrade(_Strict):
    """A file in /workspace at the end: it exists (or not), and holds a text or matches."""

    kind: Literal["file"]
    path: str = Field(min_length=1)
    exists: bool = True
    contains: str | None = None
    matches: str | None = None  # a regular expression searched in the content

    _check_matches = field_validator("matches")(_regex)

    @field_validator("path")
    @classmethod
    def _inside_workspace(cls, value: str) -> str:
        if "\0" in value or value.startswith("/") or value.startswith("~"):
            raise ValueError(f"{value!r} must be a path relative to /workspace")
        normal = posixpath.normpath(value)
        if normal == "." or normal == ".." or normal.startswith("../"):
            raise ValueError(f"{value!r} leaves /workspace: give a file inside it")
        return normal


class ToolGrade(_Strict):
    """A tool call the model made (or must not make): a tool name and an argument regex."""

    kind: Literal["tool"]
    tool: str = Field(min_length=1)
    args: str | None = None  # searched in the call's arguments as canonical JSON
    present: bool = True  # False: no such call may occur
    min_count: int = Field(default=1, ge=1)

    _check_args = field_validator("args")(_regex)


class JudgeGrade(_Strict):
    """An LLM as judge: a model reads the task, the final answer and the diff, and a rubric."""

    kind: Literal["judge"]
    model: str = Field(min_length=1)  # a model spec, as `agentctl run --model`
    base_url: str | None = None
    rubric: str = Field(min_length=1)
    timeout_s: float = Field(default=120.0, gt=0, le=3600)


Grade = Annotated[CommandGrade | FileGrade | ToolGrade | JudgeGrade, Field(discriminator="kind")]


class Case(_Strict):
    name: str = Field(pattern=CASE_NAME)
    task: str = Field(min_length=1)
    model: str = Field(min_length=1)  # replay:PATH (relative to the suite) or a live endpoint
    base_url: str | None = None
    agent: str | None = None
    policy: str | None = None  # a preset name or a policy file (relative to the suite)
    image: str | None = None
    workspace: str | None = None  # a host folder (relative to the suite), copied in
    approvals: Literal["approve", "deny"] = "approve"
    expect_status: Literal["completed", "failed", "paused", "cancelled"] = "completed"
    max_steps: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=600.0, gt=0, le=86_400)
    grade: list[Grade] = Field(default_factory=list)


class SuiteHead(_Strict):
    name: str | None = None
    repeat: int = Field(default=1, ge=1, le=1000)
    parallel: int = Field(default=1, ge=1, le=64)


class Suite(BaseModel):
    path: Path
    name: str
    repeat: int
    parallel: int
    cases: list[Case]

    def case(self, name: str) -> Case | None:
        return next((c for c in self.cases if c.name == name), None)


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in _UNION_TAGS)
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


_UNION_TAGS = {"command", "file", "tool", "judge"}


def _resolved(value: str | None, base: Path, what: str, where: str) -> str | None:
    if value is None:
        return None
    path = (base / Path(value).expanduser()).resolve()
    if not path.exists():
        raise SuiteError(f"{where}: {what} {value!r}: no such file or folder ({path})")
    return str(path)


def _case(raw: Any, index: int, defaults: dict[str, Any], base: Path, file: str) -> Case:
    label = f"#{index + 1}"
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        label = repr(raw["name"][:100])
    where = f"{file}: case {label}"
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: a case is a table ([[case]])")
    try:
        case = Case.model_validate({**defaults, **raw})
    except ValidationError as exc:
        raise SuiteError(f"{where}: {_problems(exc)}") from None
    changes: dict[str, Any] = {
        "workspace": _resolved(case.workspace, base, "workspace", where),
    }
    if case.model.startswith("replay:"):
        changes["model"] = "replay:" + str(
            _resolved(case.model.removeprefix("replay:"), base, "recording", where)
        )
    if case.policy and ("/" in case.policy or case.policy.endswith(".toml")):
        changes["policy"] = _resolved(case.policy, base, "policy file", where)
    if case.workspace is not None and not Path(str(changes["workspace"])).is_dir():
        raise SuiteError(f"{where}: workspace {case.workspace!r} is not a folder")
    return case.model_copy(update=changes)


def load_suite(path: Path) -> Suite:
    """The suite in `path`, every case validated and its host paths made absolute."""
    file = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{file}: no such suite file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{file}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{file}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"suite", "defaults", "case"}
    if unknown:
        raise SuiteError(
            f"{file}: unknown top-level key(s) {', '.join(sorted(unknown))}",
            hint="a suite has [suite], [defaults] and [[case]] tables",
        )
    try:
        head = SuiteHead.model_validate(raw.get("suite", {}))
    except ValidationError as exc:
        raise SuiteError(f"{file}: [suite]: {_problems(exc)}") from None
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict) or "name" in defaults:
        raise SuiteError(f"{file}: [defaults] is a table of case keys other than name")
    cases_raw = raw.get("case", [])
    if not isinstance(cases_raw, list) or not cases_raw:
        raise SuiteError(f"{file}: no cases", hint="add a [[case]] table")
    base = path.resolve().parent
    cases = [_case(c, i, defaults, base, file) for i, c in enumerate(cases_raw)]
    seen: set[str] = set()
    for case in cases:
        if case.name in seen:
            raise SuiteError(f"{file}: case {case.name!r}: the name is used twice")
        seen.add(case.name)
    return Suite(
        path=path.resolve(),
        name=head.name or path.stem,
        repeat=head.repeat,
        parallel=head.parallel,
        cases=cases,
    )
