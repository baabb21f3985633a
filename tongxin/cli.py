"""`tongxin`: dev tokens, the embedded default (`tongxin run`) and the demo loader."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from contracts.platform import Platform, Process, load_platform
from services.kit.auth import ROLES, DevIssuer
from services.kit.deadlines.clock import CLOCK_FILE_ENV
from services.kit.settings import Settings
from tongxin import demo as demo_module
from tongxin import natsauth, natsserver, ports
from tongxin.demo.core import CLOCKED_SERVICES, clock_file
from tongxin.ops.cli import ops_app
from tongxin.privacy_cli import privacy_app
from tongxin.supervisor import Supervisor

app = typer.Typer(
    help="Tongxin 同心: the embedded default, dev tokens and the demo city.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(ops_app, name="ops")
app.add_typer(privacy_app, name="privacy")
console = Console()
err = Console(stderr=True)

START_TIMEOUT_ENV = "TONGXIN_START_TIMEOUT_S"
NATS_PASSWORDS_FILE = "nats-passwords.json"
# Before every service got its own key, the volunteers' store used this one.
LEGACY_CIPHER_KEY = "cipher.key"
LEGACY_CIPHER_KEY_OWNER = "volunteers"


class Abort(Exception):
    """Startup failed; the message says why."""


def _state_dir() -> Path:
    return Settings().state_dir.resolve()


def _role(value: str) -> str:
    if value not in ROLES:
        raise typer.BadParameter(f"{value!r} is not a role; choose one of: {', '.join(ROLES)}")
    return value


def _ports() -> ports.Ports:
    try:
        return ports.Ports.from_env()
    except ports.PortError as exc:
        err.print(f"[red]tongxin:[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def token(
    role: Annotated[
        str, typer.Option(callback=_role, help=f"One of: {', '.join(ROLES)}.", show_default=False)
    ],
    department: Annotated[
        str | None, typer.Option(help="Department code, e.g. cyl, pol, edu.")
    ] = None,
    scope: Annotated[
        str, typer.Option(help='"city" or space-separated "school:<id>" / "community:<id>".')
    ] = "city",
    subject: Annotated[str | None, typer.Option(help="The token's sub (default: random).")] = None,
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds.")] = 8 * 3600,
) -> None:
    """Print a bearer token signed by the dev issuer of the state folder."""
    issuer = DevIssuer(_state_dir() / "keys")
    typer.echo(
        issuer.token(role=role, subject=subject, department=department, scope=scope, ttl_s=ttl)
    )


@app.command()
def demo() -> None:
    """Load the demo city into running services (safe to repeat)."""
    p = _ports()
    state = _state_dir()
    try:
        demo_module.load_demo(
            _endpoints(p), state, console=console, department_nats=_department_nats(p, state)
        )
    except demo_module.DemoError as exc:
        err.print(f"[red]tongxin demo:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def run(
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not load the demo city.")] = False,
) -> None:
    """Start the embedded default: nats-server, the services and the gateway. Ctrl-C stops all."""
    p = _ports()
    ports.require_free(p)
    state = _state_dir()
    state.mkdir(parents=True, exist_ok=True)
    issuer = DevIssuer(state / "keys")
    (state / "keys").chmod(0o700)
    cipher_keys = ensure_cipher_keys(state / "keys")

    supervisor = Supervisor()
    previous = _install_signal_handlers()
    try:
        _start(supervisor, p, state, cipher_keys)
        pending = demo_module.pending(state)
        if no_demo:
            console.print("demo: skipped (--no-demo)")
        elif not pending:
            console.print(f"demo: already loaded (markers demo-loaded* in {state})")
        else:
            try:
                demo_module.load_demo(
                    _endpoints(p),
                    state,
                    only=pending,
                    issuer=issuer,
                    console=console,
                    department_nats=_department_nats(p, state),
                )
            except demo_module.DemoError as exc:  # keep the platform up; the load can resume
                err.print(f"[red]demo failed:[/] {exc}")
                err.print("the services keep running; `tongxin demo` resumes the load")
        # The departments' own systems meet the platform on the bus only, once it is up.
        for name, argv, env in department_systems(p, state, nats_passwords(state)):
            supervisor.add(name, argv, env=env, stop_wave=1)
        _banner(p, state)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("\nstopping…")
    except Abort as exc:
        err.print(f"[red]tongxin run:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        console.print("stopped.")


def ensure_cipher_key(path: Path) -> str:
    """An AES key for one event store: made once (32 random bytes, base64), 0600."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.b64encode(os.urandom(32)).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key + "\n")
    return key


def cipher_key_path(keys: Path, service: str) -> Path:
    """Where a service's key lives; a state folder from before keeps the volunteers' old one."""
    legacy = keys / LEGACY_CIPHER_KEY
    if service == LEGACY_CIPHER_KEY_OWNER and legacy.exists():
        # Left in place (not renamed), so an older checkout on the same state still reads it.
        return legacy
    return keys / f"cipher-{service}.key"


