"""The image, checked by what runs here (no Docker engine): the Dockerfile's stages, base
tag, user and final-stage contents; the runtime lock it installs; the health check it
ships; and that every process the deployment starts is a module that accepts its command.
"""

from __future__ import annotations

import http.server
import importlib.metadata
import importlib.util
import json
import re
import shlex
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from contracts.platform import load_platform
from tongxin.deploygen import command_of, relay_command_of

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
RUNTIME_LOCK = ROOT / "requirements.runtime.lock"
DEV_LOCK = ROOT / "requirements.lock"
HEALTHCHECK = ROOT / "deploy" / "compose" / "healthcheck.py"
UID = 10001

PLATFORM = load_platform()
# What each entry point's `serve`/`relay` (and the gateway's `project`/`rebuild`) starts.
STARTS_BY_COMMAND = {
    "serve": ["http", "FastAPI"],
    "relay": ["loop", "run_relay"],
    None: ["http", "FastAPI"],
    "project": ["loop", "project"],
    "rebuild": ["loop", "rebuild"],
}
GATEWAY_TOOLS = ["project", "rebuild"]


def _processes() -> list[tuple[str, str | None]]:
    """Every process the deployment starts, as `python -m <module> [<command>]`."""
    found: list[tuple[str, str | None]] = []
    for process in PLATFORM.processes:
        module, *command = command_of(process)
        found.append((module, command[0] if command else None))
        if process.relay:
            found.append((process.module, relay_command_of(process)[1]))
        if process.kind == "gateway":
            found += [(process.module, tool) for tool in GATEWAY_TOOLS]
    return found


PROCESSES = _processes()


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            assert instruction == "ARG", f"{instruction} before the first FROM"
            key, _, default = args.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append((instruction, args))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def resolve(base: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)


def test_builder_and_runtime_share_one_pinned_slim_base(dockerfile) -> None:
    args, stages = dockerfile
    assert [stage.name for stage in stages] == ["builder", "web", "runtime"]
    bases = {resolve(stage.base, args) for stage in stages if stage.name != "web"}
    assert len(bases) == 1, "builder and runtime must share the interpreter they copy between"
    (base,) = bases
    # An exact patch release and Debian release: never a moving tag such as 3.11-slim.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base


def test_graphiql_files_come_from_the_lock_into_the_runtime(dockerfile) -> None:
    args, stages = dockerfile
    web, runtime = stages[1], stages[-1]
    assert re.fullmatch(r"node:\d+\.\d+\.\d+-bookworm-slim", resolve(web.base, args))
    assert "package.json package-lock.json ./" in web.args_of("COPY")
    assert any(run.startswith("npm ci --ignore-scripts") for run in web.args_of("RUN"))
    copied = "--from=web /web/node_modules /opt/tongxin/web/node_modules"
    assert copied in runtime.args_of("COPY")
    assert "TONGXIN_WEB_ASSETS_DIR=/opt/tongxin/web/node_modules" in " ".join(
        runtime.args_of("ENV")
    )


def test_the_final_stage_runs_as_an_unprivileged_numeric_user(dockerfile) -> None:
    _, stages = dockerfile
    runtime = stages[-1]
    (user,) = runtime.args_of("USER")
    uid, _, gid = user.partition(":")
    assert uid == gid == str(UID)
    assert '--uid "${UID}"' in " ".join(runtime.args_of("RUN"))
    assert f"UID={UID}" in runtime.args_of("ARG")


BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|gcc|g\+\+|cc|make|build-essential|uv|pip install|pip wheel|curl|wget)\b"
)


def test_the_final_stage_installs_nothing_and_copies_only_what_was_built(dockerfile) -> None:
    _, stages = dockerfile
    runtime = stages[-1]
    for command in runtime.args_of("RUN"):
        assert not BUILD_TOOLS.search(command), command
    copies = runtime.args_of("COPY")
    assert copies == [
        "--from=builder /opt/tongxin /opt/tongxin",
        "--from=web /web/node_modules /opt/tongxin/web/node_modules",
        "--from=web /web/dashboard /opt/tongxin/web/dashboard",
    ]
    assert not runtime.args_of("ADD")


def test_the_builder_installs_exactly_the_runtime_lock(dockerfile) -> None:
    _, stages = dockerfile
    installs = [c for c in stages[0].args_of("RUN") if "pip install" in c]
    locked = [c for c in installs if "-r requirements.runtime.lock" in c]
    assert len(locked) == 1 and "--no-deps" in locked[0]
    # The project itself goes in without resolving anything more.
    assert all("--no-deps" in c for c in installs)


