"""The console script's entry: `--version` answers before anything is imported, and
`--help`, `ls`, `show`, `approvals` and `stats --json` try the quick path (agentctl/cli/quick.py) before
the typer app is imported."""

from __future__ import annotations

import sys


def run() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from agentctl import __version__

        print(f"agentctl {__version__}")
        sys.exit(0)
    from agentctl.cli.quick import answer

    code = answer(args)
    if code is not None:
        sys.exit(code)
    from agentctl.cli.main import run as main

    main()
