"""The deploy files' per-process blocks, rendered from the platform manifest.

docker-compose.yml and the Helm values files are hand-written around marked regions; each
region (between a `# >>> generated` and a `# <<< generated` comment) is rendered here from
contracts/platform.json, the NATS users and a few per-kind defaults (resources, probes,
replicas). `python -m tongxin.deploygen` (`make generate`) rewrites the regions; a test
fails when a committed file differs from what this module renders.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts.platform import Platform, Process, load_platform
from tongxin import natsauth

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
HELM = ROOT / "deploy" / "helm"
VALUES = HELM / "tongxin" / "values.yaml"
VALUES_DEV = HELM / "values-dev.yaml"
VALUES_PRODUCTION = HELM / "values-production.yaml"

BEGIN = "# >>> generated from contracts/platform.json by `make generate`: edit that, not this"
END = "# <<< generated"
_REGION = re.compile(
    rf"^(?P<indent>[ ]*){re.escape(BEGIN)} \((?P<name>[a-z-]+)\)\n(?P<body>.*?)^(?P=indent){END}\n",
    re.M | re.S,
)


class GenerateError(ValueError):
    """A file lacks a region the generator fills, or names one it does not know."""


# -- per-kind defaults -------------------------------------------------------------------
@dataclass(frozen=True)
class Sizing:
    """What a process of a kind asks of a cluster, and how far it scales out."""

    requests: str  # "{cpu: …, memory: …}" as it reads in the values file
    limits: str
    max_replicas: int


SIZING = {
    "service": Sizing("{cpu: 100m, memory: 192Mi}", '{cpu: "1", memory: 512Mi}', 6),
    "relay": Sizing("{cpu: 50m, memory: 128Mi}", "{cpu: 500m, memory: 384Mi}", 1),
    "ingest": Sizing("{cpu: 100m, memory: 128Mi}", '{cpu: "1", memory: 384Mi}', 6),
    "gateway": Sizing("{cpu: 200m, memory: 256Mi}", '{cpu: "2", memory: 768Mi}', 8),
}
COMPONENT = {"service": "api", "ingest": "ingest", "gateway": "gateway"}
# `python -m <module> <command>` per kind: the ingest has one thing to do.
COMMAND = {"service": "serve", "ingest": None, "gateway": "serve"}
RELAY_COMMAND = "relay"
RELAY_PORT = 8080  # the relay's probes and lag only; never published
MIN_REPLICAS_SCALED = 2
PROBES = (
    "    probes:\n"
    "      liveness: {initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 3, "
    "failureThreshold: 3}\n"
    "      readiness: {initialDelaySeconds: 2, periodSeconds: 5, timeoutSeconds: 3, "
    "failureThreshold: 3}\n"
)


def relay_name(process: Process) -> str:
    return f"{process.name}-relay"


def cipher_key_env(process: Process) -> str:
    """The compose variable holding a service store's key, e.g. TONGXIN_CIPHER_KEY_VOLUNTEERS.

    One per store, not one for the platform: a leaked key then opens one service's events,
    and a process without a store has nothing to decrypt, so it is given none.
    """
    return f"TONGXIN_CIPHER_KEY_{process.name.upper().replace('-', '_')}"


def cipher_secret_key(process: Process) -> str:
    """The key of a service store's AES key in the chart's cipher Secret."""
    return f"cipher-key-{process.name}"


def command_of(process: Process) -> list[str]:
    """`python -m` arguments of a process as a container runs it."""
    command = COMMAND[process.kind]
    return [process.module, *([command] if command else [])]


def relay_command_of(process: Process) -> list[str]:
    return [process.module, RELAY_COMMAND]


def service_urls(platform: Platform) -> str:
    """TONGXIN_SERVICE_URLS of the gateway where each service is reachable by its name."""
    return ",".join(f"{s.name}=http://{s.name}:{s.port}" for s in platform.services())


def forwarded_to(platform: Platform) -> list[str]:
    """The services the gateway's features forward commands to, in manifest order."""
    wanted = {f.service for f in platform.gateway().features if f.service}
    return [s.name for s in platform.services() if s.name in wanted]


def _password(user: str) -> str:
    env = natsauth.password_env(user)
    return f"${{{env}:-dev-only-{user}}}"


def _json_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


# -- docker-compose.yml --------------------------------------------------------------------
def compose_nats_passwords(platform: Platform) -> str:
    users = natsauth.users(platform=platform)
    return "".join(f"      {u.password_env}: {_password(u.name)}\n" for u in users)


def compose_databases(platform: Platform) -> str:
    return f"      TONGXIN_DATABASES: {' '.join(platform.databases())}\n"


