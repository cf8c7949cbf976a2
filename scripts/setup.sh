#!/usr/bin/env bash
# Install everything the demo and the tests need on a Debian machine, idempotently: the Debian packages of
# the sandbox (PostgreSQL, pgBackRest, Prometheus, Alertmanager, Pushgateway, postgres exporter, OpenSSH and
# openssl for the hosts' transports), Redis (the Celery broker of the scale-out tests), acl (the unprivileged
# workers' test lets its OS user reach the interpreter, and nothing else) and a virtualenv with the pinned
# Python requirements. Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(postgresql postgresql-contrib pgbackrest prometheus prometheus-alertmanager
              prometheus-postgres-exporter prometheus-pushgateway redis-server openssh-server openssl
              python3-venv make curl acl)
VENV=.venv

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r requirements-dev.txt -c constraints.txt
  echo "$want" > "$stamp"
fi
echo "setup: ready"
