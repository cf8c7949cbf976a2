# The project's Airflow image: the official image plus the pinned requirements (no install at container start)
# and the runbooks themselves (dags/, plugins/, include/), so one image tag is one reviewed version of every
# runbook. docker-compose.yaml mounts the working tree over these folders for local development; the Helm
# values (include/helm/values-kubernetes-executor.yaml) run the baked folders.
FROM apache/airflow:3.3.2-python3.11

# The tools of the database runbooks, from Debian's packages (the official image is Debian bookworm). Tasks
# reach the database and repository hosts over SSH (paramiko, through the SSH provider) and PostgreSQL over
# TCP; these are for the people and jobs that run beside them in the same image:
#  - pgbackrest: the same version as the hosts' (bookworm's 2.45), for `pgbackrest info`/`verify` against a
#    repository a team keeps beside the workers, and to read a repository host's output the runbooks quote;
#  - postgresql-client-15: psql, pg_dump, pg_basebackup and pg_amcheck (/usr/lib/postgresql/15/bin), the
#    programs the runbooks run on the hosts, for `airflow tasks test` checks from a worker over TCP;
#  - openssh-client: `ssh -o StrictHostKeyChecking=yes` with the pinned known-hosts file, to check by hand
#    what a connection's host_key claims.
USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pgbackrest postgresql-client-15 openssh-client \
 && rm -rf /var/lib/apt/lists/*
USER airflow

COPY requirements.txt constraints.txt /opt/novacron/
RUN pip install --no-cache-dir -r /opt/novacron/requirements.txt -c /opt/novacron/constraints.txt
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include
ENV PYTHONPATH=/opt/airflow/plugins
