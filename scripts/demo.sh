#!/usr/bin/env bash
# Start the demo: the platform sandbox, then `airflow standalone` with every runbook, on 127.0.0.1:8080.
# Ctrl-C stops Airflow and the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/airflow-env.sh
mkdir -p "$AIRFLOW_HOME"

.venv/bin/python -m sandbox start
trap '.venv/bin/python -m sandbox stop' EXIT
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
cat <<MSG

  NovaCron Runbooks demo
  Airflow UI and REST API: $AIRFLOW__API__BASE_URL   (user: admin   password: $password)
  REST API token:          curl -s -X POST $AIRFLOW__API__BASE_URL/auth/token \\
                             -H 'Content-Type: application/json' -d '{"username":"admin","password":"$password"}'
  Sandbox status:          .venv/bin/python -m sandbox status
  Flip a fault switch:     .venv/bin/python -m sandbox fault error_rate 0.2   (clear: ... fault clear)

MSG
.venv/bin/airflow standalone
