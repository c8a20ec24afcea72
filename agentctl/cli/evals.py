"""`agentctl eval SUITE` (`eval run`) and `agentctl eval add SUITE --from SESSION`.

The suite format, the graders and the figures are in docs/evals.md. The
runner is `agentctl.evals.runner`: cases are sessions of the daemon, made
through the client. Names, details and reasons come from the suite, the
model and the tools: they are printed as `Text` (no markup) and cleaned of
control sequences.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from typer._click import Context
from typer.core import TyperGroup

from agentctl.cli.common import client, command, err, out, print_json
from agentctl.errors import ExitCode
from agentctl.terminal import clean_line

if TYPE_CHECKING:
    from agentctl.evals.runner import CaseRun


class _DefaultRun(TyperGroup):
    """`agentctl eval SUITE ...` is `agentctl eval run SUITE ...`."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    help=(
        "Run an eval suite (cases of task, model and graders, as sessions) and report "
        "pass rates;\nadd a session to one as a regression case.\n\n"
        "`agentctl eval SUITE` is `agentctl eval run SUITE`. See docs/evals.md."
    ),
    no_args_is_help=True,
)


def _text(value: object) -> Text:
    return Text(clean_line(str(value)))


def _progress(run: CaseRun) -> None:
    verdict = "pass" if run.passed else ("error" if run.error else "FAIL")
    line = f"{verdict:5} {run.case}#{run.attempt} {run.session or '-'} {run.wall_s:.1f}s"
    err.print(_text(line), style="dim")


def _table(document: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("CASE", "RUNS", "PASS", "RATE", "TOOL ERR", "STEPS", "TOKENS", "COST", "WALL"):
        table.add_column(column, justify="left" if column == "CASE" else "right")
    rows = [*document["cases"], {"name": "overall", **document["overall"]}]
    for row in rows:
        table.add_row(
            _text(row["name"]),
            str(row["runs"]),
            str(row["passed"]),
            f"{row['pass_rate']:.0%}",
            f"{row['tool_errors']}/{row['tool_calls']} ({row['tool_error_rate']:.0%})",
            f"{row['steps_mean']:g}",
            f"{row['tokens_mean']:g}",
            f"${row['cost_usd_total']:.4f}",
            f"{row['wall_s_mean']:.1f}s",
        )
    return table


def _failures(runs: list[CaseRun]) -> None:
    for run in runs:
        if run.passed:
            continue
        head = f"{run.case}#{run.attempt} ({run.session or 'no session'}): "
        if run.error is not None:
            out.print(Text("error ", style="bold red") + _text(head + run.error))
        for grade in run.grades:
            if not grade.passed:
                out.print(
                    Text("fail  ", style="bold red") + _text(f"{head}{grade.kind}: {grade.detail}")
                )


@app.command("run")
@command
def run_(
    suite: Annotated[Path, typer.Argument(metavar="SUITE", help="The suite's TOML file.")],
    repeat: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1000,
            metavar="N",
            help="Run each case N times (default: the suite's, else 1).",
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            metavar="N",
            help="At most N runs at once (default: the suite's, else 1).",
        ),
    ] = None,
    case: Annotated[str | None, typer.Option(metavar="NAME", help="Run only this case.")] = None,
    min_pass_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            metavar="X",
            help="A CI gate: exit 1 when the overall pass rate is below X (0..1).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as one JSON document.")
    ] = False,
    junit: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Also write the results as JUnit XML.")
    ] = None,
) -> None:
    """Run a suite's cases (each N times, some in parallel) and report pass rate, tool error
    rate, steps, tokens, cost and wall time per case and overall.

    Exit code: 1 when --min-pass-rate is given and the overall pass rate is below it,
    2 for a suite that does not validate; else 0, whatever the cases did.
    """
    from agentctl.evals import report
    from agentctl.evals.runner import Runner
    from agentctl.evals.suite import SuiteError, load_suite
    from agentctl.paths import get_paths

    loaded = load_suite(suite)
    if case is not None and loaded.case(case) is None:
        raise SuiteError(f"{suite}: no case {case!r}")
    repeat = repeat or loaded.repeat
    parallel = parallel or loaded.parallel
    client().health()  # the daemon up (started on demand) before the workers connect
    runner = Runner(loaded, client, data_dir=get_paths().ensure().data)
    started = time.monotonic()
    runs = runner.run(repeat, parallel, progress=_progress, only=case)
    wall = time.monotonic() - started
    doc = report.document(
        loaded.name,
        str(loaded.path),
        runs,
        repeat=repeat,
        parallel=parallel,
        wall_s=wall,
        min_pass_rate=min_pass_rate,
    )
    if junit is not None:
        junit.write_bytes(report.junit(loaded.name, runs, wall))
    if as_json:
        print_json(doc)
    else:
        out.print(_table(doc))
        _failures(runs)
        if junit is not None:
            err.print(_text(f"wrote {junit}"), style="dim")
    if doc["gate_passed"] is False:
        if not as_json:
            rate = doc["overall"]["pass_rate"]
            err.print(_text(f"pass rate {rate:.0%} is below --min-pass-rate {min_pass_rate:.0%}"))
        raise typer.Exit(ExitCode.FAILED)


@app.command("add")
@command
def add(
    suite: Annotated[
        Path, typer.Argument(metavar="SUITE", help="The suite's TOML file (made if missing).")
    ],
    session: Annotated[
        str, typer.Option("--from", metavar="SESSION", help="The session to make a case of.")
    ],
    name: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="The case's name (default: regression-SESSION)."),
    ] = None,
    expect_status: Annotated[
        str,
        typer.Option(
            metavar="STATUS",
            help="The status the case must end in: completed, failed, paused, cancelled.",
        ),
    ] = "completed",
    check: Annotated[
        list[str],
        typer.Option(
            metavar="CMD",
            help="A command grader: CMD run in the sandbox at the end must exit 0; repeatable.",
        ),
    ] = [],  # noqa: B006
) -> None:
    """Turn a session (a failed one, say) into a regression case of SUITE, with its recording
    and the policy it ran under beside the suite (SUITE_DIR/SUITE_STEM/CASE.jsonl)."""
    from agentctl.evals.add import add_case

    if expect_status not in ("completed", "failed", "paused", "cancelled"):
        raise typer.BadParameter(
            f"{expect_status!r} is not a final status", param_hint="--expect-status"
        )
    c = client()
    summary = c.session(session)
    if summary.status.value in ("running", "waiting"):
        from agentctl.errors import UsageError

        raise UsageError(
            f"session {session} is still {summary.status.value}", hint="wait for it to end"
        )
    events = list(c.events(session))
    made, recording = add_case(
        suite, session, events, name=name, expect_status=expect_status, checks=check
    )
    out.print(_text(made))
    err.print(_text(f"added case {made} to {suite} (recording {recording})"), style="dim")
