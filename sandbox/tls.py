"""The TLS material of pgBackRest's servers: a CA and one certificate per host, made with the openssl CLI.

Each host's certificate (CN = the host's name, SAN 127.0.0.1) is both its server certificate and its client
certificate: the repository host presents it to each database host's ``pgbackrest server``, and each database
host presents its own to the repository host's when it archives WAL. Each server authorizes clients by CN
(``tls-server-auth``). Generated once, kept across restarts; keys are 0600 and owned by ``postgres``.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from sandbox.hosts import HOSTS
from sandbox.processes import SandboxError
from sandbox.tools import chown_pg, find_tools

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.hosts import Host
    from sandbox.layout import Layout

DAYS = "3650"
# pgBackRest 2.45 matches the host it dialled against the DNS names only, so the address is a DNS name too
EXTENSIONS = (
    "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\n"
    "extendedKeyUsage=serverAuth,clientAuth\n"
    "keyUsage=digitalSignature,keyEncipherment\n"
)


def tls_dir(layout: Layout) -> Path:
    return layout.pg_dir / "tls"


def ca_file(layout: Layout) -> Path:
    return tls_dir(layout) / "ca.crt"


def cert_file(layout: Layout, host: Host) -> Path:
    return tls_dir(layout) / f"{host.name}.crt"


def key_file(layout: Layout, host: Host) -> Path:
    return tls_dir(layout) / f"{host.name}.key"


def _openssl(*args: str, what: str) -> None:
    done = subprocess.run(
        [find_tools()["openssl"], *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise SandboxError(f"openssl {what} failed: {done.stderr.strip()[-500:]}")


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """Make a self-signed CA in ``folder``; return its certificate and key."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", DAYS,
        "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert), what=f"CA {name}",
    )  # fmt: skip
    return cert, key


def sign(folder: Path, name: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """Make a key and a certificate for CN ``name`` signed by ``ca``, usable as server and as client."""
    cert, key, request, extensions = (
        folder / f"{name}{suffix}" for suffix in (".crt", ".key", ".csr", ".ext")
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(request), what=f"request {name}",
    )  # fmt: skip
    extensions.write_text(EXTENSIONS)
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-days", DAYS, "-sha256", "-extfile", str(extensions), "-out", str(cert), what=f"sign {name}",
    )  # fmt: skip
    request.unlink()
    extensions.unlink()
    return cert, key


def prepare(layout: Layout) -> None:
    """Make the CA and each host's certificate once; hand every file to ``postgres``."""
    folder = tls_dir(layout)
    folder.mkdir(parents=True, exist_ok=True)
    if not ca_file(layout).exists():
        make_ca(folder, "ca")
    ca = (ca_file(layout), folder / "ca.key")
    for host in HOSTS:
        if not cert_file(layout, host).exists():
            sign(folder, host.name, ca)
    for path in [folder, *folder.iterdir()]:
        chown_pg(path)
        path.chmod(0o700 if path.is_dir() else 0o600 if path.suffix == ".key" else 0o644)


def foreign_certificate(layout: Layout, name: str) -> tuple[Path, Path]:
    """Make a certificate for CN ``name`` from a CA the servers do not trust (a wrong client)."""
    folder = tls_dir(layout) / "foreign"
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_ca(folder, "foreign-ca")
    cert, key = sign(folder, name, ca)
    for path in (folder, cert, key):
        chown_pg(path)
    key.chmod(0o600)
    return cert, key
