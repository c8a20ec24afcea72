"""`agentctl doctor`: is everything a session needs in place, and what to do where it is not.

Each check is a small function returning a `Check`: the Docker engine, the
default sandbox image, the daemon (started the way any command starts it, so
the check proves it can start), its database (as the daemon reports it: a
client never opens the database), the configuration files, and the model
providers' API keys (present or not; a key is never printed). A missing key is
a warning, not a failure: it matters only to the provider that needs it.
Exit 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

import typer
from rich.markup import escape

from agentctl import __version__
from agentctl.cli.common import out, print_json
from agentctl.errors import AgentctlError, ExitCode
from agentctl.paths import Paths, get_paths
from agentctl.protocol import DaemonStatus
from agentctl.terminal import clean, clean_line

Status = Literal["ok", "warn", "fail", "skip"]
MARK = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[bold red]✗[/]", "skip": "[dim]-[/]"}


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class _Context:
    paths: Paths
    engine_ok: bool = False
    daemon: DaemonStatus | None = None


def _engine(ctx: _Context) -> Check:
    from sandboxes import DockerSandboxDriver, SandboxError
    from sandboxes.address import describe_engine

    where = describe_engine()
    try:
        DockerSandboxDriver().ping()
    except SandboxError as exc:
        return Check(
            "engine",
            "fail",
            f"no Docker engine answers on {where}: {exc}",
            "start it (`make docker`, or `sudo systemctl start docker`), or point DOCKER_HOST at one",
        )
    ctx.engine_ok = True
    return Check("engine", "ok", f"Docker answers on {where}")


def _image(ctx: _Context) -> Check:
    if not ctx.engine_ok:
        return Check("image", "skip", "needs the engine")
    from sandboxes import DockerSandboxDriver
    from sandboxes.recipe import image_tag

    tag = image_tag()
    if not DockerSandboxDriver().has_image(tag):
        return Check(
            "image",
            "fail",
            f"the default sandbox image {tag} is not built",
            "run `agentctl sandbox build` (offline from the Debian mirror when no registry answers)",
        )
    return Check("image", "ok", f"{tag} is built")


def _registry(ctx: _Context) -> list[Check]:
    """`[sandbox] registry`: answers its /v2/ (asked from here; the engine pushes to it)."""
    import urllib.error
    import urllib.request

    from agentctl.config import load_config
    from agentctl.errors import AgentctlError

    try:
        registry = load_config(ctx.paths.config_file, sections=("sandbox",)).sandbox.registry
    except AgentctlError as exc:
        return [Check("registry", "fail", str(exc), "fix [sandbox] in config.toml")]
    if registry is None:
        return []  # checkpoints stay on this engine: nothing to check
    failure: Exception | None = None
    for scheme in ("https", "http"):  # Docker tries https first; plain http on loopback
        try:
            with urllib.request.urlopen(f"{scheme}://{registry}/v2/", timeout=5):
                failure = None
                break
        except urllib.error.HTTPError as exc:
            failure = None if exc.code == 401 else exc  # 401: it answers, wants a login
            break
        except (urllib.error.URLError, OSError) as exc:
            failure = exc
    if failure is not None:
        return [
            Check(
                "registry",
                "fail",
                f"no registry answers on {registry}: {failure}",
                "start it, or fix [sandbox] registry: checkpoints cannot be pushed meanwhile",
            )
        ]
    return [Check("registry", "ok", f"{registry} answers; checkpoints are pushed there")]


def _daemon(ctx: _Context) -> Check:
    from agentctl.daemon import lifecycle

    try:
        current = lifecycle.status(ctx.paths)
        started = current is None
        if current is None:
            lifecycle.start_background(ctx.paths)
            current = lifecycle.status(ctx.paths)
    except AgentctlError as exc:
        return Check(
            "daemon", "fail", f"the daemon does not start: {exc}", f"see {ctx.paths.daemon_log}"
        )
    if current is None:
        return Check(
            "daemon",
            "fail",
            "the daemon started but does not answer",
            f"see {ctx.paths.daemon_log}",
        )
    ctx.daemon = current
    how = "started it now" if started else f"up {current.uptime_s:.0f}s"
    detail = f"pid {current.pid}, agentctl {current.version}, {how}, socket {current.socket}"
    if current.version != __version__:
        return Check(
            "daemon",
            "fail",
            f"{detail}: this client is {__version__}",
            "restart it with this version: `agentctl daemon stop` (the next command starts it)",
        )
    return Check("daemon", "ok", detail)


def _database(ctx: _Context) -> Check:
    if ctx.daemon is None:
        return Check("database", "skip", "needs the daemon")
    from store.migrations import MIGRATIONS

    expected = max(m.version for m in MIGRATIONS)
    schema = getattr(ctx.daemon, "schema_version", None)  # reported by newer daemons
    sessions = sum(ctx.daemon.sessions.values())
    detail = f"{ctx.daemon.database}, {sessions} sessions, last offset {ctx.daemon.last_offset}"
    if schema is None:
        return Check(
            "database",
            "ok",
            f"{detail}; schema version not reported (this build expects {expected})",
        )
    if schema != expected:
        return Check(
            "database",
            "fail",
            f"{detail}; schema version {schema}, this build expects {expected}",
            "restart the daemon (`agentctl daemon stop`): it migrates the database on start",
        )
    return Check("database", "ok", f"{detail}; schema version {schema}")


def _plugins(ctx: _Context) -> list[Check]:
    """What the daemon loaded of the installed plugins (`docs/extending.md`)."""
    if ctx.daemon is None:
        return [Check("plugins", "skip", "needs the daemon")]
    checks = []
    for ref in ctx.daemon.plugins:
        what = "tools" if ref.group == "agentctl.tools" else "model scheme"
        detail = f"{ref.distribution or '?'} {ref.version or ''}: {what} {', '.join(ref.provides)}"
        checks.append(Check(f"plugin {ref.name}", "ok", detail))
    for error in ctx.daemon.plugin_errors:
        checks.append(
            Check("plugin", "warn", error, "fix or uninstall it, then restart the daemon")
        )
    return checks or [Check("plugins", "ok", "none installed")]


def _config(ctx: _Context) -> Check:
    from agentctl.config import load_config
    from agentctl.policy import load_policy

    problems: list[str] = []
    found: list[str] = []
    config_file = ctx.paths.config_file
    if config_file.is_file():
        found.append(str(config_file))
        try:
            config = load_config(config_file, sections=())
        except AgentctlError as exc:  # not TOML: nothing else can be said
            problems.append(str(exc))
        else:  # every section's mistakes, each naming its key
            problems += [f"{config_file}: {problem}" for problem in config.problems.values()]
    try:
        policy = load_policy(None, config_dir=ctx.paths.config)
        found.append(f"policy {policy.name!r}")
    except AgentctlError as exc:
        problems.append(str(exc))
    if problems:
        return Check("config", "fail", "; ".join(problems), "fix the file (see docs/policy.md)")
    return Check("config", "ok", ", ".join(found))


def _providers(ctx: _Context) -> list[Check]:
    """The endpoints and keys as the daemon resolves them: what a session will really get.

    Asking the daemon, not this shell's environment, is the point: a key
    exported here after the daemon started is invisible to it, while one set
    with `agentctl keys set` is seen at once.
    """
    checks = [Check("replay", "ok", "replay:PATH plays a recording offline; no key needed")]
    if ctx.daemon is None:
        checks.append(Check("providers", "skip", "needs the daemon"))
        return checks
    from agentctl.daemon.lifecycle import connect

    with connect(ctx.paths, autostart=False) as client:
        view = client.providers()
    if view.config_error:
        checks.append(Check("providers", "fail", view.config_error, "see docs/providers.md"))
    for endpoint in view.endpoints:
        where = f"{endpoint.kind} API at {endpoint.base_url} ({endpoint.source})"
        if endpoint.key_source is None:
            checks.append(Check(endpoint.name, "ok", f"{where}; no key needed"))
        elif endpoint.key_source == "env":
            detail = f"{where}; the daemon has key {endpoint.key_name!r} from {endpoint.key_env}"
            checks.append(Check(endpoint.name, "ok", detail))  # never the key itself
        elif endpoint.key_source == "file":
            detail = f"{where}; key {endpoint.key_name!r} from {view.keys_file}"
            checks.append(Check(endpoint.name, "ok", detail))
        else:
            needed = (
                "needs it"
                if endpoint.kind == "anthropic"
                else "needs it unless the server wants none"
            )
            checks.append(
                Check(
                    endpoint.name,
                    "warn",
                    f"{where}; the daemon sees no key {endpoint.key_name!r}: {endpoint.name}:MODEL {needed}",
                    f"`agentctl keys set {endpoint.key_name}` (used at once), or export "
                    f"{endpoint.key_env} and restart the daemon (`agentctl daemon stop`)",
                )
            )
    return checks


CHECKS: tuple[Callable[[_Context], Check | list[Check]], ...] = (
    _engine,
    _image,
    _registry,
    _daemon,
    _database,
    _plugins,
    _config,
    _providers,
)


def run_checks(paths: Paths | None = None) -> list[Check]:
    ctx = _Context(paths=(paths or get_paths()).ensure())
    results: list[Check] = []
    for check in CHECKS:
        try:
            result = check(ctx)
        except Exception as exc:  # a check that breaks is a failed check, not a traceback
            result = Check(check.__name__.strip("_"), "fail", f"{type(exc).__name__}: {exc}")
        results.extend(result if isinstance(result, list) else [result])
    return results


def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help='One JSON object: {"ok": …, "checks": [...]}.')
    ] = False,
) -> None:
    """Check the Docker engine, the sandbox image, the daemon, its database, the plugins it
    loaded, the configuration and the model providers' keys, and say what to do about each.

    Exit 0 when no check failed (a missing API key is a warning), 1 otherwise.
    """
    checks = run_checks()
    ok = all(c.status != "fail" for c in checks)
    if as_json:
        print_json({"ok": ok, "checks": [asdict(c) for c in checks]})
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            # a plugin names itself: its name and messages are not ours
            name, detail = escape(clean_line(c.name)), escape(clean(c.detail))
            out.print(f"{MARK[c.status]} {name:<{width}}  {detail}")
            if c.fix and c.status in ("fail", "warn"):
                out.print(f"  {'':<{width}}  [dim]→ {escape(clean(c.fix))}[/]")
    raise typer.Exit(ExitCode.COMPLETED if ok else ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
