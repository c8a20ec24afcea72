"""`agentctl --help` as click formats it, from `agentctl.cli.table`, without typer.

The quick path (agentctl/cli/quick.py) prints this; tests/cli/test_quick.py
keeps it equal to the typer app's help at every width and the terminal's.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # as typing's, without importing typing
if TYPE_CHECKING:
    from typing import Any

OPTIONS = (
    ("--debug", "Show tracebacks for errors."),
    ("--version", "Print the version."),
    ("--install-completion", "Install completion for the current shell."),
    (
        "--show-completion",
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
    ("-h, --help", "Show this message and exit."),
)


def help_width() -> int:
    """click's HelpFormatter width: the terminal's columns as `shutil.get_terminal_size`
    finds them (COLUMNS, then stdout's terminal, then 80), at most 80, less 2; at least 50."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return max(min(columns or 80, 80) - 2, 50)


def help_text(width: int) -> str:
    """`agentctl --help` at `width` (click's formatter width), the last newline included."""
    from agentctl.cli.table import COMMANDS, HELP

    parts = [_wrap("[OPTIONS] COMMAND [ARGS]...", width, "Usage: agentctl ", " " * 16), "\n"]
    parts += ["\n", _wrap_paragraphs(HELP, width, "  "), "\n"]
    parts += ["\n", "Options:\n", _definitions(list(OPTIONS), width)]
    limit = width - 6 - max(len(name) for name in COMMANDS)
    rows = [(name, _short_help(text, limit)) for name, (_, text) in COMMANDS.items()]
    parts += ["\n", "Commands:\n", _definitions(rows, width)]
    return "".join(parts).rstrip("\n") + "\n"


def _wrapper(width: int, initial: str = "", subsequent: str = "") -> Any:
    import textwrap

    class Wrapper(textwrap.TextWrapper):
        def _handle_long_word(  # click's: cut the word where the line ends
            self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int
        ) -> None:
            space_left = max(width - cur_len, 1)
            last = reversed_chunks[-1]
            cur_line.append(last[:space_left])
            reversed_chunks[-1] = last[space_left:]

    return Wrapper(
        width, initial_indent=initial, subsequent_indent=subsequent, replace_whitespace=False
    )


def _wrap(text: str, width: int, initial: str = "", subsequent: str = "") -> str:
    return str(_wrapper(width, initial, subsequent).fill(text.expandtabs()))


def _wrap_paragraphs(text: str, width: int, indent: str = "") -> str:
    """click's `wrap_text(..., preserve_paragraphs=True)`, for text without `\\b` blocks."""
    paragraphs: list[tuple[int, str]] = []
    lines: list[str] = []
    first_indent: int | None = None
    for line in [*text.expandtabs().splitlines(), ""]:
        if not line:
            if lines:
                paragraphs.append((first_indent or 0, " ".join(lines)))
            lines, first_indent = [], None
            continue
        if "\b" in line:
            raise ValueError("a \\b block")  # not in our help; click keeps those unwrapped
        if first_indent is None:
            stripped = line.lstrip()
            first_indent, line = len(line) - len(stripped), stripped
        lines.append(line)
    return "\n\n".join(
        _wrap(body, width, indent + " " * extra, indent + " " * extra) for extra, body in paragraphs
    )


def _definitions(rows: list[tuple[str, str]], width: int, indent: int = 2) -> str:
    """click's `HelpFormatter.write_dl` at an indentation of `indent`."""
    first_col = min(max(len(first) for first, _ in rows), 30) + 2
    text_width = max(width - first_col - 2, 10)
    out: list[str] = []
    for first, second in rows:
        out.append(" " * indent + first)
        if not second:
            out.append("\n")
            continue
        if len(first) <= first_col - 2:
            out.append(" " * (first_col - len(first)))
        else:
            out.append("\n" + " " * (first_col + indent))
        lines = _wrap_paragraphs(second, text_width).splitlines()
        out.append(lines[0] + "\n")
        out.extend(" " * (first_col + indent) + line + "\n" for line in lines[1:])
    return "".join(out)


def _short_help(text: str, limit: int) -> str:
    """click's `make_default_short_help`: the first paragraph, cut at `limit` with "..."."""
    words = text.split("\n\n")[0].split()
    total = 0
    for i, word in enumerate(words):
        total += len(word) + (i > 0)
        if total > limit:
            break
        if word[-1] == ".":
            return " ".join(words[: i + 1]).strip()
        if total == limit and i != len(words) - 1:
            break
    else:
        return " ".join(words).strip()
    total += len("...")
    while i > 0:
        total -= len(words[i]) + (i > 0)
        if total <= limit:
            break
        i -= 1
    return (" ".join(words[:i]) + "...").strip()