def _compose_healthcheck(port: int, path: str, *, relay: bool = False) -> str:
    timing = (
        "      interval: 10s\n      timeout: 3s\n      retries: 6\n"
        if relay
        else "      interval: 5s\n      timeout: 4s\n      retries: 12\n"
    )
    return (
        "    healthcheck:\n"
        f'      test: ["CMD", "tongxin-healthcheck", "http", "{port}", "{path}"]\n'
        f"{timing}"
        "      start_period: 20s\n"
    )


def _compose_nats_env(process: Process) -> str:
    return (
        f"      TONGXIN_NATS_USER: {process.nats_user}\n"
        f"      TONGXIN_NATS_PASSWORD: {_password(process.nats_user)}\n"
    )


def _compose_cipher_env(process: Process) -> str:
    # The API and its relay open the same store, so both read the service's one key.
    return f"      TONGXIN_CIPHER_KEY: ${{{cipher_key_env(process)}:-}}\n"


def _compose_service(process: Process) -> str:
    relay = ""
    if process.relay:
        relay = (
            f"      # The relay runs as its own container ({relay_name(process)}): exactly one "
            "per stream.\n"
            '      TONGXIN_RELAY_IN_PROCESS: "false"\n'
        )
    return (
        f"  {process.name}:\n"
        "    <<: *tongxin\n"
        f"    command: {_json_list(command_of(process))}\n"
        "    environment:\n"
        "      <<: *tongxin-env\n"
        f'      TONGXIN_HTTP_PORT: "{process.port}"\n'
        f"      TONGXIN_POSTGRES_DBNAME: {process.database}\n"
        f"{_compose_cipher_env(process)}"
        f"{relay}"
        f"{_compose_nats_env(process)}"
        "    ports:\n"
        f'      - "127.0.0.1:{process.port}:{process.port}"\n'
        f"{_compose_healthcheck(process.port, '/readyz')}"
        "    depends_on:\n"
        "      <<: *tongxin-depends\n"
        "      postgres: { condition: service_healthy }\n"
    )


def _compose_relay(process: Process) -> str:
    return (
        f"  {relay_name(process)}:\n"
        "    <<: *tongxin\n"
        f"    command: {_json_list(relay_command_of(process))}\n"
        "    # Never scale this one: the relay chains its publishes and assumes it is alone.\n"
        "    deploy:\n"
        "      replicas: 1\n"
        "      resources:\n"
        '        limits: { cpus: "1.0", memory: 512M }\n'
        "        reservations: { memory: 128M }\n"
        "    environment:\n"
        "      <<: *tongxin-env\n"
        f"      TONGXIN_POSTGRES_DBNAME: {process.database}\n"
        f"{_compose_cipher_env(process)}"
        f"{_compose_nats_env(process)}"
        "      # Probes and lag only (/healthz, /readyz, /metrics); not published.\n"
        "      TONGXIN_HTTP_HOST: 0.0.0.0\n"
        f'      TONGXIN_RELAY_HTTP_PORT: "{RELAY_PORT}"\n'
        f"{_compose_healthcheck(RELAY_PORT, '/healthz', relay=True)}"
        "    depends_on:\n"
        "      <<: *tongxin-depends\n"
        "      postgres: { condition: service_healthy }\n"
        "      # The API creates the event store's tables; the relay starts once they exist.\n"
        f"      {process.name}: {{ condition: service_healthy }}\n"
    )


def _compose_ingest(process: Process) -> str:
    return (
        f"  {process.name}:\n"
        "    <<: *tongxin\n"
        f"    command: {_json_list(command_of(process))}\n"
        "    environment:\n"
        "      <<: *tongxin-env\n"
        f'      TONGXIN_HTTP_PORT: "{process.port}"\n'
        f"{_compose_nats_env(process)}"
        "    ports:\n"
        f'      - "127.0.0.1:{process.port}:{process.port}"\n'
        f"{_compose_healthcheck(process.port, '/readyz')}"
        "    depends_on:\n"
        "      <<: *tongxin-depends\n"
    )


def _compose_gateway(process: Process, platform: Platform) -> str:
    waits = "".join(
        f"      {name}: {{ condition: service_healthy }}\n" for name in forwarded_to(platform)
    )
    return (
        "  # The gateway runs its projector in-process: GraphQL subscriptions are fed by the\n"
        "  # projector's change notifications, and its SQLite read model (volume gateway-data)"
        " is\n"
        "  # its own. `gateway project` with TONGXIN_GATEWAY_PROJECTOR=false on a shared volume"
        " is\n"
        "  # the split form, without live subscriptions.\n"
        f"  {process.name}:\n"
        "    <<: *tongxin\n"
        f"    command: {_json_list(command_of(process))}\n"
        "    volumes:\n"
        "      - dev-keys:/var/lib/tongxin/keys:ro\n"
        "      - gateway-data:/var/lib/tongxin/data\n"
        "    environment:\n"
        "      <<: *tongxin-env\n"
        f'      TONGXIN_HTTP_PORT: "{process.port}"\n'
        "      TONGXIN_GATEWAY_INSTANCE: compose\n"
        '      TONGXIN_GATEWAY_PROJECTOR: "true"\n'
        f"      TONGXIN_SERVICE_URLS: {service_urls(platform)}\n"
        f"{_compose_nats_env(process)}"
        "    # The platform's front door: the one port published on every interface.\n"
        "    ports:\n"
        f'      - "{process.port}:{process.port}"\n'
        f"{_compose_healthcheck(process.port, '/readyz')}"
        "    depends_on:\n"
        "      <<: *tongxin-depends\n"
        f"{waits}"
    )


