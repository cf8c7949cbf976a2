"""The local platform sandbox: real PostgreSQL, pgBackRest, Prometheus and Alertmanager, an emulated
Kubernetes API, a NovaCron API stand-in and Slack/PagerDuty receivers, all on 127.0.0.1."""
