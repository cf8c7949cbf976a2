"""Find the Debian-packaged programs the sandbox drives, and say exactly what to install when one is missing.

Everything is looked up on the PATH (``shutil.which``) or through ``pg_config --bindir``, never at a fixed
path, because Debian keeps initdb and pg_ctl off the PATH in a version-specific folder.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.processes import SandboxError

PG_MAJOR = "15"
PG_USER = "postgres"

_PACKAGE_OF = {
    "pgbackrest": "pgbackrest",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
    "prometheus-pushgateway": "prometheus-pushgateway",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "openssl": "openssl",
}
_PG_PROGRAMS = ("initdb", "pg_ctl", "pg_basebackup", "pg_isready", "postgres")


@dataclass(frozen=True)
class Tools:
    """Absolute paths of every program the sandbox runs."""

    pg_bindir: Path
    programs: dict[str, str]

    def pg(self, name: str) -> str:
        return str(self.pg_bindir / name)

    def __getitem__(self, name: str) -> str:
        return self.programs[name]


def _pg_bindir() -> Path | None:
    """Find PostgreSQL 15's programs: ``pg_config --bindir`` when it is 15, else Debian's usual folder."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    # pg_config may belong to libpq-dev of another major; Debian's layout is /usr/lib/postgresql/<major>/bin.
    candidates.append(Path("/usr/lib/postgresql") / PG_MAJOR / "bin")
    for bindir in candidates:
        if all((bindir / prog).exists() for prog in _PG_PROGRAMS):
            return bindir
    return None


@functools.cache
def find_tools() -> Tools:
    """Locate all programs at once, so a fresh machine learns every missing package from one error."""
    missing: list[str] = []
    bindir = _pg_bindir()
    if bindir is None:
        missing.append(f"postgresql-{PG_MAJOR}")
    programs: dict[str, str] = {}
    for prog, package in _PACKAGE_OF.items():
        path = shutil.which(prog)
        if path is None:
            missing.append(package)
        else:
            programs[prog] = path
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            missing.append(f"postgresql-{PG_MAJOR}")
        for helper in ("runuser", "setpriv"):
            found = shutil.which(helper)
            if found is None:
                missing.append("util-linux")
            else:
                programs[helper] = found
    if missing:
        packages = " ".join(dict.fromkeys(missing))
        raise SandboxError(f"missing Debian packages; install them with: apt-get install -y {packages}")
    assert bindir is not None
    return Tools(pg_bindir=bindir, programs=programs)


def as_pg_user(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so it runs as ``postgres`` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        return [find_tools()["runuser"], "-u", PG_USER, "--", *argv]
    return argv


def as_pg_daemon(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so a daemon runs as ``postgres`` in this very process (``setpriv`` execs, no fork).

    Unlike ``runuser``, which stays as the daemon's parent, the pid the sandbox records is the daemon's own.
    """
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_USER)
        ids = [f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups"]
        return [find_tools()["setpriv"], *ids, "--", *argv]
    return argv


def run_pg(argv: list[str], what: str, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL/pgBackRest program as the postgres user; on failure raise with its output."""
    proc = subprocess.run(
        as_pg_user(argv), capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
        raise SandboxError(f"{what} failed (exit {proc.returncode}):\n  " + "\n  ".join(detail))
    return proc.stdout


def chown_pg(path: Path) -> None:
    """Hand ``path`` to the postgres user when we are root; otherwise we already are its owner."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
