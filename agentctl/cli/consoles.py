"""The two consoles every command prints through: results on stdout, the rest on stderr.

Rich turns colour off by itself when the stream is not a terminal; `NO_COLOR`
(no-color.org) turns off every style, not only colours, so the output is
plain text. Piped output is not cut at 80 columns: ids must survive `awk`.
Apart from `agentctl.cli.common` (which imports typer and pydantic) so the
quick path of `ls`, `show` and `approvals` (`agentctl/cli/quick.py`) prints
through the very same consoles.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPE_WIDTH = 200  # piped output: wide enough that tables never cut an id


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    plain = bool(os.environ.get("NO_COLOR")) and not os.environ.get("FORCE_COLOR")
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = PIPE_WIDTH
    return Console(
        stderr=stderr,
        highlight=False,
        soft_wrap=True,
        width=width,
        no_color=plain or None,
        color_system=None if plain else "auto",
    )


out = _console(stderr=False)
err = _console(stderr=True)
