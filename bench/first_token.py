"""Time to the first streamed token: `agentctl run` in a terminal vs curl, same server, one run.

A real llama.cpp server (llama-cpp-python, SmolLM2-135M; `make llama`) on
loopback, with a small TCP relay in front of it that notes when each request
arrives. Both clients go through the relay, so each is timed from the moment
its request reached the server's door to the moment its first token is
visible:

- curl: the request agentctl sends, byte for byte the same body, made with
  `curl -sN`; the first SSE chunk with text, read from its stdout;
- agentctl: `agentctl run --model local:smol` under a pseudo-terminal (so it
  shows live deltas, as for a person), against a daemon already running; the
  first token is the moment the live line appears on the terminal.

So the figure for agentctl is the whole path a token takes: server → daemon
(SSE parse) → live bus → the daemon's NDJSON stream → the CLI → the
terminal. CLI start-up and session creation happen before the request and
are reported apart. Every request has the same prompt, so the server's
prefix cache treats both alike. Target: agentctl <= 1.1 x curl + 20 ms.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.llama.server import LlamaServer, missing  # noqa: E402

RUNS = 11
TASK = "Say hello in one short sentence."
PARAMS = {"temperature": 0, "seed": 1, "max_tokens": 12}


class Relay:
    """A TCP relay on loopback that timestamps the first byte of each connection."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.arrivals: list[float] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, requests: bool) -> None:
        noted = False
        try:
            while chunk := src.recv(65536):
                if requests and not noted and chunk.startswith(b"POST"):
                    self.arrivals.append(time.perf_counter())
                    noted = True
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop = True
        self._listener.close()


def _curl_once(url: str, body: bytes, relay: Relay) -> float:
    before = len(relay.arrivals)
    process = subprocess.Popen(
        ["curl", "-sN", "-H", "content-type: application/json", "--data-binary", "@-", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(body)
    process.stdin.close()
    first = None
    for line in process.stdout:
        if first is None and line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                first = time.perf_counter()
    process.wait(60)
    assert first is not None, "curl saw no token"
    return (first - relay.arrivals[before]) * 1000.0


def _agentctl_once(env: dict[str, str], relay: Relay) -> tuple[float, float]:
    before = len(relay.arrivals)
    master, slave = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/agentctl"),
            "run",
            TASK,
            "--model",
            "local:smol",
            "--image",
            "none",
            "--policy",
            "permissive",
        ],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    seen = b""
    shown = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        seen += data
        if shown is None and "⋯".encode() in seen:
            shown = time.perf_counter()
    process.wait(60)
    os.close(master)
    assert shown is not None, f"agentctl showed no live token: {seen[-500:]!r}"
    arrival = relay.arrivals[before]
    return (shown - arrival) * 1000.0, (arrival - started) * 1000.0


def main() -> int:
    why = missing()
    if why is not None:
        print(f"first_token: {why}", file=sys.stderr)
        return 1
    if shutil.which("curl") is None:
        print("first_token: curl is not installed", file=sys.stderr)
        return 1
    from agentctl.providers import Message, load_provider
    from agentctl.runtime.making import SYSTEM_PROMPT
    from agentctl.tools import default_registry

    home = Path(tempfile.mkdtemp(prefix="agentctl-bench-ttft-"))
    # One thread: on 2 cores, a server using both would make every client's own
    # work (curl's, or the daemon's and the CLI's) compete with generation.
    server = LlamaServer(home / "llama.log", threads=1).start()
    relay = Relay(server.port)
    url = f"http://127.0.0.1:{relay.port}/v1"
    config = home / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        "[providers.local]\n"
        f'base_url = "{url}"\n'
        'tool_choice = "none"\n'
        "params = { temperature = 0, seed = 1, max_tokens = 12 }\n"
    )
    env = {**os.environ, "AGENTCTL_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "120"}
    daemon = subprocess.Popen(
        [str(ROOT / ".venv/bin/agentctl"), "daemon", "start"], env=env, stdout=subprocess.DEVNULL
    )
    daemon.wait(60)
    try:
        # The body agentctl sends for this task, for curl to send as well.
        registry = default_registry()
        from agentctl.config import load_config

        provider = load_provider("local:smol", config=load_config(config / "config.toml"))
        body = provider.request_body(  # type: ignore[attr-defined]
            [Message("system", SYSTEM_PROMPT), Message("user", TASK)],
            registry.specs(registry.names()),
        )
        payload = json.dumps(body).encode()
        target = f"{url}/chat/completions"
        _curl_once(target, payload, relay)  # warm-up: model pages, prompt cache
        _agentctl_once(env, relay)
        curl_ms, agentctl_ms, startup_ms = [], [], []
        for _ in range(RUNS):
            # A pause before each measurement: the previous client (and the daemon's
            # end of its session) must not share the 2 cores with the next one.
            time.sleep(1.0)
            curl_ms.append(_curl_once(target, payload, relay))
            time.sleep(1.0)
            shown, startup = _agentctl_once(env, relay)
            agentctl_ms.append(shown)
            startup_ms.append(startup)
    finally:
        subprocess.run(
            [str(ROOT / ".venv/bin/agentctl"), "daemon", "stop"], env=env, capture_output=True
        )
        relay.close()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)

    curl_median = statistics.median(curl_ms)
    ours = statistics.median(agentctl_ms)
    limit = 1.1 * curl_median + 20.0
    print(
        f"time to first streamed token, median of {RUNS}, from the request reaching the server: "
        f"curl {curl_median:.1f} ms (runs: {', '.join(f'{t:.1f}' for t in curl_ms)}); "
        f"agentctl run {ours:.1f} ms (runs: {', '.join(f'{t:.1f}' for t in agentctl_ms)}); "
        f"ratio {ours / curl_median:.2f}x; target <= 1.1x + 20 ms = {limit:.1f} ms: "
        f"{'met' if ours <= limit else 'MISSED'}. Best runs: curl {min(curl_ms):.1f} ms, agentctl "
        f"{min(agentctl_ms):.1f} ms. Before the request: CLI start-up and session creation "
        f"{statistics.median(startup_ms):.0f} ms (median). Load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "ttft_curl_ms": round(curl_median, 1),
                "ttft_agentctl_ms": round(ours, 1),
                "ratio": round(ours / curl_median, 3),
                "startup_ms": round(statistics.median(startup_ms), 1),
                "best_curl_ms": round(min(curl_ms), 1),
                "best_agentctl_ms": round(min(agentctl_ms), 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
