"""Airflow's distributed path on this machine: CeleryExecutor, Redis broker, PostgreSQL metadata database.

What ``docker-compose.yaml`` runs in containers, started here as plain processes on 127.0.0.1 with their own
ports and folder: Debian's ``redis-server`` (no persistence) as the broker, a metadata database on the
sandbox's PostgreSQL (``sandbox.metadb``), then ``airflow api-server``, ``scheduler``, ``dag-processor``,
``triggerer`` and two ``airflow celery worker`` processes sharing one JWT secret and Fernet key, with the
project's DAGs and plugins and the sandbox's connections. Each runs in its own process group, so stopping
the stack stops every process it started and nothing else.

``python -m sandbox.celery_stack`` runs it against the sandbox started by ``python -m sandbox start``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from cryptography.fernet import Fernet

from sandbox import metadb
from sandbox.aio import free_port
from sandbox.airflow import AirflowServer
from sandbox.airflow_settings import execution_api_env
from sandbox.connections import read_env_file
from sandbox.layout import HOST, REPO_ROOT, Layout, default_layout
from sandbox.processes import SandboxError, wait_until

START_TIMEOUT = 300.0
WORKER_READY = "ready."
"""What a Celery worker logs once it consumes from its queues (``celery@<name> ready.``)."""


@dataclass
class CeleryStack:
    """The running stack: its REST client, its processes by name, and how long the start-up took."""

    server: AirflowServer
    layout: Layout
    meta: metadb.MetaDatabase
    workers: list[str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.server.home

    def log(self, name: str) -> Path:
        """Return the log file of one component (``redis``, ``scheduler``, ``celery-1``, ...)."""
        return self.home / "stack" / f"{name}.log"

    def stop(self) -> None:
        """SIGTERM every process group (workers first, Redis last), SIGKILL what is left once the leaders
        exited or after a minute, then drop the metadata database and remove the folder."""
        running = [proc for proc in reversed(self.processes.values()) if proc.poll() is None]
        for proc in running:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for proc in running:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=30)
        for proc in running:  # a pool child or task process that outlived its group's leader
            _signal_group(proc, signal.SIGKILL)
        metadb.drop(self.layout, self.meta)
        shutil.rmtree(self.home, ignore_errors=True)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stack_env(
    layout: Layout, home: Path, meta: metadb.MetaDatabase, ports: tuple[int, int], dags_folder: Path
) -> dict[str, str]:
    """Build the environment every Airflow component of the stack shares (``ports``: Redis, API server)."""
    redis_port, api_port = ports
    return {
        **os.environ,
        **read_env_file(layout),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta.sqlalchemy_url,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "5",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{HOST}:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": meta.celery_result_backend,
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://{HOST}:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{api_port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # the DAG files do not change while the stack runs (see sandbox.airflow.start_standalone)
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        **execution_api_env(),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "NOVACRON_REPORTS_URL": f"file://{home / 'runbook_reports'}",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def worker_env(env: dict[str, str], name: str, home: Path | None = None) -> dict[str, str]:
    """One worker's own settings: its log server port, and a task hostname that names the worker.

    ``home`` is the worker's own HOME when it runs as another OS user (caches, ``~/.ssh``: never root's).
    """
    own = {
        **env,
        "NOVACRON_CELERY_WORKER": name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "sandbox.worker_name.hostname",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env["PYTHONPATH"]]),
    }
    if home is not None:
        own.update(HOME=str(home), USER=home.name, LOGNAME=home.name)
    return own


def as_worker_user(argv: list[str], user: str | None) -> list[str]:
    """Prefix ``argv`` so it runs as ``user`` with the environment kept (util-linux ``setpriv``).

    The stack's other components stay root's: only the workers run the tasks, and the point is to prove the
    tasks need nothing of the machine but the connections.
    """
    if user is None:
        return argv
    entry = pwd.getpwnam(user)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxError("setpriv (util-linux) is needed to run the Celery workers as another user")
    ids = [f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"]
    return [setpriv, *ids, "--", *argv]


def _spawn(stack: CeleryStack, name: str, argv: list[str], env: dict[str, str]) -> None:
    """Start one component in its own process group, its output in ``stack/<name>.log``."""
    with stack.log(name).open("wb") as log:
        stack.processes[name] = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _start_redis(stack: CeleryStack, port: int) -> None:
    """Debian's redis-server on its own port, in memory only (no RDB snapshots, no AOF)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SandboxError("missing Debian package; install it with: apt-get install -y redis-server")
    data = stack.home / "redis"
    data.mkdir()
    argv = [binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no"]
    _spawn(stack, "redis", [*argv, "--dir", str(data), "--daemonize", "no"], dict(os.environ))
    client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    wait_until(answers, 30, "redis-server answering PING")


def _migrate(stack: CeleryStack, env: dict[str, str]) -> None:
    """``airflow db migrate`` on the fresh PostgreSQL database; its output goes to ``stack/migrate.log``."""
    with stack.log("migrate").open("wb") as log:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=START_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise SandboxError(f"airflow db migrate failed:\n{stack.log('migrate').read_text()[-3000:]}")


def _hand_to_worker_user(stack: CeleryStack, user: str) -> Path:
    """Give the worker user what a worker writes (task logs, run reports) and a HOME; nothing else."""
    entry = pwd.getpwnam(user)
    stack.home.chmod(0o755)
    home = stack.home / "worker-home" / user
    for folder in (stack.home / "logs", stack.home / "runbook_reports", home):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return home


def _start_airflow(
    stack: CeleryStack, env: dict[str, str], concurrency: int, worker_user: str | None = None
) -> None:
    """Start the API server, scheduler, DAG processor and triggerer, then the Celery workers."""
    airflow = [sys.executable, "-m", "airflow"]
    for command in ("api-server", "scheduler", "dag-processor", "triggerer"):
        _spawn(stack, command, [*airflow, command], env)
    home = _hand_to_worker_user(stack, worker_user) if worker_user else None
    for name in stack.workers:
        argv = [
            *airflow,
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            str(concurrency),
        ]
        argv = as_worker_user([*argv, "--queues", "default"], worker_user)
        _spawn(stack, name, argv, worker_env(env, name, home))


def _ready(stack: CeleryStack, wait_for_dag: str) -> bool:
    """Every component up: the health endpoint's three, the DAG served, each worker consuming."""
    for name, proc in stack.processes.items():
        if proc.poll() is not None:
            raise SandboxError(
                f"{name} exited with {proc.returncode}:\n{stack.log(name).read_text()[-3000:]}"
            )
    workers_up = all(WORKER_READY in stack.log(name).read_text(errors="replace") for name in stack.workers)
    return workers_up and stack.server.ready(wait_for_dag)


def start_celery_stack(
    layout: Layout,
    *,
    wait_for_dag: str,
    dags_folder: Path = REPO_ROOT / "dags",
    workers: int = 2,
    concurrency: int = 2,
    api_port: int | None = None,
    worker_user: str | None = None,
    metadata_on: Layout | None = None,
    extra_env: dict[str, str] | None = None,
) -> CeleryStack:
    """Start the whole stack against ``layout``'s sandbox and wait until ``wait_for_dag`` is served.

    ``worker_user`` runs the Celery workers (and so every task) as that OS user instead of ours.
    ``metadata_on`` puts Airflow's metadata database on another sandbox's PostgreSQL: runbooks that fail
    over or restore ``layout``'s database must not take their own Airflow down with it. ``extra_env`` adds
    to (or overrides) every component's settings. On any failure everything started so far is stopped and
    removed before the error is raised.
    """
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="novacron-celery-"))
    (home / "stack").mkdir()
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(f'{{"admin": "{password}"}}')
    api_port = api_port or free_port()
    server = AirflowServer(f"http://{HOST}:{api_port}", password, home)
    try:
        meta = metadb.create(metadata_on or layout)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    stack = CeleryStack(server, metadata_on or layout, meta, [f"celery-{n}" for n in range(1, workers + 1)])
    try:
        redis_port = free_port()
        _start_redis(stack, redis_port)
        env = stack_env(layout, home, stack.meta, (redis_port, api_port), dags_folder)
        env.update(extra_env or {})
        _migrate(stack, env)
        stack.timings["migrated"] = time.monotonic() - started
        _start_airflow(stack, env, concurrency, worker_user)
        wait_until(lambda: _ready(stack, wait_for_dag), START_TIMEOUT, "the Celery stack ready", interval=2)
    except BaseException:
        stack.stop()
        raise
    stack.timings["ready"] = time.monotonic() - started
    return stack


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run the stack against the running sandbox until Ctrl-C (DAGs start paused)."""
    layout = default_layout()
    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell's background job starts with it ignored
        signal.signal(sig, _interrupt)
    stack = start_celery_stack(layout, wait_for_dag="deployment", api_port=layout.port("airflow"))
    print(f"Celery stack ready in {stack.timings['ready']:.0f} s: {stack.server.base_url}")
    print(f"  user admin, password {stack.server.password}; component logs in {stack.home / 'stack'}")
    print("  Ctrl-C stops the stack and drops its metadata database")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
