"""How traces, stats and query results look in a terminal (Rich renderables).

The waterfall's bars are scaled to the session's wall time: a bar starts at
its span's offset and is as long as its span (at least one cell, so a 2 ms
model call of a replay still shows). The breakdown below it is the
categories of `SessionTrace.seconds`, which add up to the wall time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agentctl.protocol import SessionTrace, SqlResult, StatsReport, TraceSpan
from agentctl.terminal import clean_line

KIND_STYLE = {
    "model": "cyan",
    "backoff": "yellow",
    "tool": "green",
    "approval": "magenta",
    "checkpoint": "blue",
    "sandbox": "blue",
}
CATEGORY_STYLE = {
    "model": "cyan",
    "tool": "green",
    "approval": "magenta",
    "sandbox": "blue",
    "overhead": "white",
    "idle": "bright_black",
}
BAR_WIDTH = 48


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min"


def _bar(start: float, duration: float, wall: float, style: str, width: int) -> Text:
    scale = width / wall if wall > 0 else 0.0
    begin = min(int(start * scale), width - 1)
    length = max(1, min(round(duration * scale), width - begin))
    return Text.assemble(" " * begin, ("█" * length, style), " " * (width - begin - length))


def _short_model(model: str) -> str:
    """`replay:/long/path/demo.jsonl` reads as `replay:demo.jsonl`."""
    provider, _, rest = model.partition(":")
    return f"{provider}:{rest.rsplit('/', 1)[-1]}" if provider == "replay" and rest else model


def _label(span: TraceSpan) -> Text:
    span = span.model_copy(update={"name": clean_line(span.name)})  # a tool name is the model's
    a = span.attrs
    if span.kind == "model":
        detail = f"attempt {a.get('attempt', 1)}"
        if a.get("outcome") == "ok":
            detail = f"{a.get('input_tokens', 0)}→{a.get('output_tokens', 0)} tok"
            if a.get("cost_usd"):
                detail += f" ${a['cost_usd']:.4f}"
        elif a.get("outcome") == "failed":
            detail = f"failed (attempt {a.get('attempt', 1)})"
        return Text.assemble(("chat ", "cyan"), _short_model(span.name), (f"  {detail}", "dim"))
    if span.kind == "tool":
        mark = {"ok": ("✓", "green"), "failed": ("✗", "red")}.get(
            str(a.get("outcome")), ("…", "yellow")
        )
        code = a.get("exit_code")
        return Text.assemble(
            ("tool ", "green"),
            span.name,
            " ",
            mark,
            (f"  exit {code}" if code is not None else "", "dim"),
        )
    if span.kind == "approval":
        decision = a.get("decision") or "pending"
        return Text.assemble(("approval ", "magenta"), span.name, (f"  {decision}", "dim"))
    if span.kind == "backoff":
        return Text("retry backoff", style="yellow")
    return Text.assemble((f"{span.kind} ", "blue"), (span.name, "dim"))


def trace_view(trace: SessionTrace, width: int = BAR_WIDTH) -> RenderableType:
    status = trace.status.value if trace.status else "?"
    head = Text.assemble(
        ("trace ", "bold"),
        (trace.session, "bold"),
        f"  {status}  {_short_model(trace.model)}  wall {seconds(trace.wall_s)}\n",
        (
            f"tokens {trace.input_tokens:,} in / {trace.output_tokens:,} out · "
            f"cost ${trace.cost_usd:.4f} · reported model latency "
            f"{trace.model_latency_ms:,.0f} ms · retries {trace.retries}",
            "dim",
        ),
    )
    if trace.inherited_until_seq:
        head.append(
            f"\nforked: events up to seq {trace.inherited_until_seq} are the parent's", "dim"
        )
    waterfall = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    waterfall.add_column("step", justify="right")
    waterfall.add_column("seq", justify="right", style="dim")
    waterfall.add_column("what", no_wrap=True, max_width=44, overflow="ellipsis")
    waterfall.add_column("start", justify="right")
    waterfall.add_column("took", justify="right")
    waterfall.add_column(f"0 → {seconds(trace.wall_s)}", no_wrap=True)
    for span in trace.spans:
        style = KIND_STYLE.get(span.kind, "white")
        if span.attrs.get("outcome") == "failed":
            style = "red"
        waterfall.add_row(
            str(span.step),
            str(span.seq_start),
            _label(span),
            seconds(span.start_s),
            seconds(span.duration_s),
            _bar(span.start_s, span.duration_s, trace.wall_s, style, width),
        )
    return Group(head, Text(), waterfall, Text(), breakdown_view(trace, width))


def breakdown_view(trace: SessionTrace, width: int = BAR_WIDTH) -> RenderableType:
    table = Table(title="where the time went", title_justify="left", box=None, header_style="bold")
    table.add_column("category")
    table.add_column("time", justify="right")
    table.add_column("share", justify="right")
    table.add_column("", no_wrap=True)
    wall = trace.wall_s
    offset = 0.0
    for category, value in trace.seconds.items():
        share = value / wall if wall > 0 else 0.0
        style = CATEGORY_STYLE.get(category, "white")
        bar = _bar(offset, value, wall, style, width) if value > 0 else Text(" " * width)
        offset += value
        table.add_row(Text(category, style=style), seconds(value), f"{share:6.1%}", bar)
    total = sum(trace.seconds.values())
    table.add_row(
        Text("total", style="bold"), seconds(total), f"{total / wall if wall else 1:6.1%}", ""
    )
    return table


def rows_table(title: str, rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    if not rows:
        table.add_column("(none)")
        return table
    for name in rows[0]:
        numeric = any(isinstance(r.get(name), int | float) for r in rows)
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, dict | list):
        return escape(clean_line(json.dumps(value, default=str, ensure_ascii=False)))
    return escape(clean_line(str(value)))  # SQL rows hold what models and tools wrote


def stats_view(report: StatsReport) -> RenderableType:
    window = (
        f"since {report.since} ({report.since_ts:%Y-%m-%d %H:%M}Z)"
        if report.since_ts
        else "all time"
    )
    totals = " · ".join(f"{k.replace('_', ' ')} {_cell(v)}" for k, v in report.totals.items())
    return Group(
        Text.assemble(("stats ", "bold"), window, "\n", (totals, "dim")),
        rows_table("sessions by status", report.sessions_by_status),
        rows_table("cost per model", report.models),
        rows_table("tools (cost: share of the model responses that asked for them)", report.tools),
        rows_table("approval waits (seconds)", report.approvals),
        rows_table("retries per provider", report.providers),
        rows_table("agents (profile, and a hash of what shaped it)", report.agents),
    )


def sql_view(result: SqlResult) -> Table:
    table = Table(header_style="bold")
    for name in result.columns:
        table.add_column(escape(clean_line(name)))
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    if result.truncated:
        table.caption = f"first {len(result.rows)} rows (use --limit 0 for all)"
    return table
