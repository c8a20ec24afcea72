"""Identifiers: monotonic ULIDs with a type prefix (`ses_…`, `apr_…`).

ULIDs sort by creation time, so `ls` and SQL over the log order naturally;
monotonic within a millisecond so two ids made in a row never sort backwards.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def ulid() -> str:
    global _last_ms, _last_rand
    with _lock:
        now = int(time.time() * 1000)
        if now <= _last_ms:
            now = _last_ms
            _last_rand += 1
        else:
            _last_rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms = now
        return _encode(now, 10) + _encode(_last_rand, 16)


def session_id() -> str:
    return f"ses_{ulid()}"


def approval_id() -> str:
    return f"apr_{ulid()}"


def call_ref(session: str, call_id: str) -> str:
    """The runtime's own name for a tool call: what artifact files and the sandbox's
    completion records are keyed by. The call id is the model's (it may be `../x`, 300
    characters or hold a NUL); it stays in the conversation and never becomes a path.
    Derived, not stored, so a restarted daemon finds the same name for the same call."""
    digest = hashlib.sha256(f"{session}\0{call_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"call_{digest[:32]}"