def compose_processes(platform: Platform) -> str:
    blocks = []
    for process in platform.processes:
        if process.kind == "service":
            blocks.append(_compose_service(process))
            if process.relay:
                blocks.append(_compose_relay(process))
        elif process.kind == "ingest":
            blocks.append(_compose_ingest(process))
        else:
            blocks.append(_compose_gateway(process, platform))
    return "\n".join(blocks)


# -- Helm values ---------------------------------------------------------------------------
def _helm_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _helm_autoscaling(sizing: Sizing) -> str:
    return (
        "    autoscaling:\n"
        "      enabled: false\n"
        f"      minReplicas: {MIN_REPLICAS_SCALED}\n"
        f"      maxReplicas: {sizing.max_replicas}\n"
        "      targetCPUUtilizationPercentage: 70\n"
    )


def _helm_block(
    name: str,
    *,
    comment: str = "",
    component: str,
    command: list[str],
    port: int,
    sizing: Sizing,
    env: str,
    field_env: str = "    fieldEnv: {}\n",
    autoscaling: str,
    pdb: str,
    strategy: str,
    database: str | None,
    cipher_key: str | None,
    nats_user: str,
    public: str,
    callers: str,
) -> str:
    return (
        f"  {name}:\n"
        f"{comment}"
        f"    component: {component}\n"
        f"    command: {_helm_list(['python', '-m', *command])}\n"
        "    args: []\n"
        f"{_port_line(port, component)}"
        "    replicas: 1\n"
        "    resources:\n"
        f"      requests: {sizing.requests}\n"
        f"      limits: {sizing.limits}\n"
        f"{env}"
        f"{field_env}"
        f"{PROBES}"
        f"{autoscaling}"
        f"{pdb}"
        f"    strategy: {strategy}\n"
        f"    database: {database or 'null'}\n"
        f"    cipherKey: {cipher_key or 'null'}\n"
        f"    natsUser: {nats_user}\n"
        f"{public}"
        f"{callers}"
    )


def _port_line(port: int, component: str) -> str:
    if component == "relay":
        return (
            "    # Only /healthz, /readyz (its lag, read by `tongxin ops status`) and /metrics.\n"
            f"    port: {port}\n"
        )
    return f"    port: {port}\n"


def _helm_service(process: Process, platform: Platform) -> str:
    if process.relay:
        env = (
            "    env:\n"
            f"      # The relay runs as {relay_name(process)}, so the API can be scaled out.\n"
            '      TONGXIN_RELAY_IN_PROCESS: "false"\n'
        )
    else:
        env = "    env: {}\n"
    callers = [platform.gateway().name] if process.name in forwarded_to(platform) else []
    return _helm_block(
        process.name,
        component="api",
        command=command_of(process),
        port=process.port,
        sizing=SIZING["service"],
        env=env,
        autoscaling=_helm_autoscaling(SIZING["service"]),
        pdb="    pdb:\n      minAvailable: 1\n",
        strategy="RollingUpdate",
        database=process.database,
        cipher_key=cipher_secret_key(process),
        nats_user=process.nats_user,
        public="    public: false\n",
        callers="    # Services whose pods may call this one's HTTP port.\n"
        f"    callers: {_helm_list(callers)}\n",
    )


def _helm_relay(process: Process) -> str:
    return _helm_block(
        relay_name(process),
        comment=(
            "    # The outbox relay chains every publish to the previous one with\n"
            "    # Nats-Expected-Last-Msg-Id: it must be the stream's only publisher. Hence"
            " exactly one\n"
            "    # replica, no autoscaling, and Recreate (a rolling update would briefly run"
            " two). Its\n"
            "    # PDB allows the eviction of that one pod (maxUnavailable 1) so node drains"
            " are never\n"
            "    # blocked; while it is away commands still commit, and it catches up on"
            " return.\n"
        ),
        component="relay",
        command=relay_command_of(process),
        port=RELAY_PORT,
        sizing=SIZING["relay"],
        env='    env:\n      TONGXIN_RELAY_IN_PROCESS: "false"\n',
        autoscaling="    autoscaling:\n      enabled: false\n",
        pdb="    pdb:\n      maxUnavailable: 1\n",
        strategy="Recreate",
        database=process.database,
        cipher_key=cipher_secret_key(process),
        nats_user=process.nats_user,
        public="    public: false\n",
        callers="    callers: []\n",
    )


