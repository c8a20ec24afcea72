"""Time and triggers: timers, schedules, webhooks and alerts, all events in the log.

Each concept is one module: `clock` (the only place that reads the time, so
tests inject one), `timers` (`run --at` and the `wait` tool), `schedules`
(cron), `hooks` (webhooks), `notify` (alerts). None of them holds state that
the log does not: a restarted daemon folds the log and arms what is pending,
and fires at once, marked late, what fell due while it was down.
"""
