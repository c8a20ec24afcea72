"""A runtime process for the crash tests: start or resume, approve whatever is asked, until done.

    python -m tests.runtime.crash_driver DB RECORDING [POLICY]
    python -m tests.runtime.crash_driver DB RECORDING POLICY --fork SESSION SEQ REQUEST_ID

`AGENTCTL_CRASH_AT` (see agentctl.crashpoints) makes it die at a named point;
run again without it, it recovers from the log and finishes. Prints the
session id and exits 0 when the session completed. With `--fork` it forks
SESSION at SEQ with the client request id REQUEST_ID (a retry with the same
id must find the same fork) and drives the fork instead.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agentctl.crashpoints import CrashPoints
from agentctl.paths import get_paths
from agentctl.protocol import CreateSession, Decide, ForkSession, SessionStatus
from agentctl.providers.retry import RetryPolicy
from agentctl.runtime import Runtime
from store import DuckDBEventStore


async def main(db: Path, recording: Path, policy: str, fork: list[str]) -> int:
    crash = CrashPoints()
    store = DuckDBEventStore(db, before_commit=crash.mid_batch)
    rt = Runtime(
        store, paths=get_paths().ensure(), crash=crash, retry_policy=RetryPolicy(base_delay_s=0.01)
    )
    await rt.start()
    sessions = rt.sessions()
    if fork:
        parent, at, request_id = fork
        sid = await rt.fork(parent, ForkSession(at=int(at), request_id=request_id))
    elif sessions:
        sid = sessions[0].id
    else:
        sid = await rt.create_session(
            CreateSession(task="append lines", model=f"replay:{recording}", policy=policy)
        )
    for _ in range(200):
        await rt.wait_idle(sid)
        await asyncio.sleep(0.01)
        state = rt.journal.state(sid)
        if state.status is SessionStatus.WAITING:
            for approval in rt.approvals(sid):
                await rt.decide(approval.id, Decide(decision="approve", approver="crash-test"))
        elif state.status is SessionStatus.RUNNING:
            rt.spawn(sid)
        else:
            break
    await rt.stop()
    store.close()
    print(sid)
    return 0 if state.status is SessionStatus.COMPLETED else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    fork = args[args.index("--fork") + 1 :] if "--fork" in args else []
    policy = args[2] if len(args) > 2 and args[2] != "--fork" else "permissive"
    sys.exit(asyncio.run(main(Path(args[0]), Path(args[1]), policy, fork)))
