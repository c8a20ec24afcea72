"""The client of the daemon: the one place that knows its routes.

The CLI uses `Client` (sync, `client/sync.py`), the TUI `AsyncClient`
(`client/aio.py`); both are thin shells over `Routes` (`client/routes.py`),
which turns each operation into a `Call` (method, path, query, body, and how
to read the answer), and over `error_from` (`client/errors.py`), which turns
an error body back into the `AgentctlError` subclass the daemon raised. A
daemon that does not answer is a `DaemonError` with a message saying where it
was looked for. Streams (`events`, `all_events`) are lazy generators of
`Envelope`s read line by line from NDJSON: the request is sent on the first
`next()`, and `close()` (or leaving the loop) closes the connection.
`client/follow.py` follows a stream across daemon restarts, from a `Cursor`.

Creating a session and forking one carry a request id the client chooses, so
either can be retried without making a second session: a daemon that died
mid-request either had not made it, or made it whole and finds it by the id.
The client never starts a process: a `Client` from
`agentctl.daemon.lifecycle.connect()` retries those two itself, starting the
daemon again, when the connection breaks before the answer arrives.
"""

from agentctl.client.aio import AsyncClient
from agentctl.client.errors import error_from, unreachable
from agentctl.client.routes import Call, Routes, with_request_id
from agentctl.client.sync import Client
from agentctl.client.transport import DEFAULT_TIMEOUT_S, TOKEN_ENV

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "TOKEN_ENV",
    "AsyncClient",
    "Call",
    "Client",
    "Routes",
    "error_from",
    "unreachable",
    "with_request_id",
]
