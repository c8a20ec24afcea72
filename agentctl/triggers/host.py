"""What the runtime starts beside its sessions: schedules, webhooks and alerts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agentctl.triggers.hooks import Hooks
from agentctl.triggers.notify import Notifier, NotifyConfig, load_notify_config
from agentctl.triggers.schedules import Scheduler

if TYPE_CHECKING:
    from agentctl.runtime.host import Host

log = logging.getLogger(__name__)


class Triggers:
    def __init__(self, runtime: Host) -> None:
        self.rt = runtime
        self.schedules = Scheduler(runtime)
        self.hooks = Hooks(runtime)
        try:
            config = load_notify_config(runtime.paths.config_file)
        except Exception as exc:  # a bad [notify] must not keep sessions from running
            log.error("alerts are off: %s", exc)
            config = NotifyConfig()
        self.notifier = Notifier(runtime, config)

    async def start(self) -> None:
        self.notifier.start()  # first: alerts for what the catch-up below does
        await self.hooks.start()
        await self.schedules.start()

    async def stop(self) -> None:
        self.schedules.stop()
        await self.notifier.stop()
