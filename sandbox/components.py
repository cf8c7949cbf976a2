"""Start and stop one sandbox component at a time; the orchestrator decides the order.

Components are named as in ``Layout`` ports. ``pgbackrest`` is a step rather than a daemon: it has no pid and
no port, only a repository that must hold a valid stanza and a backup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox import health, hosts, monitoring, pgbackrest, postgres, pycomponents, seed, ssh
from sandbox.processes import PidFile, SandboxError, is_alive, spawn, stop_pid, wait_until

if TYPE_CHECKING:
    from sandbox.layout import Layout

TRANSPORTS = hosts.TRANSPORTS
"""Each host's sshd and pgBackRest TLS server: up before PostgreSQL, which archives through them."""
ORDER = (
    *TRANSPORTS,
    "pg_primary",
    "pgbackrest",
    "pg_replica",
    "k8s",
    "receivers",
    "standin",
    "pg_exporter",
    "alertmanager",
    "pushgateway",
    "statsd_exporter",
    "prometheus",
)
CRITICAL = frozenset({*TRANSPORTS, "pg_primary", "pgbackrest", "pg_replica"})
"""Everything else needs the database: when one of these fails, start stops there."""
PORTLESS = frozenset({"pgbackrest"})
HEALTH_TIMEOUT = 60.0


@dataclass
class StartOptions:
    """What ``start`` was asked for; ``vms=None`` keeps whatever size the database already has."""

    vms: int | None = None
    primary_started: bool = False


def running_pid(layout: Layout, name: str) -> int | None:
    """Return the pid of our running process for ``name`` (``None`` for the portless pgbackrest step)."""
    if name == "pg_primary":
        return postgres.primary(layout).running_pid()
    if name == "pg_replica":
        return postgres.replica(layout).running_pid()
    if name in PORTLESS:
        return None
    return PidFile.of(layout, name).running_pid()


def _start_primary(layout: Layout, options: StartOptions) -> str:
    cluster = postgres.primary(layout)
    steps = []
    if not (cluster.data_dir / "PG_VERSION").exists():
        postgres.init_primary(layout)
        steps.append("initdb")
    else:
        postgres.write_settings(layout, cluster)
    other = postgres.replica(layout)
    if postgres.failed_over(layout) and other.running_pid() is None:
        # a failover made the replica folder the primary: it starts first, so the setup, the seed and
        # pgBackRest's check find a primary, and this folder's cluster follows it as a standby
        postgres.write_settings(layout, other)
        postgres.start(other)
        steps.append("failed over: the replica folder is primary")
    postgres.start(cluster)
    options.primary_started = True
    postgres.setup_database(layout)
    steps.append(ensure_seed(layout, options))
    return ", ".join(steps)


def ensure_seed(layout: Layout, options: StartOptions) -> str:
    """Seed at the requested size; with no size requested, an already seeded database keeps its own."""
    current = seed.seeded_vms(layout)
    if options.vms is None and current is not None:
        return f"seeded with {current} vms"
    return seed.seed(layout, options.vms or seed.SIZES[seed.DEFAULT_SIZE])


def _start_replica(layout: Layout) -> str:
    cluster = postgres.replica(layout)
    made = ""
    if not (cluster.data_dir / "PG_VERSION").exists():
        postgres.init_replica(layout)
        made = "pg_basebackup -R, "
    else:
        postgres.write_settings(layout, cluster)
    postgres.start(cluster)
    wait_until(lambda: health.pg_replica(layout)[0], HEALTH_TIMEOUT, "pg_replica")
    return made + "started"


def _spawn_daemon(layout: Layout, name: str) -> str:
    env = pycomponents.environment()
    if name in pycomponents.MODULES:
        if name == "k8s":
            pycomponents.write_kubeconfig(layout)
        argv = pycomponents.command(layout, name)
    elif name == "pg_exporter":
        argv, extra = monitoring.exporter_command(layout)
        env.update(extra)
    elif name == "alertmanager":
        argv = monitoring.alertmanager_command(layout)
    elif name in TRANSPORTS:
        host = hosts.by_component(name)
        argv = ssh.command(layout, host) if name == host.sshd else pgbackrest.server_command(layout, host)
    elif name == "pushgateway":
        argv = monitoring.pushgateway_command(layout)
    else:
        argv = monitoring.prometheus_command(layout)
    pid = spawn(layout, name, argv, env=env, cwd=layout.root)
    log = layout.log_dir / f"{name}.log"

    def healthy() -> bool:
        if not is_alive(pid):
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise SandboxError(f"{name}: exited during start (log: {log}): " + " | ".join(tail))
        return health.check(layout, name)[0]

    try:
        wait_until(healthy, HEALTH_TIMEOUT, name, interval=0.2)
    except SandboxError as exc:
        stop_pid(pid)
        PidFile.of(layout, name).path.unlink(missing_ok=True)
        raise SandboxError(f"{exc} (log: {log})" if "(log:" not in str(exc) else str(exc)) from None
    return f"started pid {pid}"


def start(layout: Layout, name: str, options: StartOptions) -> str:
    """Start ``name`` (not running yet) and return once it is healthy, describing what it did."""
    if name == "pg_primary":
        return _start_primary(layout, options)
    if name == "pgbackrest":
        return pgbackrest.ensure(layout)
    if name == "pg_replica":
        return _start_replica(layout)
    return _spawn_daemon(layout, name)


def needs_start(layout: Layout, name: str, options: StartOptions) -> bool:
    """Tell whether ``start`` must act: a stopped process; for pgbackrest, a fresh primary or no backup."""
    if name == "pgbackrest":
        return options.primary_started or not pgbackrest.health(layout)[0]
    return running_pid(layout, name) is None


def stop(layout: Layout, name: str) -> bool:
    """Stop ``name`` if it runs; returns whether there was something to stop."""
    if name == "pg_primary":
        return postgres.stop(postgres.primary(layout))
    if name == "pg_replica":
        return postgres.stop(postgres.replica(layout))
    pid = running_pid(layout, name)
    if pid is None:
        return False
    stop_pid(pid)
    PidFile.of(layout, name).path.unlink(missing_ok=True)
    return True
