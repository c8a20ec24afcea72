"""OpenTelemetry export: GenAI spans from a session's events, opt-in, the SDK optional."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import opentelemetry.sdk  # noqa: F401  (a dev dependency: never skipped)
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentctl.client import Client
from agentctl.errors import UsageError
from agentctl.observe.otel import SessionExporter, emit_session, load_config, start_export
from agentctl.observe.trace import build_trace
from agentctl.paths import Paths
from agentctl.protocol import CreateSession, Decide
from store import DuckDBEventStore, NewEvent
from tests.support.daemon import SpawnDaemon, wait_status
from tests.support.observe import ROOT, call, final


@pytest.fixture
def memory() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def named(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        out.setdefault(span.name.split(" ")[0], []).append(span)
    return out


def test_spans_of_a_real_session_follow_the_genai_conventions(
    daemon: Client, recording: Any, memory: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    model = recording(
        "otel",
        [
            call("read_file", {"path": "a"}, "c_read", cost=0.5),
            call("shell", {"command": "touch x"}, "c_shell", cost=0.25),
            final(cost=0.125),
        ],
    )
    sid = daemon.create_session(CreateSession(task="t", model=model, image="none")).id
    assert wait_status(daemon, sid, "waiting") == "waiting"
    (approval,) = daemon.approvals(session=sid)
    daemon.decide(approval.id, Decide(decision="approve", approver="ann"))
    assert wait_status(daemon, sid, "completed") == "completed"
    events = list(daemon.events(sid))

    provider, exporter = memory
    emit_session(provider.get_tracer("test"), build_trace(sid, events))
    spans = exporter.get_finished_spans()
    kinds = named(spans)
    (root,) = kinds["invoke_agent"]
    assert root.parent is None
    assert root.attributes is not None and root.attributes["agentctl.session.id"] == sid
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.usage.input_tokens"] == 250
    assert len(kinds["step"]) == 3
    assert all(
        s.parent is not None and s.parent.span_id == root.context.span_id for s in kinds["step"]
    )
    steps = {s.context.span_id for s in kinds["step"]}

    chats = kinds["chat"]
    assert len(chats) == 3
    for chat in chats:
        a = chat.attributes or {}
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.request.model"] == model.split(":", 1)[1]
        assert a["gen_ai.provider.name"] == "replay"
        assert chat.parent is not None and chat.parent.span_id in steps
    tokens = [int(str((c.attributes or {})["gen_ai.usage.input_tokens"])) for c in chats]
    assert sorted(tokens) == [50, 100, 100]

    tools = {(s.attributes or {})["gen_ai.tool.call.id"]: s for s in kinds["execute_tool"]}
    assert set(tools) == {"c_read", "c_shell"}
    shell = tools["c_shell"].attributes or {}
    assert shell["gen_ai.operation.name"] == "execute_tool" and shell["gen_ai.tool.name"] == "shell"
    assert not tools["c_shell"].status.is_ok  # no sandbox: the call failed
    (wait,) = kinds["approval"]
    assert (wait.attributes or {})["agentctl.approval.decision"] == "approved"

    seqs = {e.seq: e for e in events}
    for span in spans:
        a = span.attributes or {}
        assert a["agentctl.session.id"] == sid and a["agentctl.seq"] in seqs
        assert span.start_time is not None and span.end_time is not None
        assert root.start_time is not None and root.end_time is not None
        assert root.start_time <= span.start_time <= span.end_time <= root.end_time
    started = seqs[int(str((tools["c_shell"].attributes or {})["agentctl.seq"]))]
    assert started.type == "tool.started"
    assert tools["c_shell"].start_time == int(started.ts.timestamp() * 1e6) * 1000


def _append(store: DuckDBEventStore, sid: str, *items: tuple[str, dict[str, Any]]) -> None:
    store.append(sid, [NewEvent(t, d) for t, d in items], store.last_seq(sid) + 1)


def test_the_subscriber_exports_each_run_once(
    tmp_path: Path, memory: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = memory
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        sessions = SessionExporter(store, provider)
        _append(
            store,
            "ses_1",
            ("session.created", {"model": "openai:gpt-x", "parent": None}),
            ("session.status", {"status": "running"}),
            ("model.requested", {"attempt": 1}),
        )
        _append(
            store, "ses_1", ("model.responded", {"usage": {"input_tokens": 3}, "tool_calls": []})
        )
        sessions.flush()
        assert exporter.get_finished_spans() == ()  # not ended yet: nothing exported
        _append(store, "ses_1", ("session.status", {"status": "completed"}))
        sessions.flush()
        first = named(exporter.get_finished_spans())
        assert len(first["invoke_agent"]) == 1 and len(first["chat"]) == 1
        exporter.clear()
        _append(
            store,
            "ses_1",
            ("message.user", {"text": "more"}),
            ("session.status", {"status": "running"}),
            ("model.requested", {"attempt": 1}),
            ("model.responded", {"usage": {"input_tokens": 5}, "tool_calls": []}),
            ("session.status", {"status": "completed"}),
        )
        sessions.flush()
        second = named(exporter.get_finished_spans())
        (chat,) = second["chat"]
        assert (chat.attributes or {})["gen_ai.usage.input_tokens"] == 5  # the new run only
        assert (chat.attributes or {})["agentctl.seq"] == 8
        sessions.close()


def test_the_daemon_exports_when_configured(
    spawn_daemon: SpawnDaemon, paths: Paths, recording: Any
) -> None:
    paths.config_file.write_text('[otel]\nenabled = true\nexporter = "console"\n')
    process = spawn_daemon(env={"OTEL_BSP_SCHEDULE_DELAY": "50"})
    client = process.wait_ready()
    model = recording("console", [call("read_file", {"path": "a"}, "c_console"), final()])
    sid = client.create_session(CreateSession(task="t", model=model, image="none")).id
    assert wait_status(client, sid, "completed") == "completed"
    client.close()
    assert process.terminate() == 0
    output = process.output()
    assert '"gen_ai.operation.name": "execute_tool"' in output
    assert '"gen_ai.tool.call.id": "c_console"' in output
    assert f'"agentctl.session.id": "{sid}"' in output


def test_configuration(paths: Paths) -> None:
    assert load_config(paths, {}) is None  # off by default
    assert load_config(paths, {"OTEL_TRACES_EXPORTER": "none"}) is None
    env = load_config(paths, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert env is not None and (env.exporter, env.explicit) == ("otlp", False)
    paths.config_file.write_text("[otel]\nenabled = false\n")
    assert load_config(paths, {"OTEL_TRACES_EXPORTER": "console"}) is None  # the file opts out
    paths.config_file.write_text('[otel]\nenabled = true\nservice_name = "ops"\n')
    config = load_config(paths, {})
    assert config is not None and (config.explicit, config.service_name) == (True, "ops")


def test_without_the_sdk(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [m for m in sys.modules if m.startswith("opentelemetry")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.resources", None)
    store: Any = object()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    start_export(paths, store).close()  # asked for by environment only: a warning, no export
    assert "agentctl[otel]" in caplog.text
    paths.config_file.write_text("[otel]\nenabled = true\n")
    with pytest.raises(UsageError, match="not installed") as refused:
        start_export(paths, store)
    assert "pip install 'agentctl[otel]'" in str(refused.value)


def test_agentctl_imports_without_the_sdk(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'opentelemetry':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    code = (
        "import agentctl.cli.main, agentctl.daemon.server, agentctl.observe.otel;"
        "from agentctl.paths import get_paths;"
        "agentctl.observe.otel.start_export(get_paths(), None).close();"
        "import sys; print('ok', [m for m in sys.modules if m.startswith('opentelemetry')]);"
        "import opentelemetry"  # the blocker works: this one fails
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.stdout.strip() == "ok []", result.stderr
    assert result.stderr.strip().endswith("ModuleNotFoundError: opentelemetry")
