# The project's Airflow image: the official image plus the pinned requirements (no install at container start).
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/novacron/
RUN pip install --no-cache-dir -r /opt/novacron/requirements.txt -c /opt/novacron/constraints.txt
ENV PYTHONPATH=/opt/airflow/plugins
