# The project's Airflow image: the official image plus the pinned requirements (no install at container start)
# and the runbooks themselves (dags/, plugins/, include/), so one image tag is one reviewed version of every
# runbook. docker-compose.yaml mounts the working tree over these folders for local development; the Helm
# values (include/helm/values-kubernetes-executor.yaml) run the baked folders.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/novacron/
RUN pip install --no-cache-dir -r /opt/novacron/requirements.txt -c /opt/novacron/constraints.txt
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include
ENV PYTHONPATH=/opt/airflow/plugins
