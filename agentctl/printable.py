"""Untrusted text (model output) made safe to write to a terminal as it streams.

Rich's `Text` does not interpret markup, but it passes escape sequences and
carriage returns through; a model could move the cursor or rewrite what a
person sees. Live deltas bypass the renderer, so they go through this first.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` safe for a terminal: newlines kept, tabs as spaces, other controls as �."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append("    ")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append("\ufffd")
    return "".join(out)


__all__ = ["printable"]
