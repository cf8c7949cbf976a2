#!/usr/bin/env bash
# Start the demo: the platform sandbox, then `airflow standalone` with every runbook, on 127.0.0.1:8080.
# Ctrl-C stops Airflow and the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/airflow-env.sh
mkdir -p "$AIRFLOW_HOME"

.venv/bin/python -m sandbox start
set -a; source .sandbox/connections.env; set +a

# Known admin credentials: generated once, kept in AIRFLOW_HOME, printed at every start.
if [ ! -s "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ]; then
  .venv/bin/python - "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" <<'PY'
import json, secrets, sys
with open(sys.argv[1], "w") as handle:
    json.dump({"admin": secrets.token_urlsafe(12)}, handle)
PY
fi
password=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" \
  "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
# The drill answers a DR runbook's approval through the REST API as this user (the drill's account).
AIRFLOW_CONN_NOVACRON_AIRFLOW_API=$(.venv/bin/python - "$AIRFLOW__API__BASE_URL" "$password" <<'PY'
import json, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
print(json.dumps({"conn_type": "http", "schema": url.scheme, "host": url.hostname, "port": url.port,
                  "login": "admin", "password": sys.argv[2]}))
PY
)
export AIRFLOW_CONN_NOVACRON_AIRFLOW_API
cat <<MSG

  NovaCron Runbooks demo
  Airflow UI and REST API: $AIRFLOW__API__BASE_URL   (user: admin   password: $password)
  REST API token:          curl -s -X POST $AIRFLOW__API__BASE_URL/auth/token \\
                             -H 'Content-Type: application/json' -d '{"username":"admin","password":"$password"}'
  Sandbox status:          .venv/bin/python -m sandbox status
  Flip a fault switch:     .venv/bin/python -m sandbox fault error_rate 0.2   (clear: ... fault clear)

MSG
# Airflow runs in its own process group (job control on), so stopping is ours to do in order on Ctrl-C:
# SIGINT to its group (standalone stops its components), then TERM/KILL whatever is left, then the sandbox.
set -m
.venv/bin/airflow standalone &
airflow_group=$!
stop_demo() {
  trap - EXIT INT TERM
  if kill -0 "$airflow_group" 2>/dev/null; then
    kill -INT -- "-$airflow_group" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$airflow_group" 2>/dev/null || break; sleep 1; done
    kill -TERM -- "-$airflow_group" 2>/dev/null && sleep 3
    kill -KILL -- "-$airflow_group" 2>/dev/null || true
  fi
  .venv/bin/python -m sandbox stop
}
trap stop_demo EXIT
trap 'exit 130' INT TERM
wait "$airflow_group"
