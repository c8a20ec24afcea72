"""Benchmark the sandbox driver against raw Docker.

Measures, on the default image:
- create_ms: create + start + the first command answered;
- exec medians of `true` (50 each) through the driver, through the raw SDK
  (exec_create + exec_start + exec_inspect) and through the `docker exec`
  CLI, all in the same container; exec_overhead_ratio = driver / raw SDK;
- checkpoint_ms: `checkpoint()` after writing a file;
- fork_ms: from a checkpoint image to a new container that has answered.

A readable summary goes to stderr; the last stdout line is one JSON object.
Targets: exec_overhead_ratio <= 1.2, fork_ms < 1000.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker

from sandboxes import DockerSandboxDriver, SandboxSpec, ensure_default_image

RUNS = 50
TARGET_RATIO = 1.2
TARGET_FORK_MS = 1000.0


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def median_ms(fn: Callable[[], object], runs: int = RUNS) -> float:
    for _ in range(3):  # warm connections and caches
        fn()
    return statistics.median(timed(fn) for _ in range(runs))


def interleaved_medians(fns: dict[str, Callable[[], object]], runs: int = RUNS) -> dict[str, float]:
    """Round-robin the contenders so drift in the engine hits them all alike."""
    for fn in fns.values():
        for _ in range(3):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            samples[name].append(timed(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    client = docker.from_env(timeout=300)
    image = ensure_default_image(client, log=lambda line: print(line, file=sys.stderr))
    driver = DockerSandboxDriver(client)
    run_id = uuid.uuid4().hex[:8]
    stream, fork_stream = f"bench_{run_id}", f"bench_{run_id}_fork"
    spec = SandboxSpec(image=image)
    checkpoints: list[str] = []
    try:
        started = time.perf_counter()
        sandbox = driver.create(stream, spec)
        sandbox.exec("true")
        create_ms = (time.perf_counter() - started) * 1000

        api = client.api
        cid = sandbox.container_id

        def raw_sdk() -> None:
            exec_id = api.exec_create(cid, ["true"], user=sandbox.user)["Id"]
            api.exec_start(exec_id)
            api.exec_inspect(exec_id)

        def raw_cli() -> None:
            subprocess.run(["docker", "exec", cid, "true"], check=True)

        def driver_exec() -> None:
            sandbox.exec("true")

        medians = interleaved_medians(
            {"driver": driver_exec, "raw_sdk": raw_sdk, "raw_cli": raw_cli}
        )

        sandbox.write_file("bench/data.txt", "x" * 10_000)
        started = time.perf_counter()
        checkpoint = sandbox.checkpoint(1)
        checkpoints.append(checkpoint.image)
        checkpoint_ms = (time.perf_counter() - started) * 1000

        started = time.perf_counter()
        fork = driver.restore(fork_stream, spec, checkpoint.image)
        answer = fork.exec("cat bench/data.txt | wc -c")
        fork_ms = (time.perf_counter() - started) * 1000
        assert answer.output.strip() == "10000", answer
    finally:
        driver.remove_stream(stream)
        driver.remove_stream(fork_stream)
        for ref in checkpoints:
            client.api.remove_image(ref, force=True)
    ratio = round(medians["driver"] / medians["raw_sdk"], 3)
    result: dict[str, object] = {
        "exec_overhead_ratio": ratio,
        "exec_cli_ratio": round(medians["driver"] / medians["raw_cli"], 3),
        "exec_driver_ms": round(medians["driver"], 2),
        "exec_raw_sdk_ms": round(medians["raw_sdk"], 2),
        "exec_raw_cli_ms": round(medians["raw_cli"], 2),
        "create_ms": round(create_ms, 1),
        "checkpoint_ms": round(checkpoint_ms, 1),
        "fork_ms": round(fork_ms, 1),
        "runs": RUNS,
        "image": image,
    }
    ok = ratio <= TARGET_RATIO and fork_ms < TARGET_FORK_MS
    print(
        f"sandbox bench ({RUNS} runs each, image {image})\n"
        f"  exec true: driver {medians['driver']:.2f} ms, raw SDK {medians['raw_sdk']:.2f} ms, "
        f"docker CLI {medians['raw_cli']:.2f} ms\n"
        f"  exec_overhead_ratio {ratio} (target <= {TARGET_RATIO}), "
        f"vs CLI {result['exec_cli_ratio']}\n"
        f"  create {create_ms:.0f} ms, checkpoint {checkpoint_ms:.0f} ms, "
        f"fork {fork_ms:.0f} ms (target < {TARGET_FORK_MS:.0f})\n"
        f"  {'OK' if ok else 'TARGET MISSED'}",
        file=sys.stderr,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
