"""`agentctl run --context-window N` against a real daemon: the session compacts, `log`
shows the compaction, and `agentctl replay` of it is identical (its recording carries the
summaries: no model is asked for one).

The replayed responses report 3,300 input tokens each, so in a 4,000-token window every
request after the first passes 80%; from the third on there is an older step to cut.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agentctl.client import Client
from tests.support.cli import Run, final
from tests.support.daemon import reply

Recording = Callable[[list[dict[str, Any]]], str]


def heavy(response: dict[str, Any]) -> dict[str, Any]:
    return {**response, "usage": {"input_tokens": 3300, "output_tokens": 5}}


def test_run_with_a_context_window_compacts_and_its_replay_is_identical(
    daemon: Client, cli: Run, recording: Recording
) -> None:
    # each step's text is ~750 tokens: more than `keep` (30% of the window) holds twice
    steps = [
        heavy(reply(f"step {i} " + "w" * 3000, ("read_file", {"path": f"f{i}.txt"}), step=i))
        for i in range(4)
    ]
    summaries = [{"kind": "compaction", "text": f"read f0..f{i}.txt"} for i in range(4)]
    model = recording([*steps, heavy(final()), *summaries])
    result = cli(
        "run", "read the files", "--model", model, "--image", "none", "--policy",
        "permissive", "--context-window", "4000", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    sid = events[0]["session"]
    assert events[0]["data"]["context"]["window"] == 4000
    compacted = [e["data"] for e in events if e["type"] == "context.compacted"]
    assert [c["summary"] for c in compacted] == [s["text"] for s in summaries[: len(compacted)]]
    assert len(compacted) >= 2 and all(c["window"] == 4000 for c in compacted)

    shown = cli("log", sid)
    assert shown.returncode == 0 and "context compacted" in shown.stdout
    assert compacted[0]["summary"] in shown.stdout

    replay = cli("replay", sid, "--json")
    assert replay.returncode == 0, replay.stderr
    report = json.loads(replay.stdout.splitlines()[-1])
    assert report["identical"] is True and report["replay_status"] == "completed"
    again = [e.data for e in daemon.events(report["replay"]) if e.type == "context.compacted"]
    assert [(c["summary"], c["kept_from_seq"]) for c in again] == [
        (c["summary"], c["kept_from_seq"]) for c in compacted
    ]
