"""Suite files: what validates, and the one-line errors (exit 2, file and case named) for what
does not. No daemon is needed: a bad suite is refused before any session is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentctl.evals.suite import SuiteError, load_suite
from tests.support.cli import Run

GOOD_CASE = """
[[case]]
name = "one"
task = "do it"
model = "replay:rec.jsonl"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rec.jsonl").write_text('{"format": "agentctl-recording", "version": 1}\n')
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_paths_resolve_relative_to_the_suite_and_defaults_apply(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    suite = load_suite(
        write(
            tmp_path,
            '[suite]\nrepeat = 3\n[defaults]\nworkspace = "ws"\npolicy = "strict"\n'
            + GOOD_CASE
            + '[[case.grade]]\nkind = "file"\npath = "./a/../b.txt"\nmatches = "^x$"\n',
        )
    )
    [case] = suite.cases
    assert suite.name == "suite" and suite.repeat == 3 and suite.parallel == 1
    assert case.model == f"replay:{tmp_path / 'rec.jsonl'}"
    assert case.workspace == str(tmp_path / "ws") and case.policy == "strict"
    assert case.grade[0].path == "b.txt"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[case]\n", "not valid TOML"),
        ("", "no cases"),
        ("[sweet]\n" + GOOD_CASE, "unknown top-level key(s) sweet"),
        (GOOD_CASE + "modle = 'x'\n", "case 'one': modle: Extra inputs are not permitted"),
        (GOOD_CASE.replace('name = "one"', 'name = "a b"'), "case 'a b': name: String should"),
        (GOOD_CASE.replace('task = "do it"\n', ""), "case 'one': task: Field required"),
        (GOOD_CASE.replace("rec.jsonl", "missing.jsonl"), "case 'one': recording 'missing.jsonl'"),
        (GOOD_CASE + GOOD_CASE, "case 'one': the name is used twice"),
        (GOOD_CASE + '[[case.grade]]\nkind = "smell"\n', "case 'one': grade.0: Input tag 'smell'"),
        (
            GOOD_CASE + '[[case.grade]]\nkind = "file"\npath = "../../etc/passwd"\n',
            "case 'one': grade.0.path: '../../etc/passwd' leaves /workspace",
        ),
        (
            GOOD_CASE + '[[case.grade]]\nkind = "file"\npath = "/etc/passwd"\n',
            "case 'one': grade.0.path: '/etc/passwd' must be a path relative to /workspace",
        ),
        (
            GOOD_CASE + '[[case.grade]]\nkind = "tool"\ntool = "shell"\nargs = "("\n',
            "case 'one': grade.0.args: '(' is not a regular expression",
        ),
        ("[suite]\nparallel = 0\n" + GOOD_CASE, "[suite]: parallel: Input should be greater"),
    ],
)
def test_bad_suites_name_the_file_and_the_case(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as raised:
        load_suite(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_the_cli_refuses_a_bad_suite_in_one_line_exit_2(tmp_path: Path, cli: Run) -> None:
    path = write(tmp_path, GOOD_CASE + '[[case.grade]]\nkind = "file"\npath = "../x"\n')
    result = cli("eval", str(path), "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and "case 'one'" in line and "leaves /workspace" in line
    assert cli("eval", str(tmp_path / "nope.toml")).returncode == 2
    assert cli("eval", str(path), "--min-pass-rate", "1.5").returncode == 2