def ensure_cipher_keys(keys: Path, platform: Platform | None = None) -> dict[str, str]:
    """Every service store's own key, by service name."""
    platform = platform or load_platform()
    return {
        p.name: ensure_cipher_key(cipher_key_path(keys, p.name))
        for p in platform.processes
        if p.has_store
    }


@app.command("nats-auth")
def nats_auth(
    write: Annotated[
        bool, typer.Option("--write", help="Rewrite the committed copies instead of printing.")
    ] = False,
) -> None:
    """Print the nats-server authorization generated from the ownership map and partners."""
    text = natsauth.render_authorization(natsauth.users())
    if not write:
        typer.echo(text, nl=False)
        return
    for path in natsauth.write_committed(text):
        console.print(f"wrote {path}")


@app.command("asyncapi")
def asyncapi(
    department: Annotated[str, typer.Argument(help="The department's code (pol, jus, …).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the document here instead of printing.")
    ] = None,
) -> None:
    """The AsyncAPI 3 document of a department system's channels (tongxin/connector)."""
    from tongxin.connector.asyncapi import document

    text = json.dumps(document(department), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")


# The demo city's department systems (departments/, on tongxin/connector): module, and the
# departments whose NATS users it connects as.
DEPARTMENT_SYSTEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("dept-pol-checks", "departments.checks", ("pol",)),
    ("dept-civ-referrals", "departments.referrals", ("civ",)),
    (
        "dept-reports",
        "departments.reports",
        ("jus", "sci", "wf", "fin", "pol", "civ", "hlth", "proc", "ccng"),
    ),
)


def department_systems(
    p: ports.Ports, state: Path, passwords: dict[str, str]
) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, argv, env) of each department system, each with its departments' passwords."""
    result = []
    for name, module, codes in DEPARTMENT_SYSTEMS:
        env = child_env(p, state, http_port=0)
        with contextlib.suppress(LookupError):  # a manifest without care refers nobody
            env["TONGXIN_CARE_URL"] = p.url("care")
        for code in codes:
            variable = natsauth.password_env(f"dept-{code}")
            env[variable] = passwords[variable]
        if len(codes) == 1:
            env["TONGXIN_NATS_USER"] = f"dept-{codes[0]}"
            env["TONGXIN_NATS_PASSWORD"] = passwords[natsauth.password_env(f"dept-{codes[0]}")]
        result.append((name, [sys.executable, "-m", module], env))
    return result


def nats_passwords(state: Path) -> dict[str, str]:
    """Every NATS user's password by its variable name; made once, kept 0600 in the state."""
    return natsauth.ensure_passwords(state / "keys" / NATS_PASSWORDS_FILE, natsauth.users())


def _department_nats(
    p: ports.Ports, state: Path
) -> Callable[[str], demo_module.NatsAccount | None]:
    """A department system's own NATS credentials, once `tongxin run` has made them."""

    def account(department: str) -> demo_module.NatsAccount | None:
        path = state / "keys" / NATS_PASSWORDS_FILE
        if not path.exists():
            return None
        user = f"dept-{department}"
        password = nats_passwords(state).get(natsauth.password_env(user))
        if password is None:
            return None
        return demo_module.NatsAccount(
            url=f"nats://{ports.HOST}:{p.nats}", user=user, password=password
        )

    return account


def service_urls(p: ports.Ports, platform: Platform | None = None) -> str:
    """TONGXIN_SERVICE_URLS of the embedded default: every service at its local port."""
    platform = platform or load_platform()
    return ",".join(f"{s.name}={p.url(s.name)}" for s in platform.services())


def child_env(
    p: ports.Ports,
    state: Path,
    *,
    http_port: int,
    base: dict[str, str] | None = None,
    platform: Platform | None = None,
) -> dict[str, str]:
    """The environment every process of the embedded default shares, with its own port."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "TONGXIN_HTTP_PORT": str(http_port),
            "TONGXIN_NATS_URLS": f"nats://{ports.HOST}:{p.nats}",
            "TONGXIN_STATE_DIR": str(state),
            # The embedded default trusts its own dev issuer (keys in the state folder).
            "TONGXIN_AUTH_DEV": "true",
            "TONGXIN_SERVICE_URLS": service_urls(p, platform),
            "PYTHONUNBUFFERED": "1",
        }
    )
    # One nats-server: a pull request is lost only with the connection, and a reconnect
    # asks again at once, so the heartbeat that finds one lost with a cluster node can be
    # slow (a heartbeat a second per consumer was most of the stack's idle cost).
    env.setdefault("TONGXIN_CONSUMER_HEARTBEAT_S", "5")
    return env


@dataclass(frozen=True)
class ChildSpec:
    """One child of the embedded default's supervisor."""

    process: Process
    argv: list[str]
    env: dict[str, str]
    health_url: str

    @property
    def name(self) -> str:
        return self.process.name


