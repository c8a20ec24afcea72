"""`eval add`: a session made into a regression case of a suite, with its recording.

The recording is what `agentctl record` writes (`write_session_recording`),
put beside the suite (SUITE_DIR/STEM/NAME.jsonl); the policy the session was
judged by is written beside it as TOML, so the case is judged by the same
rules. The case is appended to the suite file as text (its comments and
layout stay), and the suite is validated again: when the result does not
load, the file is put back as it was and nothing else is left behind.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from agentctl.evals.suite import CASE_NAME, SuiteError, load_suite
from agentctl.policy import policy_toml
from agentctl.protocol import Envelope, SessionCreated


def _toml_string(value: str) -> str:
    # JSON's escapes are TOML's, except that TOML also wants DEL escaped
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def case_name(session: str, given: str | None) -> str:
    name = given or f"regression-{session}"
    if not re.match(CASE_NAME, name):
        raise SuiteError(
            f"{name!r} is not a case name",
            hint="letters, digits, '.', '_' and '-', at most 100, starting with a letter or digit",
        )
    return name


def _relative(target: Path, base: Path) -> str:
    """`target` relative to the suite's folder when it is near it (at most `../../x`)."""
    try:
        relative = os.path.relpath(target, base)
    except ValueError:  # another drive (Windows): absolute it is
        return str(target)
    return str(target) if relative.startswith("../../..") else relative


def case_text(
    name: str,
    created: SessionCreated,
    *,
    recording: str,
    policy_file: str | None,
    workspace: str | None,
    expect_status: str,
    checks: Sequence[str],
    session: str,
) -> str:
    lines = [
        "",
        f"# made by `agentctl eval add --from {session}`",
        "[[case]]",
        f"name = {_toml_string(name)}",
        f"task = {_toml_string(created.task)}",
        f"model = {_toml_string('replay:' + recording)}",
    ]
    if created.agent is not None and created.agent.name:
        lines.append(f"agent = {_toml_string(created.agent.name)}")
    if policy_file is not None:
        lines.append(f"policy = {_toml_string(policy_file)}")
    if created.sandbox.image is None:
        lines.append('image = "none"')
    if workspace is not None:
        lines.append(f"workspace = {_toml_string(workspace)}")
    lines.append(f"expect_status = {_toml_string(expect_status)}")
    for check in checks:
        lines += ["", "[[case.grade]]", 'kind = "command"', f"command = {_toml_string(check)}"]
    return "\n".join(lines) + "\n"


def add_case(
    suite_path: Path,
    session: str,
    events: Sequence[Envelope],
    *,
    name: str | None = None,
    expect_status: str = "completed",
    checks: Sequence[str] = (),
) -> tuple[str, Path]:
    """Append a case made from `session` to the suite; (its name, its recording's path)."""
    from agentctl.replay import write_session_recording

    if not events or events[0].type != SessionCreated.TYPE:
        raise SuiteError(f"session {session} has no session.created event")
    created = SessionCreated.model_validate(events[0].data)
    case = case_name(session, name)
    suite_path = suite_path.resolve()
    before = suite_path.read_bytes() if suite_path.exists() else None
    if before is not None and load_suite(suite_path).case(case) is not None:
        raise SuiteError(f"{suite_path}: case {case!r} is there already", hint="give --name")
    folder = suite_path.parent / suite_path.stem
    folder.mkdir(parents=True, exist_ok=True)
    recording = folder / f"{case}.jsonl"
    policy = folder / f"{case}.policy.toml"
    made = [p for p in (recording, policy) if not p.exists()]
    if len(made) < 2:
        raise SuiteError(f"{recording} or {policy} exists already", hint="give another --name")
    try:
        with recording.open("w", encoding="utf-8") as fp:
            write_session_recording(list(events), session, fp)
        policy.write_text(policy_toml(created.policy), encoding="utf-8")
        workspace = created.sandbox.workspace
        text = case_text(
            case,
            created,
            recording=_relative(recording, suite_path.parent),
            policy_file=_relative(policy, suite_path.parent),
            workspace=_relative(Path(workspace), suite_path.parent) if workspace else None,
            expect_status=expect_status,
            checks=checks,
            session=session,
        )
        with suite_path.open("a", encoding="utf-8") as fp:
            fp.write(text)
        load_suite(suite_path)
    except BaseException:
        if before is None:
            suite_path.unlink(missing_ok=True)
        else:
            suite_path.write_bytes(before)
        for path in made:
            path.unlink(missing_ok=True)
        raise
    return case, recording
