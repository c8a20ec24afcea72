"""Webhooks: a POST to `/v1/hooks/NAME` starts a session whose task is its payload's.

A hook is the stream `hook:NAME`: `hook.added` (the task template, the run,
the body cap, the SHA-256 of its secret) and one `hook.delivered` per session
it started. The secret lives in a file (mode 0600) in the data folder, never
in the log; `hook add` shows it once.

A delivery is accepted when it carries, as GitHub sends it,
`X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body)`, or
`Authorization: Bearer SECRET`. Its id is `X-GitHub-Delivery` (or
`X-Delivery-Id`), else the SHA-256 of the body; an id seen before is a replay
and refused (409), as are a bad signature (401), a body over the cap (413)
and a body that is not a JSON object (400); each refusal is logged. The
payload is kept whole as an artifact (`.hooks/NAME/SHA.json` under the
artifacts folder) named by the session's `session.created` trigger.

The session is created with the request id `hook:NAME:SHA`: a daemon killed
after it was made but before `hook.delivered` finds it again when the sender
redelivers, instead of refusing the redelivery as a replay.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentctl.errors import AgentctlError, ConflictError, NotFoundError, UsageError
from agentctl.protocol import (
    AddHook,
    CreateSession,
    EventData,
    HookAdded,
    HookDelivered,
    HookRemoved,
    HookView,
    TriggerStarted,
    parse_event,
)
from agentctl.triggers.template import TemplateError, check_template, render
from store import StoredEvent

if TYPE_CHECKING:
    from agentctl.runtime.host import Host

log = logging.getLogger(__name__)

PREFIX = "hook:"
PAYLOADS = ".hooks"  # under the artifacts folder; the recovery sweep leaves dot folders alone


class HookRefused(AgentctlError):
    """A delivery refused: the status says why (401, 409, 413, 400, 422)."""

    code = "hook_refused"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = status


@dataclass
class Hook:
    name: str
    task_template: str
    run: dict[str, Any]
    secret_sha256: str
    max_body: int
    removed: bool = False
    deliveries: dict[str, str] = field(default_factory=dict)  # delivery id -> session

    def apply(self, event: StoredEvent) -> None:
        match parse_event(event.type, event.data):
            case HookRemoved():
                self.removed = True
            case HookDelivered() as delivered:
                self.deliveries[delivered.delivery] = delivered.session


def fold_hook(events: list[StoredEvent]) -> Hook | None:
    hook: Hook | None = None
    for event in events:
        if event.type == HookAdded.TYPE:
            d = HookAdded.model_validate(event.data)
            hook = Hook(d.name, d.task_template, d.run, d.secret_sha256, d.max_body)
        elif hook is not None:
            hook.apply(event)
    return hook


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value GitHub would send."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Hooks:
    def __init__(self, runtime: Host) -> None:
        self.rt = runtime
        self.hooks: dict[str, Hook] = {}
        self._secrets: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def folder(self) -> Path:
        return self.rt.paths.data / "hooks"

    def _secret_file(self, name: str) -> Path:
        return self.folder / f"{name}.secret"  # name matched TRIGGER_NAME when it was added

    async def start(self) -> None:
        for stream in [s for s in self.rt.journal.states if s.startswith(PREFIX)]:
            hook = fold_hook(await asyncio.to_thread(self.rt.store.read_stream, stream))
            if hook is None or hook.removed:
                continue
            try:
                self._secrets[hook.name] = self._secret_file(hook.name).read_text().strip()
            except OSError as exc:
                log.error("hook %s has no secret file (%s): deliveries are refused", hook.name, exc)
            self.hooks[hook.name] = hook

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # -- commands -----------------------------------------------------------------------

    async def add(self, req: AddHook) -> HookView:
        try:
            check_template(req.task_template)
        except TemplateError as exc:
            raise UsageError(f"bad --task-template: {exc}") from None
        from agentctl.policy import load_policy

        await asyncio.to_thread(load_policy, req.run.policy, config_dir=self.rt.paths.config)
        async with self._lock(req.name):
            if req.name in self.hooks:
                raise ConflictError(
                    f"hook {req.name!r} exists", hint=f"`agentctl hook rm {req.name}` first"
                )
            secret = secrets.token_urlsafe(32)
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self._secret_file(req.name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secret + "\n")
            added = HookAdded(
                name=req.name,
                task_template=req.task_template,
                run=req.run.model_dump(mode="json", exclude_none=True),
                secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                max_body=req.max_body,
                added_by=req.added_by,
            )
            stored = await self._append(req.name, [added])
            hook = fold_hook(stored)
            assert hook is not None
            self.hooks[req.name] = hook
            self._secrets[req.name] = secret
        view = self.view(hook)
        view.secret = secret
        return view

    async def remove(self, name: str, by: str) -> None:
        async with self._lock(name):
            hook = self.get(name)
            await self._append(name, [HookRemoved(by=by)])
            self.hooks.pop(name, None)
            self._secrets.pop(name, None)
            self._secret_file(hook.name).unlink(missing_ok=True)

    def get(self, name: str) -> Hook:
        hook = self.hooks.get(name)
        if hook is None:
            raise NotFoundError(f"no hook {name!r}", hint="see `agentctl hook ls`")
        return hook

    def view(self, hook: Hook) -> HookView:
        last = list(hook.deliveries.values())[-1] if hook.deliveries else None
        return HookView(
            name=hook.name,
            path=f"/v1/hooks/{hook.name}",
            task_template=hook.task_template,
            secret_sha256=hook.secret_sha256[:12],
            deliveries=len(hook.deliveries),
            last_session=last,
        )

    def views(self) -> list[HookView]:
        return [self.view(h) for h in sorted(self.hooks.values(), key=lambda h: h.name)]

    async def _append(self, name: str, items: list[EventData]) -> list[StoredEvent]:
        stream = PREFIX + name
        async with self.rt.journal.lock(stream):
            return await self.rt.journal.append(stream, items)

    # -- deliveries ---------------------------------------------------------------------

    def authenticate(
        self, name: str, body: bytes, headers: dict[str, str]
    ) -> Literal["signature", "token"]:
        secret = self._secrets.get(name)
        if secret is None:
            raise HookRefused(401, f"hook {name!r} has no secret on this daemon; add it again")
        given_sig = headers.get("x-hub-signature-256")
        if given_sig is not None:
            if hmac.compare_digest(given_sig.strip().encode(), signature(secret, body).encode()):
                return "signature"
            raise HookRefused(401, "X-Hub-Signature-256 does not match the body")
        auth = headers.get("authorization")
        if auth is not None:
            if hmac.compare_digest(auth.strip().encode(), f"Bearer {secret}".encode()):
                return "token"
            raise HookRefused(401, "the bearer token is not this hook's secret")
        raise HookRefused(401, "no X-Hub-Signature-256 and no Authorization: Bearer")

    async def deliver(self, name: str, body: bytes, headers: dict[str, str]) -> TriggerStarted:
        hook = self.get(name)
        if len(body) > hook.max_body:
            raise HookRefused(
                413, f"the body is {len(body)} bytes; this hook takes at most {hook.max_body}"
            )
        auth = self.authenticate(name, body, headers)
        sha = hashlib.sha256(body).hexdigest()
        delivery = (
            headers.get("x-github-delivery") or headers.get("x-delivery-id") or f"sha256:{sha}"
        )
        if len(delivery) > 200 or not delivery.isprintable():
            raise HookRefused(400, "the delivery id is not a short printable string")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HookRefused(400, f"the body is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise HookRefused(400, "the body must be a JSON object")
        try:
            task = render(hook.task_template, payload)
        except TemplateError as exc:
            raise HookRefused(422, f"cannot render the task: {exc}") from None
        async with self._lock(name):
            if delivery in hook.deliveries:
                raise HookRefused(
                    409,
                    f"delivery {delivery[:80]!r} was seen before (session {hook.deliveries[delivery]})",
                )
            key = hashlib.sha256(delivery.encode()).hexdigest()[:30]  # hook:NAME:KEY ≤ 100 chars
            artifact = f"{PAYLOADS}/{name}/{key}.json"
            target = self.rt.paths.artifacts / artifact
            await asyncio.to_thread(_write_payload, target, body)
            trigger = {"kind": "hook", "name": name, "delivery": delivery, "payload": artifact}
            run = dict(hook.run)
            labels = {**(run.get("labels") or {}), "hook": name}
            req = CreateSession.model_validate(
                {
                    **run,
                    "task": task,
                    "labels": labels,
                    "trigger": trigger,
                    "request_id": f"hook:{name}:{key}",
                }
            )
            sid = await self.rt.create_session(req)
            delivered = HookDelivered(
                delivery=delivery, session=sid, payload=artifact, sha256=sha, auth=auth
            )
            for event in await self._append(name, [delivered]):
                hook.apply(event)
        log.info("hook %s: delivery %r started %s", name, delivery[:80], sid)
        return TriggerStarted(session=sid, outcome="started", delivery=delivery)


def _write_payload(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(body)
    partial.replace(target)


__all__ = ["Hook", "HookRefused", "Hooks", "fold_hook", "signature"]
