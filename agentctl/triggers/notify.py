"""Alerts: tell a person when something needs them, without ever holding a session up.

`[notify]` in config.toml names a command (an argv list, run without a shell,
the alert as JSON on its stdin) and/or a URL (the alert POSTed as JSON):

    [notify]
    command = ["/usr/local/bin/page-oncall", "--team", "agents"]
    url = "https://hooks.example.com/agentctl"
    events = ["approval.requested", "approval.escalated", "approval.expired",
              "budget.exceeded", "session.failed", "session.halted"]   # the default: all
    retries = 4          # after the first attempt
    backoff = "2s"       # doubled after each failed attempt, at most 5m
    timeout = "10s"      # per attempt

The notifier listens to committed events and only queues work; delivery runs
in background tasks, each attempt recorded in the `alerts` stream as
`alert.delivery` (ok or the error, and when it retries). A notifier that fails
or hangs costs its own retries and nothing else. An alert still being retried
when the daemon stops is not retried after it starts again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentctl import ids
from agentctl.config import NOTIFY_KINDS, NotifyConfig, load_config
from agentctl.protocol import AlertDelivery, ApprovalDecided, SessionStatusChanged
from agentctl.triggers.clock import sleep
from store import StoredEvent

if TYPE_CHECKING:
    import httpx

    from agentctl.runtime.host import Host

log = logging.getLogger(__name__)

STREAM = "alerts"
KINDS = NOTIFY_KINDS
MAX_BACKOFF_S = 300.0


def load_notify_config(config_file: Path) -> NotifyConfig:
    """`[notify]` of config.toml (`agentctl.config`); empty when the file or section is absent."""
    return load_config(config_file, sections=("notify",)).notify


def alert_of(event: StoredEvent) -> dict[str, Any] | None:
    """The alert an event raises, or None."""
    d = event.data
    kind = event.type
    if event.type == ApprovalDecided.TYPE:
        if d.get("decision") != "expired":
            return None
        kind = "approval.expired"
    elif event.type == SessionStatusChanged.TYPE:
        if d.get("status") != "failed":
            return None
        kind = "session.failed"
    elif event.type not in KINDS:
        return None
    keep = (
        "approval_id",
        "name",
        "tier",
        "approvers",
        "expires_at",
        "step",
        "reason",
        "limit",
        "value",
        "rule",
        "call_id",
        "decision",
    )
    return {
        "kind": kind,
        "session": event.stream,
        "seq": event.seq,
        "ts": event.ts.isoformat(),
        "data": {k: d[k] for k in keep if k in d},
    }


class Notifier:
    def __init__(self, runtime: Host, config: NotifyConfig) -> None:
        self.rt = runtime
        self.config = config
        self._http: httpx.AsyncClient | None = None

    def start(self) -> None:
        if self.config.enabled:
            self.rt.journal.listeners.append(self._on_event)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _on_event(self, event: StoredEvent) -> None:
        if event.stream == STREAM or self.rt.stopping:
            return
        alert = alert_of(event)
        if alert is None or alert["kind"] not in self.config.events:
            return
        alert["alert_id"] = ids.ulid()
        if self.config.command:
            self.rt.background(
                self._deliver(alert, "command"), f"alert:{alert['alert_id']}:command"
            )
        if self.config.url:
            self.rt.background(self._deliver(alert, "url"), f"alert:{alert['alert_id']}:url")

    async def _deliver(self, alert: dict[str, Any], target: str) -> None:
        delay = self.config.backoff_s
        for attempt in range(1, self.config.retries + 2):
            try:
                await (self._run_command(alert) if target == "command" else self._post(alert))
                error = ""
            except Exception as exc:  # whatever the notifier does, it is its failure alone
                error = f"{type(exc).__name__}: {exc}"[:500]
            last = attempt > self.config.retries
            retry_in = None if error == "" or last else round(delay, 3)
            record = AlertDelivery(
                alert_id=alert["alert_id"],
                kind=alert["kind"],
                session=alert["session"],
                target=target,  # type: ignore[arg-type]
                attempt=attempt,
                ok=not error,
                error=error,
                retry_in_s=retry_in,
            )
            await self._record(record)
            if not error or retry_in is None:
                if error:
                    log.warning(
                        "alert %s (%s) not delivered by %s: %s",
                        alert["kind"],
                        alert["session"],
                        target,
                        error,
                    )
                return
            await sleep(self.rt.clock, retry_in)
            delay = min(delay * 2, MAX_BACKOFF_S)

    async def _record(self, record: AlertDelivery) -> None:
        try:
            async with self.rt.journal.lock(STREAM):
                await self.rt.journal.append(STREAM, [record])
        except Exception:
            log.exception("could not record an alert delivery")

    async def _run_command(self, alert: dict[str, Any]) -> None:
        process = await asyncio.create_subprocess_exec(
            *self.config.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(
                process.communicate(json.dumps(alert).encode() + b"\n"), self.config.timeout_s
            )
        except TimeoutError:
            process.kill()
            await process.wait()
            raise TimeoutError(f"the command took longer than {self.config.timeout_s:g}s") from None
        if process.returncode != 0:
            tail = stderr.decode(errors="replace").strip()[-200:]
            raise RuntimeError(
                f"the command exited {process.returncode}" + (f": {tail}" if tail else "")
            )

    async def _post(self, alert: dict[str, Any]) -> None:
        if self._http is None:
            import httpx  # loaded with the first webhook alert, not with the daemon

            self._http = httpx.AsyncClient(timeout=self.config.timeout_s)
        assert self.config.url is not None
        response = await self._http.post(self.config.url, json=alert)
        if response.status_code >= 300:
            raise RuntimeError(f"{self.config.url} answered {response.status_code}")


__all__ = ["KINDS", "Notifier", "NotifyConfig", "alert_of", "load_notify_config"]
