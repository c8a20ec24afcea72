"""One command in a container, with as little as possible around it.

A tool call should cost no more than a raw `docker exec`: one exec_create,
one exec_start, one exec_inspect. So the timeout runs inside the container
(`timeout -s KILL`, which kills the command's whole process group), the
output is read straight off the hijacked socket (tty off, frames parsed
here, stdout and stderr kept in the order they were written), and the host
only keeps a safety deadline on the socket for processes that escape the
group and hold the output open.

Output is streamed into a sink: `CappedOutput` keeps head and tail in memory
and spills everything to a temp file once the cap is passed, so 100 MB of
output costs a file, not memory; `SplitOutput` keeps stdout and stderr apart
for the file tools.

Input (`stdin`: the file tools' content, a workspace tar) is written to the
socket and the socket's write side shut, which the engine reads as EOF. Over
TLS (DOCKER_HOST tcp:// with DOCKER_TLS_VERIFY) that cannot work: Python's
SSLSocket.shutdown drops the TLS layer and half-closes the TCP connection
under it, and the engine never sees the end of the input (the command waits
forever). There the command is run as `head -c N | argv`, N the input's
length, and the socket stays open: the command sees EOF after exactly N
bytes, whatever the transport.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

import docker.errors
import requests.exceptions

from sandboxes.errors import EngineUnavailableError, SandboxError, SandboxGoneError

STDOUT, STDERR = 1, 2
HOST_GRACE_S = 5.0  # how long past the in-container timeout the host waits for the stream
_HEADER = struct.Struct(">BxxxL")
_RECV = 256 * 1024


class Sink(Protocol):
    def write(self, stream: int, data: memoryview) -> None: ...


@dataclass(frozen=True)
class RawExit:
    exit_code: int | None  # None: the host gave up on the stream (it outlived its deadline)
    duration_ms: float
    stream_timed_out: bool


def run(
    api: Any,
    container_id: str,
    argv: list[str],
    sink: Sink,
    *,
    user: str,
    workdir: str,
    env: dict[str, str] | None = None,
    stdin: bytes | BinaryIO | None = None,
    deadline_s: float | None = None,
) -> RawExit:
    """Run `argv` in the container, feed its output frames to `sink`."""
    started = time.perf_counter()
    counted = stdin is not None and str(getattr(api, "base_url", "")).startswith("https://")
    if counted:  # TLS: no half-close; the command reads exactly the input's length
        length = _length(stdin)
        argv = ["sh", "-c", 'head -c "$0" | "$@"', str(length), *argv]
    try:
        exec_id = api.exec_create(
            container_id,
            argv,
            stdout=True,
            stderr=True,
            stdin=stdin is not None,
            tty=False,
            user=user,
            environment=env,
            workdir=workdir,
        )["Id"]
        io = api.exec_start(exec_id, tty=False, socket=True)
    except docker.errors.NotFound as exc:
        raise SandboxGoneError(
            f"the sandbox container {container_id[:12]} is gone (removed outside the runtime?): "
            "recreate it from its latest checkpoint"
        ) from exc
    except docker.errors.APIError as exc:
        raise SandboxError(f"cannot run a command in the sandbox: {_explain(exc)}") from exc
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailableError(f"the Docker engine stopped answering: {exc}") from exc
    sock = _raw_socket(io)
    timed_out = False
    try:
        if stdin is not None:
            if isinstance(stdin, bytes):
                sock.sendall(stdin)
            else:
                sock.sendfile(stdin)
            if not counted:
                sock.shutdown(socket.SHUT_WR)
        sock.settimeout(deadline_s)
        try:
            _read_frames(sock, sink)
        except TimeoutError:
            timed_out = True
    finally:
        sock.close()
        io.close()
    if timed_out:
        return RawExit(None, (time.perf_counter() - started) * 1000, True)
    try:
        code = api.exec_inspect(exec_id)["ExitCode"]
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot read the exit code of a command: {exc}") from exc
    return RawExit(code, (time.perf_counter() - started) * 1000, False)


def _length(stdin: bytes | BinaryIO | None) -> int:
    """How many bytes `stdin` will give, from where it is now."""
    if stdin is None:
        return 0
    if isinstance(stdin, bytes):
        return len(stdin)
    try:
        return os.fstat(stdin.fileno()).st_size - stdin.tell()
    except (OSError, AttributeError, ValueError) as exc:
        raise SandboxError(f"cannot send this input to a sandbox over TLS: {exc}") from exc


def _raw_socket(io: Any) -> socket.socket:
    """The socket under what exec_start(socket=True) returns (SocketIO on Unix and TCP)."""
    sock = getattr(io, "_sock", io)
    if not isinstance(sock, socket.socket):
        raise SandboxError(f"unsupported Docker transport for exec: {type(io).__name__}")
    return sock


def _read_frames(sock: socket.socket, sink: Sink) -> None:
    """Parse the multiplexed stream: 8-byte header (stream, size), then the payload."""
    header = b""
    stream = remaining = 0
    recv = sock.recv
    while True:
        chunk = recv(_RECV)
        if not chunk:
            return
        view = memoryview(chunk)
        pos, end = 0, len(chunk)
        while pos < end:
            if remaining == 0:
                need = 8 - len(header)
                header += chunk[pos : pos + need]
                pos += need
                if len(header) < 8:
                    break
                stream, remaining = _HEADER.unpack(header)
                header = b""
                continue
            take = min(remaining, end - pos)
            sink.write(stream, view[pos : pos + take])
            pos += take
            remaining -= take


def _explain(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc)


class SplitOutput:
    """stdout and stderr kept apart; stdout capped at `cap` bytes (the rest is dropped)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.overflow = False

    def write(self, stream: int, data: memoryview) -> None:
        if stream == STDERR:
            if len(self.stderr) < 64_000:
                self.stderr += data
            return
        room = self.cap - len(self.stdout)
        if len(data) > room:
            self.overflow = True
            data = data[: max(room, 0)]
        self.stdout += data