def _helm_ingest(process: Process) -> str:
    return _helm_block(
        process.name,
        component="ingest",
        command=command_of(process),
        port=process.port,
        sizing=SIZING["ingest"],
        env="    env: {}\n",
        autoscaling=_helm_autoscaling(SIZING["ingest"]),
        pdb="    pdb:\n      minAvailable: 1\n",
        strategy="RollingUpdate",
        database=None,
        cipher_key=None,
        nats_user=process.nats_user,
        public="    # Department systems post CloudEvents here from outside the namespace.\n"
        "    public: true\n",
        callers="    callers: []\n",
    )


def _helm_gateway(process: Process, platform: Platform) -> str:
    return _helm_block(
        process.name,
        component="gateway",
        command=command_of(process),
        port=process.port,
        sizing=SIZING["gateway"],
        env="    env:\n"
        f"      TONGXIN_SERVICE_URLS: {service_urls(platform)}\n"
        '      TONGXIN_GATEWAY_INTROSPECTION: "true"\n',
        field_env="    # Each replica keeps its own read model, fed by a durable consumer named"
        " after the pod.\n"
        "    fieldEnv:\n"
        "      TONGXIN_GATEWAY_INSTANCE: metadata.name\n",
        autoscaling=_helm_autoscaling(SIZING["gateway"]),
        pdb="    pdb:\n      minAvailable: 1\n",
        strategy="RollingUpdate",
        database=None,
        cipher_key=None,
        nats_user=process.nats_user,
        public="    public: true\n",
        callers="    callers: []\n",
    )


def helm_services(platform: Platform) -> str:
    parts = []
    for process in platform.processes:
        if process.kind == "service":
            parts.append(_helm_service(process, platform))
            if process.relay:
                parts.append(_helm_relay(process))
        elif process.kind == "ingest":
            parts.append(_helm_ingest(process))
        else:
            parts.append(_helm_gateway(process, platform))
    return "services:\n" + "\n".join(parts)


def helm_production_services(platform: Platform) -> str:
    """Production scales out every process but the relays (one each, by design)."""
    lines = ["services:\n"]
    for process in platform.processes:
        sizing = SIZING["service" if process.kind == "service" else process.kind]
        lines += [
            f"  {process.name}:\n",
            f"    replicas: {MIN_REPLICAS_SCALED}\n",
            f"    autoscaling: {{enabled: true, minReplicas: {MIN_REPLICAS_SCALED}, "
            f"maxReplicas: {sizing.max_replicas}, targetCPUUtilizationPercentage: 70}}\n",
            "    pdb: {minAvailable: 1}\n",
        ]
        if process.kind == "gateway":
            lines += ["    env:\n", '      TONGXIN_GATEWAY_INTROSPECTION: "false"\n']
    return "".join(lines)


def helm_dev_services(platform: Platform) -> str:
    gateway = platform.gateway().name
    return f'services:\n  {gateway}:\n    env:\n      TONGXIN_GATEWAY_INTROSPECTION: "true"\n'


# -- regions -------------------------------------------------------------------------------
Renderer = Callable[[Platform], str]

# Which region of which file each renderer fills.
REGIONS: dict[Path, dict[str, Renderer]] = {
    COMPOSE: {
        "nats-passwords": compose_nats_passwords,
        "databases": compose_databases,
        "processes": compose_processes,
    },
    VALUES: {"services": helm_services},
    VALUES_DEV: {"services": helm_dev_services},
    VALUES_PRODUCTION: {"services": helm_production_services},
}


def render(text: str, renderers: dict[str, Renderer], platform: Platform) -> str:
    """`text` with each generated region rendered again."""
    found: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name, indent = match["name"], match["indent"]
        if name not in renderers:
            raise GenerateError(f"no renderer for the region {name!r}")
        found.append(name)
        return f"{indent}{BEGIN} ({name})\n{renderers[name](platform)}{indent}{END}\n"

    rendered = _REGION.sub(fill, text)
    missing = set(renderers) - set(found)
    if missing:
        raise GenerateError(f"regions missing: {sorted(missing)}")
    return rendered


def render_file(path: Path, platform: Platform | None = None) -> str:
    return render(path.read_text(encoding="utf-8"), REGIONS[path], platform or load_platform())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path in REGIONS:
        rendered = render_file(path)
        if rendered == path.read_text(encoding="utf-8"):
            continue
        if args.check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(rendered, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"out of date (run `make generate`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
