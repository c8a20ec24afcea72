"""OpenTelemetry export of sessions, opt-in, following the GenAI semantic conventions.

Spans are built from the log, not from instrumenting the runtime: when a
session ends (completed, failed, cancelled), a subscriber on the store's
committed batches hands its id to a worker thread, which reads the session's
events and emits one trace for that run:

    session            gen_ai.operation.name = invoke_agent
      step N
        chat MODEL     gen_ai.operation.name = chat, gen_ai.request.model,
                       gen_ai.usage.input_tokens / output_tokens
        execute_tool T gen_ai.operation.name = execute_tool, gen_ai.tool.name,
                       gen_ai.tool.call.id
        approval T     (the wait for a person)

Every span carries `agentctl.session.id` and `agentctl.seq` (the event that
opened it). Building from the log at the end is the robust choice: the
spans have exact start and end times whatever crashed or restarted in
between, and the exporter can never slow or break the runtime — the store
callback only puts an id on a queue. A session resumed after it ended is
exported again for its new run only (`trace.session_segment`). A session
that never ends (paused and abandoned) is not exported.

Configuration: `[otel]` in config.toml (`enabled`, `exporter` = "otlp" or
"console", `endpoint`, `service_name`), or the standard environment
variables (`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_SERVICE_NAME`,
`OTEL_SDK_DISABLED`). The SDK is the optional extra `agentctl[otel]`;
nothing imports it unless export is on.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from agentctl.errors import UsageError
from agentctl.paths import Paths
from agentctl.protocol import SessionStatus, SessionStatusChanged, SessionTrace, TraceSpan
from store import EventStore, StoredEvent, Subscription

from .trace import build_trace, session_segment

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with `pip install 'agentctl[otel]'` (opentelemetry-sdk)"
_ENDED = {s.value for s in SessionStatus if s.ended}


class Exporting(Protocol):
    def close(self) -> None: ...


class _Off:
    def close(self) -> None:
        return None


@dataclass(frozen=True)
class OtelConfig:
    exporter: str  # "otlp" | "console"
    endpoint: str | None
    service_name: str
    explicit: bool  # asked for in config.toml (a missing SDK is then an error, not a warning)


def load_config(paths: Paths, environ: Mapping[str, str] | None = None) -> OtelConfig | None:
    """The export configuration, or None when export is off."""
    from agentctl.config import load_config as load_settings

    env = os.environ if environ is None else environ
    section = load_settings(paths.config_file, env, sections=("otel",)).otel
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or section.enabled is False:
        return None
    env_exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if env_exporter == "none":
        return None
    env_endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    explicit = section.enabled is True
    if not explicit and not env_exporter and not env_endpoint:
        return None
    exporter = str(section.exporter or env_exporter or "otlp").lower()
    if exporter not in ("otlp", "console"):
        raise UsageError(f"unknown OpenTelemetry exporter {exporter!r}: use otlp or console")
    return OtelConfig(
        exporter=exporter,
        endpoint=section.endpoint or env_endpoint,
        service_name=str(section.service_name or env.get("OTEL_SERVICE_NAME") or "agentctl"),
        explicit=explicit,
    )


def _sdk_missing(config: OtelConfig, exc: ImportError) -> Exporting:
    message = f"OpenTelemetry export is enabled but {exc.name or 'its SDK'} is not installed"
    if config.explicit:  # asked for by name in config.toml: refuse to run without it
        raise UsageError(message, hint=INSTALL_HINT)
    log.warning(
        "%s (set by OTEL_* environment variables): %s; export is off", message, INSTALL_HINT
    )
    return _Off()


def make_span_exporter(config: OtelConfig) -> SpanExporter:
    if config.exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise UsageError(
            "the OTLP exporter needs opentelemetry-exporter-otlp-proto-http",
            hint="pip install opentelemetry-exporter-otlp-proto-http, "
            'or set exporter = "console" in the [otel] section',
        ) from exc
    exporter: SpanExporter
    if config.endpoint and not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        endpoint = config.endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint)
    else:
        exporter = OTLPSpanExporter()
    return exporter


def start_export(paths: Paths, store: EventStore) -> Exporting:
    """Export ended sessions as configured; a no-op when export is off."""
    config = load_config(paths)
    if config is None:
        return _Off()
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        return _sdk_missing(config, exc)
    try:
        span_exporter = make_span_exporter(config)
    except UsageError as exc:
        if config.explicit:
            raise
        log.warning("OpenTelemetry export (set by OTEL_* variables) is off: %s", exc)
        return _Off()
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    log.info("exporting sessions to OpenTelemetry (%s exporter)", config.exporter)
    return SessionExporter(store, provider)


class SessionExporter:
    """Subscribes to the store; emits each ended session's run as one trace, on its own thread."""

    def __init__(self, store: EventStore, provider: TracerProvider) -> None:
        self.store = store
        self.provider = provider
        self.tracer = provider.get_tracer("agentctl")
        self._queue: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="otel-export", daemon=True)
        self._thread.start()
        self._subscription: Subscription | None = store.subscribe(self._on_commit)

    def _on_commit(self, events: list[StoredEvent]) -> None:
        # On the store's writer thread: only hand the work over.
        for event in events:
            if event.type == SessionStatusChanged.TYPE and event.data.get("status") in _ENDED:
                self._queue.put((event.stream, event.seq))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                session, seq = item
                events = self.store.read_stream(session, after=0, limit=seq)
                segment = session_segment(events)
                if segment:
                    emit_session(self.tracer, build_trace(session, segment))
            except Exception:
                log.exception("could not export session %s to OpenTelemetry", item)
            finally:
                self._queue.task_done()

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every ended session queued so far is exported (tests, shutdown)."""
        self._queue.join()
        self.provider.force_flush(int(timeout_s * 1000))

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        self._queue.put(None)
        self._thread.join(timeout=30)
        self.provider.shutdown()  # flushes the batch processor


# --- spans from a trace ---------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ns(trace: SessionTrace, offset_s: float) -> int:
    """Nanoseconds since the epoch of `offset_s` into the trace (exact to the microsecond)."""
    moment = trace.started_at + timedelta(seconds=offset_s)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _common(trace: SessionTrace, seq: int) -> dict[str, Any]:
    return {"agentctl.session.id": trace.session, "agentctl.seq": seq}


def _provider_name(model: str) -> str:
    return model.split(":", 1)[0] if ":" in model else model


def emit_session(tracer: Tracer, trace: SessionTrace) -> None:
    """One trace: the session span, a span per step, a span per model attempt, tool call, wait."""
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace import Status, StatusCode

    first_seq = min((s.seq_start for s in trace.spans), default=trace.inherited_until_seq + 1)
    root = tracer.start_span(
        f"invoke_agent {trace.session}",
        start_time=_ns(trace, 0.0),
        attributes={
            **_common(trace, first_seq),
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "agentctl",
            "gen_ai.conversation.id": trace.session,
            "gen_ai.request.model": _model_name(trace.model),
            "gen_ai.usage.input_tokens": trace.input_tokens,
            "gen_ai.usage.output_tokens": trace.output_tokens,
            "agentctl.status": trace.status.value if trace.status else "",
            "agentctl.cost_usd": trace.cost_usd,
            "agentctl.wall_s": trace.wall_s,
            **{f"agentctl.seconds.{k}": v for k, v in trace.seconds.items()},
        },
    )
    if trace.status is SessionStatus.FAILED:
        root.set_status(Status(StatusCode.ERROR, "session failed"))
    root_ctx = otel_trace.set_span_in_context(root)
    by_step: dict[int, list[TraceSpan]] = {}
    for span in trace.spans:
        by_step.setdefault(span.step, []).append(span)
    for step in trace.steps:
        children = by_step.get(step.step, [])
        if not children and step.step == 0:
            continue
        step_seq = min((s.seq_start for s in children), default=first_seq)
        step_span = tracer.start_span(
            f"step {step.step}",
            context=root_ctx,
            start_time=_ns(trace, step.start_s),
            attributes={
                **_common(trace, step_seq),
                "agentctl.step": step.step,
                "gen_ai.usage.input_tokens": step.input_tokens,
                "gen_ai.usage.output_tokens": step.output_tokens,
                "agentctl.cost_usd": step.cost_usd,
            },
        )
        step_ctx = otel_trace.set_span_in_context(step_span)
        for child in children:
            _emit_child(tracer, trace, child, step_ctx, Status, StatusCode)
        step_span.end(end_time=_ns(trace, step.start_s + step.duration_s))
    root.end(end_time=_ns(trace, trace.wall_s))


def _model_name(model: str) -> str:
    return model.split(":", 1)[1] if ":" in model else model


def _emit_child(
    tracer: Tracer, trace: SessionTrace, span: TraceSpan, ctx: Any, status: Any, code: Any
) -> None:
    attrs: dict[str, Any] = _common(trace, span.seq_start)
    a = span.attrs
    if span.kind == "model":
        name = f"chat {_model_name(trace.model)}"
        attrs |= {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": _model_name(trace.model),
            "gen_ai.provider.name": _provider_name(trace.model),
            "agentctl.attempt": a.get("attempt", 1),
        }
        if a.get("outcome") == "ok":
            attrs |= {
                "gen_ai.usage.input_tokens": a.get("input_tokens", 0),
                "gen_ai.usage.output_tokens": a.get("output_tokens", 0),
                "agentctl.cost_usd": a.get("cost_usd") or 0.0,
                "agentctl.latency_ms": a.get("latency_ms", 0.0),
            }
    elif span.kind == "tool":
        name = f"execute_tool {span.name}"
        attrs |= {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": span.name,
            "gen_ai.tool.call.id": str(a.get("call_id", "")),
        }
        if a.get("exit_code") is not None:
            attrs["agentctl.exit_code"] = a["exit_code"]
    elif span.kind == "approval":
        name = f"approval {span.name}"
        attrs |= {
            "gen_ai.tool.name": span.name,
            "gen_ai.tool.call.id": str(a.get("call_id", "")),
            "agentctl.approval.id": str(a.get("approval_id", "")),
            "agentctl.approval.decision": str(a.get("decision") or "pending"),
        }
    else:  # backoff, checkpoint, sandbox
        name = span.kind
        if span.kind != "backoff":
            attrs["agentctl.image"] = span.name
    attrs["agentctl.seq_end"] = span.seq_end
    otel_span: Span = tracer.start_span(
        name, context=ctx, start_time=_ns(trace, span.start_s), attributes=attrs
    )
    if a.get("outcome") == "failed":
        error = str(a.get("error") or f"exit code {a.get('exit_code')}")
        otel_span.set_attribute(
            "error.type", "tool_error" if span.kind == "tool" else "model_error"
        )
        otel_span.set_status(status(code.ERROR, error[:200]))
    otel_span.end(end_time=_ns(trace, span.start_s + span.duration_s))