def children(
    p: ports.Ports,
    state: Path,
    cipher_keys: dict[str, str],
    passwords: dict[str, str],
    platform: Platform | None = None,
) -> list[ChildSpec]:
    """Every process of the manifest, in start order, as the supervisor runs it."""
    platform = platform or load_platform()
    result = []
    for process in platform.processes:
        port = p.of(process.name)
        env = child_env(p, state, http_port=port, platform=platform)
        env["TONGXIN_NATS_USER"] = process.nats_user
        env["TONGXIN_NATS_PASSWORD"] = passwords[natsauth.password_env(process.nats_user)]
        if process.has_store:
            env["TONGXIN_CIPHER_KEY"] = cipher_keys[process.name]
        if process.name in CLOCKED_SERVICES:
            env[CLOCK_FILE_ENV] = str(clock_file(state, process.name))
        argv = [sys.executable, "-m", process.module]
        result.append(ChildSpec(process, argv, env, f"{p.url(process.name)}/healthz"))
    return result


def _start(
    supervisor: Supervisor, p: ports.Ports, state: Path, cipher_keys: dict[str, str]
) -> None:
    timeout_s = float(os.environ.get(START_TIMEOUT_ENV, "60"))
    passwords = nats_passwords(state)
    authorization = natsauth.render_authorization(natsauth.users())
    try:
        nats = natsserver.prepare(p.nats, state / "nats", authorization=authorization)
    except natsserver.NatsServerNotFound as exc:
        raise Abort(str(exc)) from None
    supervisor.start()
    # The authorization reads every user's password from the server's environment.
    supervisor.add("nats", nats.argv, env=dict(os.environ) | passwords)
    if not natsserver.wait_listening(p.nats, timeout_s=timeout_s):
        raise Abort(
            f"nats-server did not listen on {ports.HOST}:{p.nats} within {timeout_s:.0f} s; "
            "see its output above (lines prefixed 'nats')"
        )
    specs = children(p, state, cipher_keys, passwords)
    for spec in specs:
        supervisor.add(spec.name, spec.argv, env=spec.env, stop_wave=1)  # before nats-server
    for spec in specs:
        wait_healthy(spec.name, spec.health_url, timeout_s, supervisor)


def wait_healthy(
    name: str, url: str, timeout_s: float, supervisor: Supervisor | None = None
) -> None:
    """Poll GET url until it answers 200; Abort with a clear message after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(url)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.25)
    restarts = ""
    if supervisor is not None and name in supervisor.children:
        restarts = f", restarted {supervisor.children[name].restarts} times"
    raise Abort(
        f"{name} did not answer GET {url} with 200 within {timeout_s:.0f} s "
        f"(last: {last}{restarts}); see its output above (lines prefixed '{name}'). "
        f"Set {START_TIMEOUT_ENV} to wait longer."
    )


def _endpoints(p: ports.Ports, platform: Platform | None = None) -> demo_module.Endpoints:
    platform = platform or load_platform()
    return demo_module.Endpoints(
        {process.name: p.url(process.name) for process in platform.processes}
    )


def token_command(state: Path, role: str = "viewer") -> str:
    """A ready-to-paste command printing a token for the same state folder."""
    exe = Path(sys.executable).parent / "tongxin"
    shown = "tongxin"
    if exe.exists():
        try:
            shown = str(exe.relative_to(Path.cwd()))
        except ValueError:
            shown = str(exe)
    cmd = shlex.quote(shown)
    prefix = ""
    if os.environ.get("TONGXIN_STATE_DIR"):
        prefix = f"TONGXIN_STATE_DIR={shlex.quote(str(state))} "
    return f"{prefix}{cmd} token --role {role} --scope city"


def banner_lines(p: ports.Ports, platform: Platform | None = None) -> list[tuple[str, str]]:
    """(label, address) of every process of the manifest, then NATS."""
    platform = platform or load_platform()
    lines = []
    # The gateway first: it is the front door.
    ordered = sorted(platform.processes, key=lambda process: process.kind != "gateway")
    for process in ordered:
        if process.kind == "gateway":
            lines.append(("city dashboard", f"{p.url(process.name)}/"))
            lines.append(("GraphQL / GraphiQL", f"{p.url(process.name)}/graphql"))
        else:
            lines.append((f"{process.title} docs", f"{p.url(process.name)}/docs"))
    lines.append(("NATS", f"nats://{ports.HOST}:{p.nats}"))
    return lines


def _banner(p: ports.Ports, state: Path) -> None:
    console.print()
    console.print("[bold green]Tongxin 同心 is running[/] (Ctrl-C stops everything)")
    lines = banner_lines(p) + [("state folder", str(state))]
    width = max(len(label) for label, _ in lines) + 2
    for label, address in lines:
        console.print(f"  {label.ljust(width)}{address}", highlight=False)
    console.print("  a viewer token:")
    console.print(f"    {token_command(state)}", highlight=False, soft_wrap=True)
    console.print()


def _install_signal_handlers() -> dict[int, Any]:
    """SIGTERM behaves like Ctrl-C: the `finally` of `run` stops every child."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, interrupt)
    return previous


if __name__ == "__main__":  # pragma: no cover
    app()
