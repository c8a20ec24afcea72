"""The task of a webhook's session, rendered from its payload — as text, never code.

A template holds placeholders `{{payload.a.b}}` (dots walk objects; a number
indexes a list). Rendering is one pass of a regular expression over the
template: a value is put in as text and never looked at again, so a payload
holding `{{payload.x}}`, `{% ... %}`, `${...}` or shell syntax is just those
characters. Strings go in as they are (control characters other than newline
and tab removed, each value capped); anything else as its JSON. A placeholder
the payload lacks is an error naming it, so a wrong template does not start a
session with a hole in its task.
"""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*payload((?:\.[A-Za-z0-9_-]+)*)\s*\}\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
MAX_VALUE = 8_000
MAX_TASK = 64_000


class TemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    if not PLACEHOLDER.search(template) and "{{" in template:
        raise TemplateError("placeholders look like {{payload.field}} or {{payload.a.b}}")
    rest = PLACEHOLDER.sub("", template)
    if "{{" in rest:
        bad = rest[rest.index("{{") :][:40]
        raise TemplateError(f"not a placeholder: {bad!r} (write {{{{payload.field}}}})")


def _lookup(payload: Any, path: list[str], spelled: str) -> Any:
    value = payload
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise TemplateError(f"the payload has no {spelled}")
    return value


def _as_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = _CONTROL.sub("", text)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def render(template: str, payload: Any) -> str:
    def one(match: re.Match[str]) -> str:
        path = [p for p in match.group(1).split(".") if p]
        spelled = "payload" + match.group(1)
        return _as_text(_lookup(payload, path, spelled))

    task = PLACEHOLDER.sub(one, template)
    if len(task) > MAX_TASK:
        raise TemplateError(f"the rendered task is {len(task)} characters (at most {MAX_TASK})")
    if not task.strip():
        raise TemplateError("the rendered task is empty")
    return task


__all__ = ["TemplateError", "check_template", "render"]
