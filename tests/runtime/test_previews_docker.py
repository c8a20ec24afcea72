"""A file tool's preview (`Tool.preview`): the diff an approver sees, made in a real sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from agentctl.tools import default_registry


@pytest.mark.docker
def test_the_file_tools_preview_their_change_and_say_why_they_cannot(
    docker_client: Any, sessions_cleanup: list[str]
) -> None:
    from agentctl.filediff import NoDiff
    from agentctl.runtime.sandbox_host import extra_labels
    from sandboxes import DockerSandboxDriver, SandboxSpec, ensure_default_image

    stream = "ses_previewdiffs"
    sessions_cleanup.append(stream)
    sandbox = DockerSandboxDriver().create(
        stream, SandboxSpec(image=ensure_default_image(), labels=extra_labels()), replace=True
    )
    sandbox.write_file("f.txt", "one\ntwo\ntwo\n")
    tools = default_registry()

    def preview(name: str, args: dict[str, Any]) -> str:
        tool, parsed = tools.validate(name, args)
        assert tool.preview is not None
        return tool.preview(sandbox, parsed)

    edit = preview("edit_file", {"path": "f.txt", "old": "one\n", "new": "uno\n"})
    assert "--- a/f.txt" in edit and "-one\n" in edit and "+uno\n" in edit
    new_file = preview("write_file", {"path": "new.txt", "content": "hello\n"})
    assert new_file.startswith("--- /dev/null\n+++ b/new.txt") and "+hello\n" in new_file
    with pytest.raises(NoDiff, match=r"`old` occurs 2 times in f.txt"):
        preview("edit_file", {"path": "f.txt", "old": "two\n", "new": "deux\n"})
    assert sandbox.read_file("f.txt") == "one\ntwo\ntwo\n"  # a preview changes nothing
    for name in ("shell", "read_file", "list_files", "wait"):
        assert tools.get(name).preview is None