DEFAULT_KEEP_CAP = 16 * 1024 * 1024  # of one command's output, kept on the host


class CappedOutput:
    """Interleaved output: all of it up to `cap` bytes, then head + tail and a spill file.

    The spill file holds at most `keep_cap` bytes (None: all of it): a command
    printing 200 MB costs the host 16 MB, and the marker says what was kept.
    A spill file that cannot be written (a full disk) is given up, not the
    call: the head and tail still come back, and the marker says why the
    whole output was not kept.
    """

    MARKER_BUDGET = 160

    def __init__(
        self, cap: int, keep_cap: int | None = None, spill_dir: Path | None = None
    ) -> None:
        self.keep_cap = keep_cap
        self.spilled = 0
        self.cap = max(cap, 0)
        self.spill_dir = spill_dir
        budget = max(self.cap - min(self.MARKER_BUDGET, self.cap // 2), 0)
        self.head_keep = budget // 2
        self.tail_keep = budget - self.head_keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.over = False  # past the cap: head + tail from here on
        self.spill: IO[bytes] | None = None
        self.spill_error: str | None = None  # why the whole output is not kept

    def write(self, stream: int, data: memoryview) -> None:
        self.total += len(data)
        if not self.over:
            if len(self.head) + len(data) <= self.cap:
                self.head += data
                return
            self.over = True
            try:
                self.spill = tempfile.NamedTemporaryFile(  # noqa: SIM115 - outlives this call
                    prefix="agentctl-output-", suffix=".log", delete=False, dir=self.spill_dir
                )
            except OSError as exc:
                self.spill_error = exc.strerror or str(exc)
            self._spill(self.head)
            # The head keeps its first head_keep bytes; the tail holds what follows them.
            self.tail = self.head[self.head_keep :]
            del self.head[self.head_keep :]
            room = self.head_keep - len(self.head)
            if room > 0:
                self.head += data[:room]
                self._spill(data)
                data = data[room:]
            else:
                self._spill(data)
        else:
            self._spill(data)
        if self.tail_keep:
            self.tail += data
            if len(self.tail) > 4 * self.tail_keep + _RECV:
                del self.tail[: -self.tail_keep]

    def _spill(self, data: bytes | bytearray | memoryview) -> None:
        if self.spill is None:
            return
        if self.keep_cap is not None:
            data = data[: max(self.keep_cap - self.spilled, 0)]
        if data:
            try:
                self.spill.write(data)
            except OSError as exc:
                self._give_up(exc)
                return
            self.spilled += len(data)

    def _give_up(self, exc: OSError) -> None:
        self.spill_error = exc.strerror or str(exc)
        self.discard()
        self.spill = None

    def finish(self) -> tuple[str, bool, Path | None]:
        """(output text, truncated, path of the whole output when truncated and kept)."""
        if not self.over:
            return self.head.decode("utf-8", errors="replace"), False, None
        path = None
        if self.spill is not None:
            try:
                self.spill.close()  # flushes: a full disk can still say no here
                path = Path(self.spill.name)
            except OSError as exc:
                self._give_up(exc)
        tail = bytes(self.tail[-self.tail_keep :]) if self.tail_keep else b""
        omitted = self.total - len(self.head) - len(tail)
        if path is None:
            kept = f"the whole output was not kept: {self.spill_error}"
        elif self.spilled >= self.total:
            kept = f"whole output in {path.name}"
        else:
            kept = f"first {self.spilled} bytes in {path.name}"
        marker = f"\n[... {omitted} bytes omitted of {self.total}; {kept} ...]\n"
        text = (
            self.head.decode("utf-8", errors="replace")
            + marker
            + tail.decode("utf-8", errors="replace")
        )
        return text, True, path

    def discard(self) -> None:
        if self.spill is not None:
            with contextlib.suppress(OSError):
                self.spill.close()
            Path(self.spill.name).unlink(missing_ok=True)