def test_state_is_the_only_writable_place_and_the_command_chooses_the_process(
    dockerfile,
) -> None:
    _, stages = dockerfile
    runtime = stages[-1]
    env = " ".join(runtime.args_of("ENV"))
    assert "TONGXIN_STATE_DIR=/var/lib/tongxin" in env
    assert "TONGXIN_HTTP_HOST=0.0.0.0" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert runtime.args_of("ENTRYPOINT") == ['["python", "-m"]']
    (cmd,) = runtime.args_of("CMD")
    assert tuple(json.loads(cmd)) == ("gateway", "serve")
    (healthcheck,) = runtime.args_of("HEALTHCHECK")
    assert healthcheck.endswith('CMD ["tongxin-healthcheck", "http"]')


def test_the_build_context_leaves_tests_and_local_state_out(dockerfile) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "**", "everything is excluded unless listed"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert {"**/tests", "**/__pycache__"} <= {p.rstrip("/") for p in patterns}
    _, stages = dockerfile
    from_context = [c for stage in stages for c in stage.args_of("COPY") if "--from=" not in c]
    for copy in from_context:
        *sources, _ = [word for word in shlex.split(copy) if not word.startswith("--")]
        for source in sources:
            assert source.rstrip("/") in allowed, f"{source} is not in the build context"
            assert (ROOT / source).exists(), source


# -- the runtime lock ----------------------------------------------------------------------


def pins(lock: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.M)
    return {canonicalize_name(name): version for name, version in found}


def runtime_closure() -> set[str]:
    """pyproject's runtime dependencies and theirs, as installed, for this platform."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    environment = default_environment()
    todo = [Requirement(spec) for spec in pyproject["project"]["dependencies"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        for spec in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(spec)
            extras = [""] + sorted(requirement.extras)
            marker = dependency.marker
            if marker is None or any(
                marker.evaluate(environment | {"extra": extra}) for extra in extras
            ):
                todo.append(dependency)
    return names


def test_the_runtime_lock_is_exactly_the_runtime_dependencies() -> None:
    header = RUNTIME_LOCK.read_text(encoding="utf-8").splitlines()[:2]
    assert "--extra" not in " ".join(header), "the runtime lock must not include extras"
    assert set(pins(RUNTIME_LOCK)) == runtime_closure()


def test_the_runtime_lock_pins_what_the_tests_run_against() -> None:
    runtime, tested = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert {name: tested.get(name) for name in runtime} == runtime


# -- the health check the image ships --------------------------------------------------------


def healthcheck(*args: str) -> int:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args], capture_output=True, timeout=30
    ).returncode


@pytest.fixture
def http_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_http_is_healthy_only_on_2xx(http_server: int) -> None:
    assert healthcheck("http", str(http_server)) == 0
    assert healthcheck("http", str(http_server), "/readyz") == 1
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = closed.getsockname()[1]
    assert healthcheck("http", str(nobody)) == 1
    assert healthcheck("nonsense") == 2


def test_healthcheck_tcp_peer_sees_an_open_connection() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert healthcheck("tcp-peer", str(port)) == 1
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = listener.accept()
            with accepted:
                assert healthcheck("tcp-peer", str(port)) == 0


# -- the processes -------------------------------------------------------------------------

# Runs a module's `__main__` with the servers and loops replaced by a record of the call, so
# the command line is parsed and dispatched exactly as in the container, and nothing starts.
PROBE = """
import asyncio, json, runpy, sys
import uvicorn
def started(kind):
    def record(target, *args, **kwargs):
        name = getattr(target, "__qualname__", type(target).__name__)
        if asyncio.iscoroutine(target):
            target.close()
        print(json.dumps([kind, name]))
    return record
uvicorn.run = started("http")
asyncio.run = started("loop")
module, *argv = sys.argv[1:]
sys.argv = [module, *argv]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def run_probe(tmp_path: Path, module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "TONGXIN_STATE_DIR": str(tmp_path),
        "TONGXIN_AUTH_DEV": "true",
        "TONGXIN_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE, module, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("module", "command"), PROCESSES)
def test_every_process_is_a_module_that_accepts_its_command(
    tmp_path: Path, module: str, command: str | None
) -> None:
    assert importlib.util.find_spec(module) is not None
    assert importlib.util.find_spec(f"{module}.__main__") is not None
    result = run_probe(tmp_path, module, *([command] if command else []))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == STARTS_BY_COMMAND[command]


def test_the_platform_starts_what_it_always_did() -> None:
    assert {
        ("services.volunteers", "serve"),
        ("services.volunteers", "relay"),
        ("services.ingest", None),
        ("gateway", "serve"),
        ("gateway", "project"),
        ("gateway", "rebuild"),
    } <= set(PROCESSES)


@pytest.mark.parametrize("module", sorted({m for m, c in PROCESSES if c is not None}))
def test_an_unknown_command_is_refused(tmp_path: Path, module: str) -> None:
    result = run_probe(tmp_path, module, "serv")
    assert result.returncode != 0
    assert '"http"' not in result.stdout and '"loop"' not in result.stdout
