"""`agentctl keys set|ls|rm NAME`: API keys by name, in a 0600 file of the config folder.

The value is read from a hidden prompt, or from stdin when it is piped
(`pass show openai | agentctl keys set openai`), never from the command
line, where it would stay in the shell's history. `ls` shows names and
where each key comes from, never a value. The daemon reads the file at each
request, so a key set here is used by the next model call without a restart.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from agentctl.cli.common import command, out, print_json
from agentctl.errors import UsageError
from agentctl.keys import KeyStore, check_name, env_var
from agentctl.paths import get_paths

app = typer.Typer(
    help="API keys by name (a 0600 file in the config folder; the environment overrides it).",
    no_args_is_help=True,
)

NameArg = Annotated[
    str,
    typer.Argument(
        metavar="NAME", help="The key's name: openai, anthropic, or an endpoint's api_key_name."
    ),
]


def _store() -> KeyStore:
    return KeyStore(get_paths().ensure().config)


@app.command("set")
@command
def set_key(name: NameArg) -> None:
    """Store a key; the value comes from a hidden prompt, or stdin when piped."""
    check_name(name)
    if sys.stdin.isatty():
        value = typer.prompt(f"key for {name}", hide_input=True)
    else:
        value = sys.stdin.read()
    if not value.strip():
        raise UsageError("no key given", hint="type it at the prompt, or pipe it on stdin")
    store = _store()
    store.set(name, value)
    out.print(f"stored {name} in {store.path} ({env_var(name)} overrides it when set)")


@app.command("ls")
@command
def list_keys(
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list of {name, env, source}.")
    ] = False,
) -> None:
    """The stored keys' names and where each key comes from (never the key itself)."""
    store = _store()
    names = sorted(set(store.stored()) | {"openai", "anthropic"})
    infos = [store.info(n) for n in names]
    if as_json:
        print_json([{"name": i.name, "env": i.env, "source": i.source} for i in infos])
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("NAME", "SOURCE", "OVERRIDDEN BY"):
        table.add_column(column, no_wrap=True)
    for i in infos:
        table.add_row(i.name, i.source, i.env)
    out.print(table)


@app.command("rm")
@command
def remove_key(name: NameArg) -> None:
    """Remove a stored key (an environment variable of the same name still applies)."""
    store = _store()
    if not store.remove(name):
        raise UsageError(f"no stored key named {name!r}", hint="see `agentctl keys ls`")
    out.print(f"removed {name}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")
