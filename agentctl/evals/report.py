"""An eval's results: per case and overall, as a JSON document and as JUnit XML.

The figures (docs/evals.md): pass rate (runs whose every grade passed, over
runs), tool error rate (tool calls that failed, as `agentctl stats` counts
them, over tool calls), and per run the mean steps, tokens, cost and wall
time. The table is drawn by the CLI from `summary()`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentctl.evals.runner import CaseRun


@dataclass(frozen=True)
class Figures:
    runs: int
    passed: int
    tool_calls: int
    tool_errors: int
    steps: int
    tokens: int
    cost_usd: float
    wall_s: float

    @property
    def pass_rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0

    @property
    def tool_error_rate(self) -> float:
        return self.tool_errors / self.tool_calls if self.tool_calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        runs = self.runs or 1
        return {
            "runs": self.runs,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4),
            "tool_calls": self.tool_calls,
            "tool_errors": self.tool_errors,
            "tool_error_rate": round(self.tool_error_rate, 4),
            "steps_mean": round(self.steps / runs, 2),
            "tokens_mean": round(self.tokens / runs, 1),
            "tokens_total": self.tokens,
            "cost_usd_total": round(self.cost_usd, 6),
            "cost_usd_mean": round(self.cost_usd / runs, 6),
            "wall_s_mean": round(self.wall_s / runs, 3),
        }


def figures(runs: Sequence[CaseRun]) -> Figures:
    return Figures(
        runs=len(runs),
        passed=sum(r.passed for r in runs),
        tool_calls=sum(r.tool_calls for r in runs),
        tool_errors=sum(r.tool_errors for r in runs),
        steps=sum(r.steps for r in runs),
        tokens=sum(r.input_tokens + r.output_tokens for r in runs),
        cost_usd=sum(r.cost_usd for r in runs),
        wall_s=sum(r.wall_s for r in runs),
    )


def by_case(runs: Sequence[CaseRun]) -> dict[str, list[CaseRun]]:
    cases: dict[str, list[CaseRun]] = {}
    for run in runs:
        cases.setdefault(run.case, []).append(run)
    return cases


def document(
    suite: str,
    path: str,
    runs: Sequence[CaseRun],
    *,
    repeat: int,
    parallel: int,
    wall_s: float,
    min_pass_rate: float | None,
) -> dict[str, Any]:
    """The `--json` document: the suite, every case with its runs, the overall figures, the gate."""
    overall = figures(runs)
    gate = None if min_pass_rate is None else overall.pass_rate >= min_pass_rate
    return {
        "suite": suite,
        "path": path,
        "repeat": repeat,
        "parallel": parallel,
        "wall_s": round(wall_s, 3),
        "min_pass_rate": min_pass_rate,
        "gate_passed": gate,
        "overall": overall.to_dict(),
        "cases": [
            {
                "name": name,
                **figures(case_runs).to_dict(),
                "attempts": [r.to_dict() for r in case_runs],
            }
            for name, case_runs in by_case(runs).items()
        ],
    }


# XML 1.0 cannot hold these even escaped: a tool's output may contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit(suite: str, runs: Sequence[CaseRun], wall_s: float) -> bytes:
    """JUnit XML: one <testcase> per run (classname SUITE.CASE, name CASE#ATTEMPT)."""
    overall = figures(runs)
    errors = sum(r.error is not None for r in runs)
    root = ET.Element(
        "testsuites",
        name=_xml(suite),
        tests=str(overall.runs),
        failures=str(overall.runs - overall.passed - errors),
        errors=str(errors),
        time=f"{wall_s:.3f}",
    )
    tsuite = ET.SubElement(
        root,
        "testsuite",
        name=_xml(suite),
        tests=str(overall.runs),
        failures=str(overall.runs - overall.passed - errors),
        errors=str(errors),
        skipped="0",
        time=f"{wall_s:.3f}",
    )
    for run in runs:
        case = ET.SubElement(
            tsuite,
            "testcase",
            classname=_xml(f"{suite}.{run.case}"),
            name=_xml(f"{run.case}#{run.attempt}"),
            time=f"{run.wall_s:.3f}",
        )
        if run.error is not None:
            ET.SubElement(case, "error", message=_xml(run.error[:500])).text = _xml(run.error)
        elif not run.passed:
            failed = [g for g in run.grades if not g.passed]
            text = "\n".join(f"{g.kind}: {g.detail}" for g in failed)
            message = f"{failed[0].kind}: {failed[0].detail}"[:500]
            ET.SubElement(case, "failure", message=_xml(message), type="grade").text = _xml(text)
        props = ET.SubElement(case, "properties")
        for name, value in (
            ("session", run.session or ""),
            ("status", run.status),
            ("steps", str(run.steps)),
            ("tokens", str(run.input_tokens + run.output_tokens)),
            ("cost_usd", f"{run.cost_usd:.6f}"),
            ("tool_calls", str(run.tool_calls)),
            ("tool_errors", str(run.tool_errors)),
        ):
            ET.SubElement(props, "property", name=name, value=_xml(value))
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data
