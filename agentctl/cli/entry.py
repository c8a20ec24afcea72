"""The console script's entry: `--version` answers before anything is imported."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from agentctl import __version__

        print(f"agentctl {__version__}")
        sys.exit(0)
    from agentctl.cli.main import run as main

    main()
