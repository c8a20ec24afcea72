"""The daemon's JSON answers: a list is the same text whichever way it is made."""

from __future__ import annotations

from agentctl.daemon.web import json_response
from agentctl.protocol import ErrorBody
from tests.tui.stub import APPROVALS, SESSIONS


def test_a_list_is_each_items_json_joined() -> None:
    for items in (SESSIONS, APPROVALS, SESSIONS[:1]):
        body = bytes(json_response(items).body)
        assert body == ("[" + ",".join(i.model_dump_json() for i in items) + "]").encode()
    mixed = [SESSIONS[0], ErrorBody(code="x", message="y")]
    body = bytes(json_response(mixed).body)
    assert body == ("[" + ",".join(i.model_dump_json() for i in mixed) + "]").encode()
    assert bytes(json_response([]).body) == b"[]"
